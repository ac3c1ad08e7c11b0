"""Exemplars: with tracing on, the latency histograms name a trace; /metrics serves OpenMetrics.

One change through the in-process system with a subscriber on a real socket: its trace id is
the exemplar of the request's latency bucket, of the notifications worker's handling and of
the push to the socket, and the push is a span of that same trace.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.composition import local_system
from taskstream import telemetry
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import TASK_EVENTS, receive, serving, subscribe
from tests.integration.test_tracing import handled_by, spans, the_publish

pytestmark = pytest.mark.integration

__all__ = ["spans"]

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# `name_bucket{labels} count # {trace_id="…"} value timestamp`
EXEMPLAR = re.compile(r'^(\w+)_bucket\{([^}]*)\} \S+ # \{trace_id="([0-9a-f]{32})"\}')


@pytest.fixture
async def traced_server(
    spans: InMemorySpanExporter, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[str, Any]]:
    """`taskstream up` in-process with tracing on, served on a socket; (base URL, app)."""
    async with (
        local_system(settings, engine=engine, transport=MemoryTransport()) as app,
        serving(app) as base,
    ):
        yield base, app


def exemplars(text: str) -> dict[str, list[tuple[str, str]]]:
    """metric -> [(its labels, the exemplar's trace id)] of an OpenMetrics document."""
    found: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        matched = EXEMPLAR.match(line)
        if matched:
            found.setdefault(matched[1], []).append((matched[2], matched[3]))
    return found


def traced(spans: list[ReadableSpan], name: str, trace_id: int) -> list[ReadableSpan]:
    """The spans called `name` in the trace `trace_id`."""
    return [
        s
        for s in spans
        if s.name == name and s.context is not None and s.context.trace_id == trace_id
    ]


async def test_a_changes_trace_id_is_the_exemplar_of_its_request_handling_and_push(
    spans: InMemorySpanExporter, traced_server: tuple[str, Any]
) -> None:
    base, app = traced_server
    # Requests go in-process: this process's httpx is instrumented, and its orphan client spans
    # are dropped, so over a socket they would carry an unsampled traceparent the server follows.
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    client = GraphQLClient(http)
    await client.sign_up()
    assert client.token is not None
    socket = await subscribe(base, client.token, TASK_EVENTS)
    # With a reminder: the notifications worker acts on it (schedules the reminder).
    remind_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await client.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {"i": {"title": "exemplar", "reminders": [{"remindAt": remind_at}]}},
    )
    task_id = created["createTask"]["id"]
    pushed = (await receive(socket))["payload"]["data"]["taskEvents"]
    assert pushed["taskId"] == task_id
    async with asyncio.timeout(30):
        while "notifications" not in handled_by(list(spans.get_finished_spans()), task_id):
            await asyncio.sleep(0.05)
    await socket.close()
    await http.aclose()

    finished = list(spans.get_finished_spans())
    publish = the_publish(finished, task_id)
    assert publish.context is not None
    trace_id = publish.context.trace_id
    # The push is part of the change's trace: the live consumer's handling of the publish is
    # its parent, and its ancestors reach the request's server span.
    (push,) = traced(finished, "push taskEvents", trace_id)
    by_id = {s.context.span_id: s for s in finished if s.context is not None}
    assert push.parent is not None
    live = by_id[push.parent.span_id]
    assert live.kind is SpanKind.CONSUMER and live.attributes is not None
    assert live.attributes.get("messaging.consumer.group.name") == "gateway-live"
    ancestor = push
    while ancestor.parent is not None:
        ancestor = by_id[ancestor.parent.span_id]
    assert ancestor.kind is SpanKind.SERVER and ancestor.name == "POST /graphql"

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.state.metrics_app), base_url="http://metrics"
    ) as scraper:
        open_metrics = await scraper.get("/metrics", headers={"Accept": OPENMETRICS})
        plain = await scraper.get("/metrics")
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    # One document: the gateway's registry and the process-wide one end with a single EOF.
    assert open_metrics.text.count("# EOF") == 1 and open_metrics.text.endswith("# EOF\n")
    found = exemplars(open_metrics.text)
    ours = format(trace_id, "032x")
    # createTask was the last HTTP request: its bucket names its trace.
    assert ours in {
        t for labels, t in found["taskstream_http_request_seconds"] if "/graphql" in labels
    }
    assert ours in {
        t
        for labels, t in found["taskstream_consumer_handling_seconds"]
        if 'group="notifications"' in labels
    }
    assert ours in {
        t for labels, t in found["taskstream_live_push_seconds"] if "taskEvents" in labels
    }
    # A scraper that does not ask for OpenMetrics gets the classic text, without exemplars.
    assert plain.headers["content-type"].startswith("text/plain")
    assert "taskstream_live_push_seconds_bucket" in plain.text
    assert exemplars(plain.text) == {} and "# EOF" not in plain.text


def test_no_exemplar_without_tracing() -> None:
    assert not telemetry.enabled()
    assert telemetry.exemplar() is None
