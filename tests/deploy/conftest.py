"""Fixtures of the deployment checks: the tools, installed once, and rendered manifests.

The tools (helm, kubeconform, actionlint, starlark, terraform, hadolint, and the Kubernetes,
Dapr, Strimzi and Prometheus Operator schemas) come from infra/k8s-validate/install-tools.sh,
which caches them under $TASKSTREAM_CACHE/tools: the first run takes minutes, later ones none.
YAML is parsed by the tools' own Python (infra/k8s-validate/yaml2json.py), so the project's
environment needs no YAML library.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "infra" / "helm" / "taskstream"
VALIDATE = REPO / "infra" / "k8s-validate"
STRIMZI = REPO / "infra" / "strimzi"
ENVIRONMENTS = ("minikube", "cloud")
RELEASE = "taskstream"
NAMESPACE = "taskstream"
APP_IDS = {"gateway", "recurrence", "notifications", "audit"}
# Who consumes which topic: the contract's table of events on the wire. The apps declare these
# subscriptions themselves (GET /dapr/subscribe); the chart renders no Subscription.
SUBSCRIBERS = {
    "task-events": {"gateway", "recurrence", "notifications", "audit"},
    "reminders": {"notifications"},
    "notifications": {"audit", "gateway"},
}

Manifest = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker of these tests (`-m "not deploy"` skips them)."""
    config.addinivalue_line(
        "markers", "deploy: static checks of images, chart, Kafka, Tilt, Terraform and CI"
    )


@dataclass(frozen=True)
class Tools:
    """Where install-tools.sh put the tools and schemas."""

    bin: Path
    k8s_schemas: Path
    k8s_version: str
    crd_schemas: Path

    def run(
        self, name: str, *args: str, stdin: str | None = None, cwd: Path = REPO
    ) -> subprocess.CompletedProcess[str]:
        """Run tool `name` with `args`; the caller checks the result."""
        env = dict(os.environ, TF_CLI_CONFIG_FILE=str(self.bin.parent / "terraformrc"))
        return subprocess.run(
            [str(self.bin / name), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=300,
            check=False,
        )

    def ok(self, name: str, *args: str, stdin: str | None = None, cwd: Path = REPO) -> str:
        """Run tool `name` and return its output, failing the test on a non-zero exit."""
        done = self.run(name, *args, stdin=stdin, cwd=cwd)
        assert done.returncode == 0, (
            f"{name} {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def yaml_docs(self, *paths: Path, text: str | None = None) -> list[Manifest]:
        """The YAML documents of `paths` (each with `__file__`), or of `text`."""
        script = str(VALIDATE / "yaml2json.py")
        out = self.ok("tools-python", script, *map(str, paths), stdin=text)
        docs: list[Manifest] = json.loads(out)
        return docs

    def kubeconform(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """kubeconform, strict, offline: Kubernetes schemas then CRD schemas, nothing skipped."""
        return self.run(
            "kubeconform",
            "-strict",
            "-summary",
            "-kubernetes-version",
            self.k8s_version,
            "-schema-location",
            str(self.k8s_schemas)
            + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
            + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            str(self.crd_schemas)
            + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            *args,
            stdin=stdin,
        )


@pytest.fixture(scope="session")
def tools() -> Tools:
    """The checking tools, installed (or found cached) by install-tools.sh once per session."""
    done = subprocess.run(
        ["bash", str(VALIDATE / "install-tools.sh")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"install-tools.sh failed:\n{done.stdout}\n{done.stderr}")
    values = dict(
        line.split("=", 1)
        for line in done.stdout.splitlines()
        if line[:1].isupper() and "=" in line
    )
    found = Tools(
        bin=Path(values["TOOLS_BIN"]),
        k8s_schemas=Path(values["K8S_SCHEMAS"]),
        k8s_version=values["K8S_VERSION"],
        crd_schemas=Path(values["CRD_SCHEMAS"]),
    )
    (found.bin.parent / "terraformrc").touch()
    return found


def helm_template(tools: Tools, environment: str, *extra: str) -> str:
    """The chart rendered with values-<environment>.yaml (and `extra` helm arguments)."""
    return tools.ok(
        "helm",
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        tools.k8s_version,
        "--values",
        str(CHART / f"values-{environment}.yaml"),
        *extra,
    )


@pytest.fixture(scope="session")
def rendered_text(tools: Tools) -> dict[str, str]:
    """helm template output per environment."""
    return {env: helm_template(tools, env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def rendered(tools: Tools, rendered_text: dict[str, str]) -> dict[str, list[Manifest]]:
    """Rendered manifests per environment, parsed."""
    return {env: tools.yaml_docs(text=text) for env, text in rendered_text.items()}


@pytest.fixture(params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    """Each values file in turn."""
    name: str = request.param
    return name


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    """The documents of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    """The one document of `kind` called `name`."""
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(doc: Manifest) -> Manifest:
    """The pod spec of a workload."""
    spec: Manifest = doc["spec"]["template"]["spec"]
    return spec


def pod_labels(doc: Manifest) -> dict[str, str]:
    """The labels of a workload's pods."""
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions In) selects `labels`."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        operator, key = expr["operator"], expr["key"]
        if operator == "In" and labels.get(key) not in expr["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expr["values"]:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True
