"""One trace per change in `up`: the request, the relay's publish, each worker's handling."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Task
from gateway_core.persistence.uow import from_task_event
from taskstream import telemetry
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.integration.test_recurrence_batches import runtime_on
from workers.notifications.main import build

pytestmark = pytest.mark.integration

CREATED = "taskstream.task.created.v1"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test, into memory (as OTEL_EXPORTER_OTLP_ENDPOINT turns it on)."""
    exporter = InMemorySpanExporter()
    assert telemetry.configure_tracing(
        Settings(), service="up", processor=SimpleSpanProcessor(exporter)
    )
    yield exporter
    telemetry.shutdown_tracing()


@pytest.fixture
async def traced_system(
    spans: InMemorySpanExporter, settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """`taskstream up` in-process, built after tracing was switched on (as `up` does)."""
    from cli.composition import local_system

    async with local_system(settings, engine=engine, transport=MemoryTransport()) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskstream.test") as c:
            yield c


def handled_by(spans: list[ReadableSpan], task_id: str) -> set[str]:
    """The consumer groups whose handling of this task's created event has ended."""
    publish = [
        span
        for span in spans
        if span.kind is SpanKind.PRODUCER
        and span.attributes is not None
        and span.attributes.get("cloudevents.event_subject") == task_id
        and span.attributes.get("cloudevents.event_type") == CREATED
    ]
    if not publish:
        return set()
    assert publish[0].context is not None
    trace_id = publish[0].context.trace_id
    return {
        str(span.attributes.get("messaging.consumer.group.name"))
        for span in spans
        if span.kind is SpanKind.CONSUMER
        and span.attributes is not None
        and span.context is not None
        and span.context.trace_id == trace_id
    }


def the_publish(spans: list[ReadableSpan], task_id: str) -> ReadableSpan:
    """The one PRODUCER span that published an event about this task."""
    (publish,) = [
        span
        for span in spans
        if span.kind is SpanKind.PRODUCER
        and span.attributes is not None
        and span.attributes.get("cloudevents.event_subject") == task_id
    ]
    return publish


async def test_create_task_with_a_reminder_is_one_trace_with_parent_links_intact(
    spans: InMemorySpanExporter, traced_system: httpx.AsyncClient
) -> None:
    client = GraphQLClient(traced_system)
    await client.sign_up()
    remind_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await client.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {"i": {"title": "traced", "reminders": [{"remindAt": remind_at}]}},
    )
    task_id = created["createTask"]["id"]
    async with asyncio.timeout(30):
        while not {"notifications", "audit"} <= handled_by(
            list(spans.get_finished_spans()), task_id
        ):
            await asyncio.sleep(0.05)

    finished = list(spans.get_finished_spans())
    publish = the_publish(finished, task_id)
    assert publish.context is not None
    trace_id = publish.context.trace_id
    trace = [s for s in finished if s.context is not None and s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in trace if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = defaultdict(list)
    for span in trace:
        children[span.parent.span_id if span.parent else None].append(span)

    # One root: the GraphQL request's server span; every other span's parent is in the trace.
    (root,) = children[None]
    assert root.kind is SpanKind.SERVER
    assert root.attributes is not None and root.attributes.get("http.route") == "/graphql"
    orphans = [s.name for s in trace if s.parent is not None and s.parent.span_id not in by_id]
    assert orphans == []

    # The publish continues the request (through the outbox row), the workers the publish.
    assert publish.name == "publish task-events"
    ancestor = publish
    while ancestor.parent is not None:
        ancestor = by_id[ancestor.parent.span_id]
    assert ancestor is root
    assert publish.context is not None
    handlers = {
        str(s.attributes.get("messaging.consumer.group.name")): s
        for s in children[publish.context.span_id]
        if s.kind is SpanKind.CONSUMER and s.attributes is not None
    }
    assert {"notifications", "audit"} <= set(handlers)
    assert handlers["notifications"].name == f"handle {CREATED}"
    # The worker's own database work is part of its handling.
    notifications = handlers["notifications"]
    assert notifications.context is not None
    assert any(s.kind is SpanKind.CLIENT for s in children[notifications.context.span_id]), (
        "no database span under the notifications worker's handling"
    )
    # Statements outside any trace (the relay's polling, the firing loop) are not exported.
    assert [s.name for s in finished if s.kind is SpanKind.CLIENT and s.parent is None] == []
    # The request's own statements (the change and its outbox row) are under the request.
    assert root.context is not None
    assert any(s.kind is SpanKind.CLIENT for s in children[root.context.span_id])


async def test_tracing_is_off_unless_the_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not telemetry.configure_tracing(Settings(), service="up")
    assert not telemetry.enabled()
    assert telemetry.current_traceparent() is None


async def test_each_event_handled_in_a_batch_has_its_handling_in_its_own_trace(
    spans: InMemorySpanExporter, engine: AsyncEngine
) -> None:
    consumer = build(runtime_on(engine, "notifications")).consumer
    assert consumer is not None
    now = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
    tasks = [Task.create(user_id=uuid.uuid4(), title=f"batched {n}", now=now) for n in range(3)]
    publishes, run = [], []
    for event in (from_task_event(task.events[0]) for task in tasks):
        publish = telemetry.start_span(f"publish {event.topic}", kind=SpanKind.PRODUCER)
        publish.end()
        publishes.append(publish)
        run.append(
            Message(
                event.topic,
                event.partition_key,
                event.body | {"traceparent": telemetry.traceparent_of(publish)},
            )
        )

    assert await consumer.handle_batch(run) == [Outcome.SUCCESS] * len(run)

    finished = list(spans.get_finished_spans())
    (batch,) = [s for s in finished if s.name == f"handle {len(run)} messages"]
    assert batch.context is not None
    for publish in publishes:
        context = publish.get_span_context()
        (handling,) = [
            s
            for s in finished
            if s.name == f"handle {CREATED}"
            and s.parent is not None
            and s.parent.span_id == context.span_id
        ]
        assert handling.context is not None and handling.context.trace_id == context.trace_id
        assert handling.kind is SpanKind.CONSUMER
        assert [link.context.span_id for link in handling.links] == [batch.context.span_id]
