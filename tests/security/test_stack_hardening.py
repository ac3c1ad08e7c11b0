"""`stack up` where its mechanisms differ from `up`: Dapr's state store reaches the password-only
PostgreSQL, a second stack on the directory refuses without touching the first, and every
service's /metrics is on a loopback port of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.e2e.test_stack_up import STACK_UP, StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the module."""
    running = StackProcess(tmp_path_factory.mktemp("stack") / "data")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


def test_a_second_stack_on_the_directory_refuses_and_leaves_the_first_alone(
    stack: StackProcess,
) -> None:
    pids = (stack.data_dir / "run" / "pids.json").read_text()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    second = subprocess.run(
        [*STACK_UP, "--port", "0", "--data-dir", str(stack.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert second.returncode == 1
    assert f"in use by process {stack.process.pid}" in second.stderr, second.stderr
    assert "stack up" in second.stderr
    # Nothing of the first run was stopped, moved or forgotten.
    assert "stopped what a previous run left" not in second.stdout
    assert (stack.data_dir / "run" / "pids.json").read_text() == pids
    assert stack.process.poll() is None
    assert httpx.get(f"{stack.url}/readyz", timeout=10).status_code == 200
    signed = httpx.post(
        f"{stack.url}/graphql",
        json={
            "query": 'mutation { signUp(email: "second@example.com", password: "long enough") '
            "{ token } }"
        },
        timeout=30,
    ).json()
    assert "errors" not in signed, signed


async def test_its_postgresql_wants_the_password(stack: StackProcess) -> None:
    lines = (stack.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
    port = int(lines[3])
    with pytest.raises(
        (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    ):
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/taskstream", timeout=10)
    password = (stack.data_dir / "secrets" / "postgres-password").read_text().strip()
    connection = await asyncpg.connect(
        f"postgresql://postgres:{password}@127.0.0.1:{port}/taskstream", timeout=10
    )
    try:
        # Dapr's state store (through the sidecars, with the password) made its tables.
        assert await connection.fetchval("SELECT to_regclass('public.dapr_metadata') IS NOT NULL")
    finally:
        await connection.close()


def test_metrics_are_on_loopback_ports_of_their_own(stack: StackProcess) -> None:
    httpx.post(f"{stack.url}/graphql", json={"query": "{ __typename }"}, timeout=30)
    public = httpx.get(f"{stack.url}/metrics", timeout=10)
    assert "taskstream_http_requests_total" not in public.text
    for name, service in stack.description()["services"].items():
        assert service["metricsPort"] != service["appPort"], name
        app_port = httpx.get(f"http://127.0.0.1:{service['appPort']}/metrics", timeout=10)
        # (A gateway serves the web app's page for unknown paths when it is built.)
        assert "python_info" not in app_port.text, name
        scraped = httpx.get(f"http://127.0.0.1:{service['metricsPort']}/metrics", timeout=10)
        assert scraped.status_code == 200 and "python_info" in scraped.text, name


def test_sigterm_still_stops_it(tmp_path: Path, stack: StackProcess) -> None:
    # Last in the module: the stack stops cleanly with its lock held to the end.
    assert stack.stop(signal.SIGTERM) == 0
    assert "Taskstream stopped" in stack.text()
    assert not (stack.data_dir / "run" / "pids.json").exists()
