"""The chart against a real Kubernetes API server: server-side validation and admission.

kubeconform checks each manifest against a schema; a real kube-apiserver also runs the API's
own validation (a volumeMount naming no volume, duplicate ports, immutable fields, quantities)
and admission (Pod Security `restricted` on the namespace dev-secrets.sh labels, the Dapr,
Strimzi and Prometheus Operator CRDs' structural schemas with defaulting and pruning).
infra/local/kube.sh starts etcd and a kube-apiserver built from k8s.io/kubernetes on the Go
module proxy, on loopback with its own PKI, for this module only.

Building Kubernetes takes 10-20 minutes on two cores, so `make test` never does it: these tests
are skipped, naming the command, until `make cluster-build` has built the binaries once;
`make test-cluster` builds (cached) and runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    CHART,
    ENVIRONMENTS,
    NAMESPACE,
    RELEASE,
    REPO,
    STRIMZI,
    Manifest,
    Tools,
    of_kind,
    pod_spec,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(900)]

KUBE = REPO / "infra" / "local" / "kube.sh"
KUBE_VERSION = "v1.34.4"  # the k8s.io/kubernetes version pinned in infra/local/kube/go.mod
KAFKA_NAMESPACE = "kafka"  # where docs/deploy/minikube.md applies infra/strimzi/<environment>


@dataclass(frozen=True)
class Cluster:
    """A running kube-apiserver and the kubectl built beside it."""

    kubeconfig: Path
    kubectl: Path

    def env(self) -> dict[str, str]:
        """The environment for helm, kubectl and dev-secrets.sh: this cluster, this kubectl."""
        return dict(
            os.environ,
            KUBECONFIG=str(self.kubeconfig),
            PATH=f"{self.kubectl.parent}{os.pathsep}{os.environ['PATH']}",
        )

    def command(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`argv` (helm, a script) against this cluster; the caller checks the result."""
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=300,
            check=False,
        )

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl `args` against this cluster; the caller checks the result."""
        return self.command(str(self.kubectl), *args, stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubectl `args`, failing the test on a non-zero exit."""
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done


