"""Traces in a real Jaeger: `up`'s spans exported over OTLP, fetched back from its query API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack.jaeger import Jaeger
from taskstream import telemetry
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.integration

CREATED = "taskstream.task.created.v1"


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """A real Jaeger (built from its Go module on first use, then cached)."""
    work: Path = tmp_path_factory.mktemp("jaeger")
    with Jaeger(work) as running:
        yield running


@pytest.fixture
async def traced(
    jaeger: Jaeger, settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """`up` in-process with OTEL_EXPORTER_OTLP_ENDPOINT pointing at Jaeger."""
    from cli.composition import local_system

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_endpoint)
    assert telemetry.configure_tracing(Settings(), service="up")
    try:
        async with local_system(settings, engine=engine, transport=MemoryTransport()) as app:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://taskstream.test"
            ) as client:
                yield client
    finally:
        telemetry.shutdown_tracing()


async def find_trace(jaeger: Jaeger, task_id: str, groups: set[str]) -> dict[str, Any] | None:
    """The trace whose publish carries this task's created event, once every group handled it."""
    tags = json.dumps({"cloudevents.event_subject": task_id})
    async with httpx.AsyncClient(base_url=jaeger.ui_url, timeout=10) as client:
        found = await client.get(
            "/api/traces", params={"service": "taskstream-up", "tags": tags, "limit": 5}
        )
        found.raise_for_status()
        for candidate in found.json()["data"] or []:
            whole = await client.get(f"/api/traces/{candidate['traceID']}")
            whole.raise_for_status()
            trace: dict[str, Any] = whole.json()["data"][0]
            handled = {
                tag["value"]
                for span in trace["spans"]
                for tag in span["tags"]
                if tag["key"] == "messaging.consumer.group.name"
                and span["operationName"] == f"handle {CREATED}"
            }
            if groups <= handled:
                return trace
    return None


async def test_one_create_task_is_one_trace_in_jaeger_with_parent_links_intact(
    jaeger: Jaeger, traced: httpx.AsyncClient
) -> None:
    client = GraphQLClient(traced)
    await client.sign_up()
    created = await client.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {
            "i": {
                "title": "traced in jaeger",
                "dueAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                "recurrence": {"rule": "FREQ=DAILY"},
                "reminders": [{"beforeDue": 30}],
            }
        },
    )
    task_id = created["createTask"]["id"]
    trace = None
    async with asyncio.timeout(60):
        while trace is None:
            assert telemetry.flush_tracing()
            trace = await find_trace(jaeger, task_id, {"notifications", "audit"})
            if trace is None:
                await asyncio.sleep(0.2)

    spans = {span["spanID"]: span for span in trace["spans"]}
    parents = {
        span["spanID"]: [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        for span in trace["spans"]
    }
    roots = [spans[span_id] for span_id, refs in parents.items() if not refs]
    assert [root["operationName"] for root in roots] == ["POST /graphql"]
    missing = [spans[s]["operationName"] for s, refs in parents.items() if set(refs) - set(spans)]
    assert missing == []
    (publish,) = [
        s
        for s in trace["spans"]
        if s["operationName"] == "publish task-events"
        and {"key": "cloudevents.event_subject", "type": "string", "value": task_id} in s["tags"]
    ]
    ancestor = publish
    while parents[ancestor["spanID"]]:
        ancestor = spans[parents[ancestor["spanID"]][0]]
    assert ancestor is roots[0]
    under_publish = [s for s in trace["spans"] if parents[s["spanID"]] == [publish["spanID"]]]
    assert {s["operationName"] for s in under_publish} == {f"handle {CREATED}"}
    processes = {trace["processes"][s["processID"]]["serviceName"] for s in trace["spans"]}
    assert processes == {"taskstream-up"}
