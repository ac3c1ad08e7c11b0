"""The images for real: built from docker/Dockerfile with podman and run with the chart's settings.

The bases are made here from Debian packages (docker/base/make-bases.sh: debootstrap), because no
container registry is reachable on these machines; a build argument picks them. podman, buildah,
runc and debootstrap come from Debian's packages when missing (as the browser tests' chromium).
Then the gateway image and a worker image are built (podman's layer cache makes a rerun with
unchanged sources quick) and started as the chart starts them: uid 10001, read-only root with a
tmpfs on /tmp, every capability dropped, no privilege escalation, runc with explicit rlimits
(runc refuses podman's defaults here). They reach an embedded PostgreSQL on the host; the
migration runs from the gateway image as the chart's Job does, then /readyz must answer 200.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.deploy.conftest import REPO

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

PYTHON_BASE = "localhost/taskstream-base-python:bookworm"
NODE_BASE = "localhost/taskstream-base-node:bookworm"
PACKAGES = ("podman", "buildah", "runc", "debootstrap", "uidmap")
# runc here refuses podman's default rlimits ("error setting rlimits"): set them explicitly.
LIMITS = ("--runtime", "runc", "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=8192:8192")
# What templates/_helpers.tpl and deployments.yaml give each container.
CHART_SECURITY = (
    "--user",
    "10001:10001",
    "--read-only",
    "--tmpfs",
    "/tmp:rw,size=256m,mode=1777",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


def ensure_podman() -> None:
    """podman and friends from Debian's packages when missing; skip only when that fails."""
    if all(shutil.which(tool) for tool in ("podman", "runc", "debootstrap")):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("podman/runc/debootstrap missing and apt-get cannot install them (not root)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", *PACKAGES], capture_output=True, text=True, env=env
    )
    if done.returncode != 0 or not shutil.which("podman"):
        pytest.skip(f"apt-get install {' '.join(PACKAGES)} failed: {done.stderr[-500:]}")


def podman(*args: str, timeout: float = 1800) -> str:
    """Run podman; the test fails with its output when it exits non-zero."""
    done = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"podman {' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def build(tag: str, target: str, *build_args: str) -> str:
    """docker/Dockerfile's `target` on the Debian-made bases; returns the image id."""
    args = [
        f"--build-arg={a}"
        for a in (f"PYTHON_IMAGE={PYTHON_BASE}", f"NODE_IMAGE={NODE_BASE}", *build_args)
    ]
    podman(
        "build",
        "--network=host",
        *LIMITS,
        *args,
        "--target",
        target,
        "--tag",
        tag,
        "--file",
        str(REPO / "docker" / "Dockerfile"),
        str(REPO),
    )
    return podman("image", "inspect", "--format", "{{.Id}}", tag).strip()


@dataclass(frozen=True)
class Images:
    """The two images under test."""

    gateway: str
    audit: str