def kube(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """infra/local/kube.sh `args`."""
    return subprocess.run(
        ["bash", str(KUBE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """etcd + kube-apiserver for this module, with the CRDs the chart uses; stopped after it."""
    built = kube("built")
    if built.returncode != 0:
        pytest.skip(
            f"{built.stdout.strip()}: `make cluster-build` (infra/local/kube.sh build) builds "
            "it once (about 10 min on 2 cores), `make test-cluster` runs these tests"
        )
    state = tmp_path_factory.mktemp("kube")
    started = kube("up", str(state))
    try:
        assert started.returncode == 0, f"kube.sh up failed\n{started.stdout}\n{started.stderr}"
        values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
        crds = kube("crds", str(state), timeout=1800)
        assert crds.returncode == 0, f"kube.sh crds failed\n{crds.stdout}\n{crds.stderr}"
        found = Cluster(kubeconfig=Path(values["KUBECONFIG"]), kubectl=Path(values["KUBECTL"]))
        # The namespaces as a development install makes them: dev-secrets.sh labels the
        # release's for Pod Security `restricted` and creates the Secrets the chart names.
        secrets = found.command("bash", str(REPO / "infra" / "helm" / "dev-secrets.sh"), NAMESPACE)
        assert secrets.returncode == 0, f"dev-secrets.sh\n{secrets.stdout}\n{secrets.stderr}"
        found.ok("create", "namespace", KAFKA_NAMESPACE)
        # Not `apply --namespace`: that refuses the objects the chart puts in Kafka's namespace.
        found.ok("config", "set-context", "--current", "--namespace", NAMESPACE)
        yield found
    finally:
        kube("down", str(state))


def helm_dry_run_server(tools: Tools, cluster: Cluster, environment: str) -> list[str]:
    """`helm install --dry-run=server` of the chart: its manifests, hooks included."""
    done = cluster.command(
        str(tools.bin / "helm"),
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--values",
        str(CHART / f"values-{environment}.yaml"),
        "--dry-run=server",
        "--output",
        "json",
    )
    assert done.returncode == 0, f"helm install --dry-run=server\n{done.stdout}\n{done.stderr}"
    release = json.loads(done.stdout)
    manifests: list[str] = [release["manifest"]]
    manifests += [hook["manifest"] for hook in release.get("hooks") or []]
    return manifests


def server_dry_run(cluster: Cluster, text: str) -> subprocess.CompletedProcess[str]:
    """`kubectl apply --dry-run=server` of `text`: validation and admission, nothing stored.
    Objects that name no namespace go to the context's, the release's (as helm installs them)."""
    return cluster.run("apply", "--dry-run=server", "-f", "-", stdin=text)


def test_the_api_server_is_the_pinned_kubernetes(cluster: Cluster) -> None:
    version = json.loads(cluster.ok("version", "--output", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBE_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBE_VERSION


def test_the_crds_the_chart_uses_are_served(cluster: Cluster) -> None:
    resources = set(cluster.ok("api-resources", "--output", "name").stdout.split())
    for name in (
        "components.dapr.io",
        "configurations.dapr.io",
        "resiliencies.dapr.io",
        "kafkas.kafka.strimzi.io",
        "kafkatopics.kafka.strimzi.io",
        "kafkausers.kafka.strimzi.io",
        "servicemonitors.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "externalsecrets.external-secrets.io",
        "clustersecretstores.external-secrets.io",
    ):
        assert name in resources


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_chart_passes_server_side_validation_and_admission(
    tools: Tools, cluster: Cluster, environment: str
) -> None:
    """helm checks the chart's kubeVersion against the server; every object, hooks included,
    passes the server's validation and admission with no warning (Pod Security would warn)."""
    for text in helm_dry_run_server(tools, cluster, environment):
        done = server_dry_run(cluster, text)
        assert done.returncode == 0, f"{environment}: rejected\n{done.stdout}\n{done.stderr}"
        assert "Warning" not in done.stderr, f"{environment}: warnings\n{done.stderr}"
        assert "(server dry run)" in done.stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_strimzi_manifests_pass_server_side_validation(
    cluster: Cluster, environment: str
) -> None:
    directory = STRIMZI / environment
    done = cluster.run(
        "apply", "--dry-run=server", "--namespace", KAFKA_NAMESPACE, "-f", str(directory)
    )
    assert done.returncode == 0, f"{directory}: rejected\n{done.stdout}\n{done.stderr}"
    assert "Warning" not in done.stderr, f"{directory}: warnings\n{done.stderr}"


def test_the_secret_store_passes_server_side_validation(cluster: Cluster) -> None:
    """infra/external-secrets (the ClusterSecretStore values-cloud.yaml's ExternalSecrets read)."""
    directory = REPO / "infra" / "external-secrets"
    done = cluster.run("apply", "--dry-run=server", "-f", str(directory))
    assert done.returncode == 0, f"{directory}: rejected\n{done.stdout}\n{done.stderr}"
    assert "Warning" not in done.stderr, f"{directory}: warnings\n{done.stderr}"
    assert "clustersecretstore.external-secrets.io/taskstream created (server dry run)" in (
        done.stdout
    )


def test_the_server_rejects_what_kubeconform_accepts(
    tools: Tools, cluster: Cluster, rendered: dict[str, list[Manifest]]
) -> None:
    """The reason for this module: a volumeMount naming no volume is schema-valid (kubeconform
    passes it) and the API server refuses it; a privileged container draws Pod Security's
    warning in the release's namespace."""
    deployment = json.loads(json.dumps(of_kind(rendered["minikube"], "Deployment")[0]))
    deployment.pop("__file__", None)
    container = pod_spec(deployment)["containers"][0]
    container.setdefault("volumeMounts", []).append({"name": "no-such-volume", "mountPath": "/x"})
    text = json.dumps(deployment)

    offline = tools.kubeconform(stdin=text)
    assert offline.returncode == 0, f"kubeconform\n{offline.stdout}\n{offline.stderr}"
    refused = server_dry_run(cluster, text)
    assert refused.returncode != 0
    assert 'volumeMounts[1].name: Not found: "no-such-volume"' in refused.stderr, refused.stderr

    container["volumeMounts"].pop()
    container["securityContext"] = {"privileged": True}
    warned = server_dry_run(cluster, json.dumps(deployment))
    assert warned.returncode == 0, warned.stderr
    assert "would violate PodSecurity" in warned.stderr
