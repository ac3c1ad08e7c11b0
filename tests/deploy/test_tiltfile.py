"""The Tiltfile, evaluated by a Starlark interpreter (go.starlark.net) with Tilt's builtins stubbed.

Tilt itself is not installed: it is a large Go program with a cluster and Docker behind it. The
stubs in tilt_stubs.star record every call; the tests check what a `tilt up` would set up. Two
rewrites make the file plain Starlark: `config.x(...)` becomes `config_x(...)` (no struct type in
plain Starlark), and the one `load('ext://restart_process', ...)` is dropped (the stubs define
`docker_build_with_restart`); any other load() is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import APP_IDS, REPO, Tools, helm_template, of_kind, pod_spec

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

STUBS = Path(__file__).with_name("tilt_stubs.star")
ALLOWED_LOADS = {"load('ext://restart_process', 'docker_build_with_restart')"}

Call = dict[str, Any]


def evaluate(
    tools: Tools, tmp_path: Path, args: dict[str, str], context: str = "minikube"
) -> list[Call]:
    """Run the Tiltfile with `args` (as `tilt up -- --k=v`) against kube context `context`;
    return the recorded calls."""
    source = (REPO / "Tiltfile").read_text()
    loads = re.findall(r"^load\(.*\)$", source, flags=re.MULTILINE)
    assert set(loads) <= ALLOWED_LOADS, loads
    for line in loads:
        source = source.replace(line, "")
    source = re.sub(r"\bconfig\.(\w+)\(", r"config_\1(", source)
    program = tmp_path / "Tiltfile.star"
    program.write_text(
        f"TILT_ARGS = {json.dumps(args)}\nTILT_CONTEXT = {json.dumps(context)}\n"
        + STUBS.read_text()
        + "\n# ---- Tiltfile ----\n"
        + source
        + "\nprint('CALLS=' + json.encode(CALLS))\n"
    )
    done = tools.run("starlark", "-globalreassign", "-recursion", str(program), cwd=REPO)
    assert done.returncode == 0, done.stderr  # print() and errors go to stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("CALLS=")]
    calls: list[Call] = json.loads(line[len("CALLS=") :])
    return calls


def calls_of(calls: list[Call], fn: str) -> list[Call]:
    """The recorded calls of one builtin."""
    return [c for c in calls if c["fn"] == fn]


def test_cluster_mode_builds_live_updates_and_deploys_the_chart(
    tools: Tools, tmp_path: Path
) -> None:
    calls = evaluate(tools, tmp_path, {})
    builds = {c["args"][0]: c["kwargs"] for c in calls_of(calls, "docker_build_with_restart")}
    assert set(builds) == {f"docker.io/taskstream/taskstream-{s}" for s in APP_IDS}
    for ref, build in builds.items():
        assert build["dockerfile"] == "docker/Dockerfile"
        assert build["build_args"]["APP_UID"] == "10001"
        synced = {step["sync"][0] for step in build["live_update"] if "sync" in step}
        assert {"taskstream", "gateway", "workers", "graphql_schema"} <= synced, ref
        assert any("fall_back_on" in step for step in build["live_update"])
        assert build["entrypoint"][0] == "taskstream"
    assert "web/dist" in {
        s["sync"][0]
        for s in builds["docker.io/taskstream/taskstream-gateway"]["live_update"]
        if "sync" in s
    }

    (helm,) = calls_of(calls, "helm")
    assert helm["args"] == ["infra/helm/taskstream"]
    assert "infra/helm/taskstream/values-minikube.yaml" in helm["kwargs"]["values"]
    assert "devMode=true" in helm["kwargs"]["set"]

    local = {c["args"][0]: c["kwargs"] for c in calls_of(calls, "local_resource")}
    assert "strimzi-kafka-operator" in local["strimzi-operator"]["cmd"]
    # The User Operator writes the services' Kafka Secrets in the release's namespace.
    assert "watchNamespaces={taskstream}" in local["strimzi-operator"]["cmd"]
    assert "infra/strimzi/minikube" in local["kafka"]["cmd"]
    assert "dapr/dapr" in local["dapr-control-plane"]["cmd"]
    assert "global.mtls.enabled=true" in local["dapr-control-plane"]["cmd"]
    # Pod Security `restricted` refuses an injected daprd that keeps its capabilities.
    assert "sidecarDropALLCapabilities=true" in local["dapr-control-plane"]["cmd"]
    assert {"unit-tests", "deploy-checks"} <= set(local)
    assert local["unit-tests"]["labels"] == ["tests"]

    resources = {c["kwargs"]["new_name"]: c for c in calls_of(calls, "k8s_resource")}
    assert {"gateway", "recurrence", "notifications", "audit", "migrate", "postgresql"} <= set(
        resources
    )
    gateway = resources["gateway"]["kwargs"]
    assert gateway["port_forwards"][0]["local"] == 8000
    assert "migrate" in gateway["resource_deps"]
    for call in calls_of(calls, "k8s_resource") + calls_of(calls, "local_resource"):
        assert call["kwargs"].get("labels"), call  # every resource is grouped in the UI
    # Every resource named in a dependency exists.
    names = set(local) | set(resources)
    for call in calls_of(calls, "k8s_resource") + calls_of(calls, "local_resource"):
        assert set(call["kwargs"].get("resource_deps", [])) <= names, call
    assert calls_of(calls, "allow_k8s_contexts")


def test_local_mode_runs_stack_up_without_a_cluster(tools: Tools, tmp_path: Path) -> None:
    calls = evaluate(tools, tmp_path, {"mode": "local"})
    assert not calls_of(calls, "docker_build_with_restart")
    assert not calls_of(calls, "helm") and not calls_of(calls, "k8s_yaml")
    local = {c["args"][0]: c["kwargs"] for c in calls_of(calls, "local_resource")}
    assert "taskstream stack up" in local["stack"]["serve_cmd"]
    assert local["stack"]["readiness_probe"]["http_get"]["path"] == "/readyz"


def test_unknown_mode_fails(tools: Tools, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="--mode must be cluster or local"):
        evaluate(tools, tmp_path, {"mode": "swarm"})


def builds_of(calls: list[Call]) -> dict[str, dict[str, Any]]:
    """The image builds by service name."""
    prefix = "docker.io/taskstream/taskstream-"
    return {
        c["args"][0].removeprefix(prefix): c["kwargs"]
        for c in calls_of(calls, "docker_build_with_restart")
    }


def tilt_chart(tools: Tools, calls: list[Call]) -> list[dict[str, Any]]:
    """The chart as the Tiltfile's helm() call renders it."""
    (helm,) = calls_of(calls, "helm")
    args = [a for v in helm["kwargs"]["values"] for a in ("--values", str(REPO / v))]
    args += [a for s in helm["kwargs"]["set"] for a in ("--set", s)]
    chart = str(REPO / helm["args"][0])
    return tools.yaml_docs(text=tools.ok("helm", "template", helm["kwargs"]["name"], chart, *args))


