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

from tests.deploy.conftest import APP_IDS, REPO, Tools

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

STUBS = Path(__file__).with_name("tilt_stubs.star")
ALLOWED_LOADS = {"load('ext://restart_process', 'docker_build_with_restart')"}

Call = dict[str, Any]


def evaluate(tools: Tools, tmp_path: Path, args: dict[str, str]) -> list[Call]:
    """Run the Tiltfile with `args` (as `tilt up -- --k=v`); return the recorded calls."""
    source = (REPO / "Tiltfile").read_text()
    loads = re.findall(r"^load\(.*\)$", source, flags=re.MULTILINE)
    assert set(loads) <= ALLOWED_LOADS, loads
    for line in loads:
        source = source.replace(line, "")
    source = re.sub(r"\bconfig\.(\w+)\(", r"config_\1(", source)
    program = tmp_path / "Tiltfile.star"
    program.write_text(
        f"TILT_ARGS = {json.dumps(args)}\n"
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
    assert "infra/strimzi/minikube" in local["kafka"]["cmd"]
    assert "dapr/dapr" in local["dapr-control-plane"]["cmd"]
    assert "global.mtls.enabled=true" in local["dapr-control-plane"]["cmd"]
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
