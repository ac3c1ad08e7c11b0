"""/metrics is not public: never on the service's own port, only on a loopback listener.

Probe (issue 13): `/metrics` answered anyone on the public port of `taskstream up` (and of the
gateway behind the ingress).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings
from tests.e2e.test_up_command import Running

METRICS_LINE = re.compile(r"^Metrics at (http://127\.0\.0\.1:\d+)/metrics$")


async def get(app: Starlette, path: str) -> httpx.Response:
    """One request to an app, in-process."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as client:
        return await client.get(path)


async def test_the_gateway_port_has_no_metrics(app: Starlette) -> None:
    # (With the web app built, the path serves the page like any unknown path.)
    assert "taskstream_http" not in (await get(app, "/metrics")).text
    scraped = await get(app.state.metrics_app, "/metrics")
    assert scraped.status_code == 200
    assert "taskstream_http_request_seconds" in scraped.text


async def test_a_worker_port_has_no_metrics(settings: Settings, engine: AsyncEngine) -> None:
    runtime = bootstrap(settings, app_id="audit", engine=engine, transport=MemoryTransport())
    service = Service(ServiceParts(name="audit"), runtime)
    assert (await get(service.app(), "/metrics")).status_code == 404
    assert (await get(service.app(), "/healthz")).status_code == 200
    scraped = await get(service.metrics_app(), "/metrics")
    assert scraped.status_code == 200 and "python_info" in scraped.text


def test_settings_bind_metrics_to_loopback() -> None:
    assert Settings().metrics_host == "127.0.0.1"
    assert Settings(metrics_port=9999).metrics_port == 9999


@pytest.mark.e2e
def test_up_serves_metrics_on_a_loopback_port_of_its_own(tmp_path: Path) -> None:
    running = Running(tmp_path / "data")
    try:
        lines = [METRICS_LINE.match(line.strip()) for line in running.output]
        (metrics_url,) = [match.group(1) for match in lines if match]
        assert metrics_url != running.url
        httpx.post(f"{running.url}/graphql", json={"query": "{ __typename }"}, timeout=10)
        public = httpx.get(f"{running.url}/metrics", timeout=10)
        assert "taskstream_http_requests_total" not in public.text
        scraped = httpx.get(f"{metrics_url}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert 'taskstream_http_requests_total{route="/graphql",status="200"}' in scraped.text
    finally:
        assert running.stop(signal.SIGTERM) == 0, "".join(running.output)