def test_only_the_gateway_image_is_rebuilt_for_a_web_change(tools: Tools, tmp_path: Path) -> None:
    builds = builds_of(evaluate(tools, tmp_path, {}))
    for name, build in builds.items():
        has_web = any(path == "web" or path.startswith("web/") for path in build["only"])
        assert has_web == (name == "gateway"), name
        fall_back = {p for s in build["live_update"] for p in s.get("fall_back_on", [])}
        assert ("web/package-lock.json" in fall_back) == (name == "gateway"), name


def test_the_restart_file_is_writable_and_not_hidden_in_the_dev_pods(
    tools: Tools, tmp_path: Path
) -> None:
    """docker_build_with_restart's wrapper watches a file baked into the image; a volume
    mounted over its folder hides it ("No regular files to watch") and the container exits."""
    calls = evaluate(tools, tmp_path, {})
    docs = tilt_chart(tools, calls)
    for name, build in builds_of(calls).items():
        restart_file = Path(build["restart_file"])
        # The image's writable folder for the app user (docker/Dockerfile: HOME=/tmp).
        assert restart_file.parent == Path("/tmp"), name
        (deployment,) = [
            d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == f"taskstream-{name}"
        ]
        (container,) = pod_spec(deployment)["containers"]
        mounts = [Path(m["mountPath"]) for m in container.get("volumeMounts", [])]
        hidden = [m for m in mounts if m == restart_file.parent or m in restart_file.parents]
        assert not hidden, (name, hidden)
        assert container["securityContext"]["readOnlyRootFilesystem"] is False


def test_real_images_keep_a_writable_tmp_on_a_read_only_root(tools: Tools) -> None:
    docs = tools.yaml_docs(text=helm_template(tools, "minikube"))
    for deployment in of_kind(docs, "Deployment"):
        if deployment["metadata"]["name"] == "taskstream-postgresql":
            continue
        (container,) = pod_spec(deployment)["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_the_namespace_exists_before_anything_is_applied(tools: Tools, tmp_path: Path) -> None:
    """Tilt applies the chart's ungrouped objects (ConfigMap, NetworkPolicies, Ingress) with no
    dependencies at all, so the namespace is made while the Tiltfile loads."""
    calls = evaluate(tools, tmp_path, {"namespace": "dev-ns"})
    fns = [c["fn"] for c in calls]
    made = [
        i
        for i, c in enumerate(calls)
        if c["fn"] == "local" and "kubectl create namespace dev-ns" in c["args"][0]
    ]
    # local() runs while the Tiltfile loads, before Tilt starts any resource.
    assert made and made[0] < fns.index("k8s_yaml")
    assert "pod-security.kubernetes.io/enforce=restricted" in calls[made[0]]["args"][0]
    (helm,) = calls_of(calls, "helm")
    assert helm["kwargs"]["namespace"] == "dev-ns"


def test_nothing_is_created_on_a_cluster_that_is_not_for_development(
    tools: Tools, tmp_path: Path
) -> None:
    calls = evaluate(tools, tmp_path, {}, context="production-eu")
    assert not calls_of(calls, "local")


def test_every_object_a_resource_names_is_rendered(tools: Tools, tmp_path: Path) -> None:
    """Tilt refuses to start when a k8s_resource names an object the chart does not render."""
    calls = evaluate(tools, tmp_path, {})
    docs = tilt_chart(tools, calls)
    rendered = {f"{d['metadata']['name']}:{d['kind'].lower()}" for d in docs}
    named = [o for c in calls_of(calls, "k8s_resource") for o in c["kwargs"].get("objects", [])]
    assert named and set(named) <= rendered, set(named) - rendered
