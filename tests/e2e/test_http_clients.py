"""Clients nobody on the project wrote, with their default settings, against a real gateway.

The npm packages are pinned in tests/clients/package-lock.json (graphql-http's serverAudits,
urql, Apollo Client with its persisted-query link, graphql-sse's client); `npm ci` installs them
on first use from the npm cache. Each script prints one JSON report line and exits non-zero
when a check failed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_live_updates import server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

CLIENTS = Path(__file__).resolve().parents[1] / "clients"


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/clients with its pinned npm packages installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the client conformance tests")
    stamp = CLIENTS / "node_modules" / ".package-lock.json"
    lock = CLIENTS / "package-lock.json"
    if not stamp.exists() or lock.stat().st_mtime > stamp.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CLIENTS,
            check=True,
            timeout=600,
        )
    return CLIENTS


async def run_client(folder: Path, script: str, base: str) -> tuple[int, dict[str, Any]]:
    """Run one client script against the gateway; its exit code and its report."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        f"http://{base}/graphql",
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    lines = out.decode().strip().splitlines()
    assert lines, f"{script} printed nothing; stderr: {err.decode()[-2000:]}"
    report: dict[str, Any] = json.loads(lines[-1])
    assert process.returncode is not None
    return process.returncode, report


async def test_graphql_http_server_audits_all_pass(node_clients: Path, server: str) -> None:
    code, report = await run_client(node_clients, "audits.mjs", server)
    assert report["problems"] == [], json.dumps(report["problems"], indent=1)
    assert report["counts"]["warn"] == report["counts"]["error"] == 0
    assert report["counts"]["ok"] >= 50 and code == 0
    print("graphql-http serverAudits:", json.dumps(report["counts"]))  # shown with -s


async def test_urql_with_default_options(node_clients: Path, server: str) -> None:
    code, report = await run_client(node_clients, "urql.mjs", server)
    assert report["failed"] == [], json.dumps(report["failed"], indent=1)
    assert report["passed"] == 6 and code == 0
    # Queries went as GET (urql's default within the URL limit), mutations as POST.
    assert {"GET 200", "POST 200"} <= set(report["requests"])


async def test_apollo_client_defaults_get_and_persisted_queries(
    node_clients: Path, server: str
) -> None:
    code, report = await run_client(node_clients, "apollo.mjs", server)
    assert report["failed"] == [], json.dumps(report["failed"], indent=1)
    assert report["passed"] == 7 and code == 0


async def test_graphql_sse_client_distinct_connections(node_clients: Path, server: str) -> None:
    code, report = await run_client(node_clients, "sse.mjs", server)
    assert report["failed"] == [], json.dumps(report["failed"], indent=1)
    assert report["passed"] == 3 and code == 0
