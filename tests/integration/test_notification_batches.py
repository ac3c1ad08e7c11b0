"""The notifications service applies a run of task events in one transaction, exactly as one
by one, and a run that fails leaves nothing behind (its events then go one by one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Channel, ReminderSpec, Task, TaskChange
from gateway_core.persistence.uow import from_task_event
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import TASK_EVENTS_TOPIC
from taskstream.messaging.consumer import Consumer
from tests.integration.test_recurrence_batches import recorded, runtime_on
from workers.notifications import schedule as schedule_module
from workers.notifications.main import build
from workers.notifications.tables import notifications, processed_events, schedule

pytestmark = pytest.mark.integration

NOW = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=2)


@pytest.fixture
def service(engine: AsyncEngine) -> Consumer:
    """The notifications consumer as the service builds it."""
    consumer = build(runtime_on(engine, "notifications")).consumer
    assert consumer is not None
    return consumer


def messages(*tasks: Task) -> list[Message]:
    """The tasks' pending events as the gateway publishes them, in order."""
    built = [from_task_event(event) for task in tasks for event in task.events]
    return [Message(b.topic, b.partition_key, b.body) for b in built]


def reminded_task() -> Task:
    """A task with one reminder, then moved to a later due date, then given a second one."""
    task = Task.create(
        user_id=uuid.uuid4(),
        title="Renew the passport",
        due_at=DUE,
        reminders=[ReminderSpec(remind_at=None, before_due=60, channels=(Channel.IN_APP,))],
        now=NOW,
    )
    task.update(TaskChange(due_at=DUE + timedelta(hours=3)), now=NOW)
    return task


async def test_task_events_are_batched_and_applied_as_one_by_one(
    engine: AsyncEngine, service: Consumer
) -> None:
    batched = {s.topic for s in service.subscriptions() if s.batch is not None}
    assert batched == {TASK_EVENTS_TOPIC}
    owner, assignee = uuid.uuid4(), uuid.uuid4()
    plain = Task.create(user_id=owner, title="No reminders", now=NOW)
    plain.complete(now=NOW)
    assigned = Task.create(user_id=owner, title="Yours", assignee_id=assignee, now=NOW)
    first, second = reminded_task(), reminded_task()
    deleted = reminded_task()
    deleted.delete(now=NOW)
    run = messages(plain, assigned, first, deleted)
    alone = messages(second)

    assert await service.handle_batch(run) == [Outcome.SUCCESS] * len(run)
    for message in alone:
        assert await service.handle(message) is Outcome.SUCCESS
    assert await recorded(engine, run + alone, processed_events) == len(run) + len(alone)

    async with engine.connect() as connection:
        rows = {
            row.task_id: row
            for row in await connection.execute(
                select(schedule.c.task_id, schedule.c.remind_at, schedule.c.state)
            )
        }
        notices = await connection.scalar(
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.user_id == assignee)
        )
    # The batched task ends exactly as the same events applied one by one: its newest due
    # date's reminder, scheduled; the deleted one's cancelled; the assignee told once.
    assert rows[first.id].remind_at == rows[second.id].remind_at == DUE + timedelta(hours=2)
    assert rows[first.id].state == rows[second.id].state == "SCHEDULED"
    assert rows[deleted.id].state == "CANCELLED"
    assert plain.id not in rows
    assert notices == 1


async def test_a_run_that_fails_records_nothing(
    engine: AsyncEngine, service: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, failing = reminded_task(), reminded_task()
    real = schedule_module.sync_task

    async def sync_failing_for_one(connection: object, task: object, *, deleted: bool) -> bool:
        if getattr(task, "id", None) == failing.id:
            raise RuntimeError("the schedule cannot be written")
        return await real(connection, task, deleted=deleted)  # type: ignore[arg-type]

    monkeypatch.setattr(schedule_module, "sync_task", sync_failing_for_one)
    run = messages(ok, failing)
    with pytest.raises(RuntimeError):
        await service.handle_batch(run)
    # Undone as a whole: the transport then hands each event to the handler alone.
    assert await recorded(engine, run, processed_events) == 0
    async with engine.connect() as connection:
        kept = await connection.scalar(
            select(func.count()).select_from(schedule).where(schedule.c.task_id == ok.id)
        )
    assert kept == 0
