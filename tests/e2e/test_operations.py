"""Health, readiness, metrics and the web page."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

pytestmark = pytest.mark.e2e


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_metrics_count_graphql_requests(http: httpx.AsyncClient, app: Starlette) -> None:
    await http.post("/graphql", json={"query": "{ __typename }"})
    # /metrics is served by the metrics listener's app, not on the public port.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.state.metrics_app), base_url="http://metrics"
    ) as scraper:
        text = (await scraper.get("/metrics")).text
    assert 'taskstream_http_requests_total{route="/graphql",status="200"}' in text
    assert "taskstream_http_request_seconds_bucket" in text


async def test_root_serves_a_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200 and "Taskstream" in response.text


async def test_introspection_follows_the_environment(settings: object) -> None:
    from graphql_schema.schema import build_schema
    from taskstream.settings import Settings

    assert isinstance(settings, Settings)
    query = "{ __schema { queryType { name } } }"
    development = await build_schema(settings).execute(query)
    assert development.errors is None
    production = await build_schema(settings.model_copy(update={"env": "production"})).execute(
        query
    )
    assert production.errors is not None


async def test_the_built_web_app_answers_deep_links_with_its_index(
    runtime: object, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    import gateway.app as gateway_app
    from taskstream.bootstrap import Runtime

    assert isinstance(runtime, Runtime) and isinstance(tmp_path, Path)
    (tmp_path / "index.html").write_text("<html>the app</html>")
    (tmp_path / "app.js").write_text("console.log(1)")
    monkeypatch.setattr(gateway_app, "WEB_DIST", tmp_path)
    app = gateway_app.create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
        assert (await client.get("/")).text == "<html>the app</html>"
        assert (await client.get("/app.js")).text == "console.log(1)"
        deep = await client.get("/tasks/0b8f4e3a-7f0c-4a43-9b9b-2d3e8c3f1a11")
        assert deep.status_code == 200 and deep.text == "<html>the app</html>"
        assert (await client.post("/nowhere")).status_code in (404, 405)
