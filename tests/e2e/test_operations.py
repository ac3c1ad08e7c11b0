"""Health, readiness, metrics and the web page."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_metrics_count_graphql_requests(http: httpx.AsyncClient) -> None:
    await http.post("/graphql", json={"query": "{ __typename }"})
    text = (await http.get("/metrics")).text
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
