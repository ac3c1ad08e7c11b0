"""The unit of work commits a change and its CloudEvent together, or neither."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Priority, Task, TaskChange
from gateway_core.domain.users import new_user
from gateway_core.persistence import tables as t
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import tasks as service
from taskstream import telemetry
from taskstream.errors import InvalidInput
from taskstream.messaging.cloudevents import Envelope, validate
from taskstream.persistence.outbox import write_outbox

pytestmark = pytest.mark.integration


async def make_user(engine: AsyncEngine) -> uuid.UUID:
    """A stored user to own tasks."""
    user = new_user(email=f"outbox-{uuid.uuid4().hex[:8]}@example.com", timezone="UTC")
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "not-a-real-hash")
        await uow.commit()
    return user.id


async def outbox_for(engine: AsyncEngine, user_id: uuid.UUID) -> list[dict[str, object]]:
    """The user's outbox payloads in commit order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.payload, t.outbox.c.topic, t.outbox.c.partition_key)
            .where(t.outbox.c.partition_key == str(user_id))
            .order_by(t.outbox.c.position)
        )
        return [dict(row.payload, _topic=row.topic) for row in rows]


async def test_each_change_writes_one_cloudevent_in_its_transaction(engine: AsyncEngine) -> None:
    user_id = await make_user(engine)
    now = datetime.now(UTC)
    task = await service.create_task(
        uow=UnitOfWork(engine),
        user_id=user_id,
        title="Outboxed",
        notes=None,
        priority=Priority.HIGH,
        tags=["x"],
        due_at=None,
        recurrence=None,
        reminders=None,
        now=now,
    )
    await service.update_task(
        uow=UnitOfWork(engine),
        user_id=user_id,
        task_id=task.id,
        change=TaskChange(title="New"),
        now=now,
    )
    await service.complete_task(uow=UnitOfWork(engine), user_id=user_id, task_id=task.id, now=now)
    await service.delete_task(uow=UnitOfWork(engine), user_id=user_id, task_id=task.id, now=now)
    events = await outbox_for(engine, user_id)
    assert [e["type"] for e in events] == [
        "taskstream.task.created.v1",
        "taskstream.task.updated.v1",
        "taskstream.task.completed.v1",
        "taskstream.task.deleted.v1",
    ]
    for event, version in zip(events, [1, 2, 3, 4], strict=True):
        validate(event)
        assert event["_topic"] == "task-events"
        assert event["subject"] == str(task.id) and event["source"] == "gateway"
        assert event["partitionkey"] == str(user_id)
        data = event["data"]
        assert isinstance(data, dict)
        assert data["userId"] == str(user_id) and data["taskId"] == str(task.id)
        assert data["version"] == version == data["task"]["version"]
        uuid.UUID(str(event["id"]))
    update = events[1]["data"]
    assert isinstance(update, dict)
    assert update["changes"] == {"title": {"before": "Outboxed", "after": "New"}}
    assert len({e["id"] for e in events}) == 4


async def test_a_rolled_back_change_leaves_no_event_and_no_row(engine: AsyncEngine) -> None:
    user_id = await make_user(engine)
    now = datetime.now(UTC)

    async def crash_before_commit() -> None:
        async with UnitOfWork(engine) as uow:
            await uow.tasks.add(Task.create(user_id=user_id, title="Never", now=now))
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    with pytest.raises(InvalidInput):
        await service.create_task(
            uow=UnitOfWork(engine),
            user_id=user_id,
            title="",
            notes=None,
            priority=None,
            tags=["y"],
            due_at=None,
            recurrence=None,
            reminders=None,
            now=now,
        )
    async with engine.connect() as connection:
        tasks = await connection.scalar(
            select(func.count()).select_from(t.tasks).where(t.tasks.c.user_id == user_id)
        )
        tags = await connection.scalar(
            select(func.count()).select_from(t.tags).where(t.tags.c.user_id == user_id)
        )
    assert (tasks, tags) == (0, 0)
    assert await outbox_for(engine, user_id) == []


async def test_an_event_exists_only_if_its_commit_happened(engine: AsyncEngine) -> None:
    """Outbox rows written before a failure inside the same transaction vanish with it."""
    user_id = await make_user(engine)
    now = datetime.now(UTC)

    async def crash_after_outbox_write() -> None:
        async with UnitOfWork(engine) as uow:
            await uow.tasks.add(Task.create(user_id=user_id, title="Half", now=now))
            await uow.connection.execute(
                t.outbox.insert().values(
                    event_id=uuid.uuid4(),
                    topic="task-events",
                    partition_key=str(user_id),
                    type="taskstream.task.created.v1",
                    payload={"id": "x"},
                )
            )
            raise RuntimeError("crash after the outbox write")

    with pytest.raises(RuntimeError):
        await crash_after_outbox_write()
    assert await outbox_for(engine, user_id) == []


async def test_events_written_together_keep_their_order_bodies_and_trace_context(
    engine: AsyncEngine,
) -> None:
    key = f"order-{uuid.uuid4()}"
    envelopes = [
        Envelope(
            id=uuid.uuid4(),
            topic="task-events" if n % 2 else "reminders",
            partition_key=key,
            type=f"test.event.{n}",
            body={"n": n, "nested": {"list": [n, "x", None, 1.5]}, "text": "é\"'\\"},
        )
        for n in range(30)
    ]
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with mock.patch.object(telemetry, "current_traceparent", return_value=traceparent):
        async with engine.begin() as connection:
            await write_outbox(connection, t.outbox, envelopes)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.outbox)
                .where(t.outbox.c.partition_key == key)
                .order_by(t.outbox.c.position)
            )
        ).all()
    assert [(r.event_id, r.topic, r.type, r.payload) for r in rows] == [
        (e.id, e.topic, e.type, e.body) for e in envelopes
    ]
    assert {r.traceparent for r in rows} == {traceparent}