@pytest.fixture(scope="session")
def images() -> Images:
    """The bases (made once, cached in podman's store) and the images (layer-cached)."""
    ensure_podman()
    done = subprocess.run(
        [str(REPO / "docker" / "base" / "make-bases.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Images(
        gateway=build("localhost/taskstream-gateway:test", "gateway"),
        audit=build("localhost/taskstream-audit:test", "worker", "WORKER=audit"),
    )


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Running:
    """A started container and the port its service listens on."""

    name: str
    port: int


@pytest.fixture
def containers() -> Iterator[list[str]]:
    """Names of the containers a test starts; removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        subprocess.run(["podman", "rm", "--force", "--time", "5", name], capture_output=True)


def chart_env(database_url: str, port: int, **extra: str) -> list[str]:
    """The ConfigMap's settings that apply without a Dapr sidecar, plus the secrets (and
    `extra` TASKSTREAM_* settings, named in lower case without the prefix)."""
    env = {
        "TASKSTREAM_ENV": "production",
        "TASKSTREAM_HOST": "127.0.0.1",
        "TASKSTREAM_PORT": str(port),
        "TASKSTREAM_METRICS_HOST": "127.0.0.1",
        "TASKSTREAM_METRICS_PORT": str(free_port()),
        "TASKSTREAM_DATA_DIR": "/tmp/taskstream",
        "TASKSTREAM_LOG_JSON": "true",
        "TASKSTREAM_BROADCAST_URL": "database",
        "TASKSTREAM_SECRET_STORE": "",
        "DATABASE_URL": database_url,
        "TASKSTREAM_JWT_SECRET": "j" * 48,
    } | {f"TASKSTREAM_{key.upper()}": value for key, value in extra.items()}
    return [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]


def start(
    containers: list[str], image: str, database_url: str, *command: str, **extra: str
) -> Running:
    """Start `image` detached with the chart's security settings on the host's network."""
    name = f"taskstream-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    containers.append(name)
    podman(
        "run", "--detach", "--name", name, "--network=host", *LIMITS, *CHART_SECURITY,
        *chart_env(database_url, port, **extra), image, *command,
    )  # fmt: skip
    return Running(name, port)


def wait_ready(running: Running, path: str, *, seconds: float = 120) -> httpx.Response:
    """Poll the service until `path` answers 200, or fail with the container's log."""
    deadline = time.monotonic() + seconds
    last: str = "no answer"
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", running.name).strip()
        if state != "running":
            break
        try:
            answer = httpx.get(f"http://127.0.0.1:{running.port}{path}", timeout=2)
            if answer.status_code == 200:
                return answer
            last = f"{answer.status_code} {answer.text}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.5)  # polling a readiness endpoint, as the kubelet's probe does
    logs = subprocess.run(["podman", "logs", running.name], capture_output=True, text=True)
    pytest.fail(
        f"{running.name} not ready ({last}, {state}):\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}"
    )


def test_the_images_run_with_the_charts_settings(
    images: Images, database_url: str, containers: list[str]
) -> None:
    """Migrate with the gateway image (the chart's Job), then the gateway and the audit worker
    serve /readyz as uid 10001 on a read-only root with no capabilities."""
    migrate = podman(
        "run", "--rm", "--network=host", *LIMITS, *CHART_SECURITY,
        *chart_env(database_url, free_port()), images.gateway, "migrate",
    )  # fmt: skip
    assert "Traceback" not in migrate
    gateway = start(containers, images.gateway, database_url)
    assert wait_ready(gateway, "/readyz").json() == {"status": "ready"}
    page = httpx.get(f"http://127.0.0.1:{gateway.port}/", timeout=5)
    assert page.status_code == 200 and '<div id="root">' in page.text  # the built web app
    audit = start(containers, images.audit, database_url)
    wait_ready(audit, "/readyz")
    for running in (gateway, audit):
        assert podman("exec", running.name, "id", "-u").strip() == "10001"
        wrote = subprocess.run(
            ["podman", "exec", running.name, "touch", "/app/probe"], capture_output=True
        )
        assert wrote.returncode != 0  # read-only root
        podman("exec", running.name, "touch", "/tmp/probe")  # the tmpfs is writable
        caps = podman("exec", running.name, "grep", "CapEff", "/proc/self/status")
        assert caps.split()[-1] == "0000000000000000"


def test_the_gateway_image_runs_its_registered_documents_and_refuses_others(
    images: Images, database_url: str, containers: list[str]
) -> None:
    """The web app's trusted-documents manifest is in the gateway image and read: with
    TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS_ONLY (the production option) the gateway runs a
    registered document sent by its id alone, no text, and refuses a document that is not
    registered. Were the file missing from the image, the gateway would not start in this mode
    (graphql_schema/persisted.py), and a registered id would be PERSISTED_QUERY_NOT_FOUND."""
    manifest = json.loads((REPO / "web" / "src" / "gql" / "trusted-documents.json").read_text())
    sign_up = min(h for h, text in manifest.items() if text.startswith("mutation SignUp("))
    podman(
        "run", "--rm", "--network=host", *LIMITS, *CHART_SECURITY,
        *chart_env(database_url, free_port()), images.gateway, "migrate",
    )  # fmt: skip
    gateway = start(containers, images.gateway, database_url, graphql_trusted_documents_only="true")
    wait_ready(gateway, "/readyz")
    url = f"http://127.0.0.1:{gateway.port}/graphql"
    email = f"trusted-{uuid.uuid4().hex[:12]}@example.com"
    by_id = httpx.post(
        url,
        json={
            "operationName": "SignUp",
            "variables": {"email": email, "password": "trusted-documents-check"},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sign_up}},
        },
        timeout=10,
    )
    assert by_id.status_code == 200, by_id.text
    body = by_id.json()
    assert not body.get("errors"), body
    assert body["data"]["signUp"]["token"] and body["data"]["signUp"]["user"]["email"] == email
    not_registered = f'mutation {{ signUp(email: "other-{email}", password: "x") {{ token }} }}'
    unregistered = httpx.post(url, json={"query": not_registered}, timeout=10)
    refused = unregistered.json()
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"], refused
    assert not refused.get("data"), refused

    # The control: the same image with the manifest's directory hidden refuses to start.
    hidden = subprocess.run(
        [
            "podman", "run", "--rm", "--network=host", *LIMITS, *CHART_SECURITY,
            # notmpcopyup: podman would copy the image's files into the tmpfs otherwise.
            "--tmpfs", "/app/web/src/gql:rw,size=1m,notmpcopyup",
            *chart_env(database_url, free_port(), graphql_trusted_documents_only="true"),
            images.gateway,
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert hidden.returncode != 0, hidden.stdout[-2000:]
    assert "trusted-documents.json" in hidden.stdout + hidden.stderr, hidden.stderr[-2000:]
