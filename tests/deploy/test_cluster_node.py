"""The chart's pods on a real node: a cluster from `make cluster-up` (infra/local/kube.sh).

That cluster takes minutes to make (images, import, install), so these tests do not make one:
they check the cluster named by TASKSTREAM_CLUSTER_DIR and are skipped, naming the command, when
it is unset. `make test-cluster-node` brings the cluster up and runs them. What the cluster lacks
here (Dapr and Strimzi control planes, DNS, kube-proxy) is in docs/deploy/minikube.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.conftest import APP_IDS, NAMESPACE, RELEASE

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

CACHE = Path(os.environ.get("TASKSTREAM_CACHE", Path.home() / ".cache" / "taskstream"))
KUBECTL = CACHE / "kubernetes-1.34.4" / "bin" / "kubectl"  # what infra/local/kube.sh builds
CHART_UID = "10001"  # templates/_helpers.tpl's runAsUser


@pytest.fixture(scope="module")
def kubeconfig() -> Path:
    """The running cluster's kubeconfig."""
    directory = os.environ.get("TASKSTREAM_CLUSTER_DIR")
    if not directory:
        pytest.skip("TASKSTREAM_CLUSTER_DIR is unset: `make test-cluster-node` makes the cluster")
    path = Path(directory) / "kubeconfig"
    assert path.is_file(), f"{path} missing: is the cluster up (make cluster-up)?"
    return path


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """kubectl `args` in the release's namespace."""
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def app_pods(kubeconfig: Path) -> list[dict[str, Any]]:
    """The running pods of the four services."""
    out = kubectl(
        kubeconfig,
        "get",
        "pods",
        "--selector",
        "app.kubernetes.io/component in (gateway,worker)",
        "--field-selector",
        "status.phase=Running",
        "--output",
        "json",
    ).stdout
    pods: list[dict[str, Any]] = json.loads(out)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_the_migration_ran_and_every_service_is_available(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "wait", "--for=condition=complete", "--timeout=300s", "job", "--all")
    for app in sorted(APP_IDS):
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=available",
            "--timeout=300s",
            f"deployment/{RELEASE}-{app}",
        )
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in app_pods(kubeconfig)} == (
        APP_IDS
    )


def test_the_pods_run_as_the_chart_says(kubeconfig: Path) -> None:
    """Non-root uid, read-only root filesystem, a writable /tmp, no capabilities."""
    for pod in app_pods(kubeconfig):
        name = pod["metadata"]["name"]
        assert kubectl(kubeconfig, "exec", name, "--", "id", "-u").stdout.strip() == CHART_UID
        denied = kubectl(kubeconfig, "exec", name, "--", "touch", "/app/probe", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, name
        kubectl(kubeconfig, "exec", name, "--", "touch", "/tmp/probe")
        caps = kubectl(kubeconfig, "exec", name, "--", "grep", "CapEff", "/proc/self/status")
        assert caps.stdout.split()[-1] == "0000000000000000", name


def test_the_gateway_answers_ready_from_its_pod(kubeconfig: Path) -> None:
    (gateway,) = [
        p
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] == "gateway"
    ]
    response = httpx.get(f"http://{gateway['status']['podIP']}:8000/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_a_deleted_pod_is_replaced_and_ready_again(kubeconfig: Path) -> None:
    """The controller manager, the scheduler and the kubelet at work."""
    selector = "app.kubernetes.io/name=recurrence"
    before = {p["metadata"]["name"] for p in app_pods(kubeconfig)}
    kubectl(kubeconfig, "delete", "pod", "--selector", selector, "--wait=true")
    kubectl(kubeconfig, "rollout", "status", f"deployment/{RELEASE}-recurrence", "--timeout=180s")
    after = {p["metadata"]["name"] for p in app_pods(kubeconfig)}
    replaced = after - before
    assert len(replaced) == 1 and all("recurrence" in name for name in replaced)
