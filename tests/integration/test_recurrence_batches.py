"""The recurrence service batches completions that need no gateway call, and only those."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Task
from gateway_core.persistence.uow import from_task_event
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import TASK_EVENTS_TOPIC
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from workers.recurrence.main import build
from workers.recurrence.tables import processed_events

pytestmark = pytest.mark.integration

NOW = datetime(2028, 2, 29, 10, 0, tzinfo=UTC)
RECURRENCE = {
    "rule": "FREQ=DAILY",
    "repeatFrom": "DUE_DATE",
    "timezone": "UTC",
    "dtstart": "2028-02-29T09:00:00+00:00",
    "skipped": [],
}


def completed(*, recurring: bool) -> Message:
    """A task-completed event as the gateway publishes it (of a recurring task, or not)."""
    task = Task.create(user_id=uuid.uuid4(), title="Water the plants", now=NOW)
    task.complete(now=NOW)
    built = next(
        envelope
        for envelope in map(from_task_event, task.events)
        if envelope.type == "taskstream.task.completed.v1"
    )
    if recurring:
        built.body["data"]["task"]["dueAt"] = "2028-02-29T09:00:00+00:00"
        built.body["data"]["task"]["recurrence"] = RECURRENCE
    return Message(built.topic, built.partition_key, built.body)


async def recorded(
    engine: AsyncEngine, messages: list[Message], processed: Table = processed_events
) -> int:
    """How many of the messages a consumer (recurrence by default) recorded as handled."""
    async with engine.connect() as connection:
        return int(
            await connection.scalar(
                select(func.count())
                .select_from(processed)
                .where(processed.c.event_id.in_([m.id for m in messages]))
            )
            or 0
        )


def runtime_on(engine: AsyncEngine, app_id: str) -> Runtime:
    """A service's runtime on the test database, with an in-memory transport."""
    settings = Settings(
        env="test",
        database_url=engine.url.render_as_string(hide_password=False),
        jwt_secret=SecretStr("x" * 40),
    )
    return bootstrap(settings, app_id=app_id, engine=engine, transport=MemoryTransport())


@pytest.fixture
def service(engine: AsyncEngine) -> Consumer:
    """The recurrence consumer as the service builds it."""
    consumer = build(runtime_on(engine, "recurrence")).consumer
    assert consumer is not None
    return consumer


async def test_completions_of_tasks_that_do_not_recur_are_recorded_in_one_batch(
    engine: AsyncEngine, service: Consumer
) -> None:
    assert {s.topic: s.batch is not None for s in service.subscriptions()} == {
        TASK_EVENTS_TOPIC: True
    }
    plain = [completed(recurring=False) for _ in range(3)]
    assert await service.handle_batch(plain) == [Outcome.SUCCESS] * 3
    assert await recorded(engine, plain) == 3


async def test_a_run_with_a_recurring_completion_goes_one_by_one(
    engine: AsyncEngine, service: Consumer
) -> None:
    # Its next instance is a call to the gateway, never made inside a batch: the batch is
    # undone (nothing recorded) and the transport hands each event to the handler alone.
    run = [completed(recurring=False), completed(recurring=True)]
    assert await service.handle_batch(run) is None
    assert await recorded(engine, run) == 0
