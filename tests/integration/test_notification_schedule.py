"""The notifications schedule follows the tasks the events carry, on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import (
    TaskCompleted,
    TaskCreated,
    TaskEvent,
    TaskReopened,
    TaskUpdated,
)
from contracts.task import Task, TaskChanges
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.schedule import ScheduleHandlers, sync_task
from workers.notifications.tables import schedule, task_versions

pytestmark = pytest.mark.integration

LATER = datetime(2031, 1, 1, 9, 0, tzinfo=UTC)


def snapshot(task_id: str, version: int, reminders: list[dict[str, Any]]) -> Task:
    """A task as the task events carry it (the wire shape of contracts/task.py)."""
    return Task.model_validate(
        {
            "id": task_id,
            "userId": str(uuid.uuid4()),
            "title": f"v{version}",
            "notes": "",
            "status": "OPEN",
            "priority": "NONE",
            "tags": [],
            "dueAt": None,
            "completedAt": None,
            "recurrence": None,
            "seriesId": None,
            "instanceNumber": 1,
            "reminders": reminders,
            "createdAt": LATER.isoformat(),
            "updatedAt": LATER.isoformat(),
            "version": version,
        }
    )


def reminder(reminder_id: str, at: datetime, state: str = "SCHEDULED") -> dict[str, Any]:
    """A reminder as the task's wire shape spells it."""
    return {
        "id": reminder_id,
        "remindAt": at.isoformat(),
        "beforeDue": None,
        "channels": ["IN_APP"],
        "state": state,
        "sentAt": None,
    }


async def apply(engine: AsyncEngine, task: Task, *, deleted: bool = False) -> None:
    """One consumer transaction."""
    async with engine.begin() as connection:
        await sync_task(connection, task, deleted=deleted)


async def rows(engine: AsyncEngine, task_id: str) -> dict[str, tuple[str, datetime, str]]:
    """reminder id -> (state, remind_at, title)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(
                schedule.c.reminder_id,
                schedule.c.state,
                schedule.c.remind_at,
                schedule.c.task_title,
            ).where(schedule.c.task_id == uuid.UUID(task_id))
        )
        return {str(r.reminder_id): (r.state, r.remind_at, r.task_title) for r in found}


async def test_upserts_moves_and_cancels_removed_reminders(engine: AsyncEngine) -> None:
    task, a, b = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await apply(engine, snapshot(task, 1, [reminder(a, LATER), reminder(b, LATER)]))
    await apply(engine, snapshot(task, 2, [reminder(a, LATER + timedelta(hours=1))]))
    assert await rows(engine, task) == {
        a: ("SCHEDULED", LATER + timedelta(hours=1), "v2"),
        b: ("CANCELLED", LATER, "v2"),
    }


async def test_late_events_change_nothing(engine: AsyncEngine) -> None:
    task, a = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(engine, snapshot(task, 3, [reminder(a, LATER, "CANCELLED")]))
    # Version 2 arrives after 3 (a redelivery, or retries reordering them): ignored whole.
    await apply(engine, snapshot(task, 2, [reminder(a, LATER)]))
    assert await rows(engine, task) == {a: ("CANCELLED", LATER, "v3")}


async def test_a_firing_reminder_is_not_reset_by_an_older_view_but_is_by_a_snooze(
    engine: AsyncEngine,
) -> None:
    task, a = str(uuid.uuid4()), str(uuid.uuid4())
    await apply(engine, snapshot(task, 1, [reminder(a, LATER)]))
    async with engine.begin() as connection:
        await connection.execute(
            update(schedule)
            .where(schedule.c.reminder_id == uuid.UUID(a))
            .values(state="SENT", generation=1)
        )
    # A title change made before the outcome was recorded still shows it SCHEDULED.
    await apply(engine, snapshot(task, 2, [reminder(a, LATER)]))
    assert (await rows(engine, task))[a][0] == "SENT"
    await apply(engine, snapshot(task, 3, [reminder(a, LATER + timedelta(minutes=5))]))
    assert (await rows(engine, task))[a][:2] == ("SCHEDULED", LATER + timedelta(minutes=5))


async def test_deleted_tasks_cancel_what_is_not_sent(engine: AsyncEngine) -> None:
    task, a, b = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await apply(engine, snapshot(task, 1, [reminder(a, LATER), reminder(b, LATER, "SENT")]))
    await apply(engine, snapshot(task, 2, []), deleted=True)
    states = {k: v[0] for k, v in (await rows(engine, task)).items()}
    assert states == {a: "CANCELLED", b: "SENT"}


async def test_a_restored_task_schedules_again_what_its_deletion_cancelled(
    engine: AsyncEngine,
) -> None:
    task, a, b = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await apply(engine, snapshot(task, 1, [reminder(a, LATER), reminder(b, LATER, "SENT")]))
    await apply(engine, snapshot(task, 2, []), deleted=True)
    # restoreTask: the same reminder, at the same time, SCHEDULED again (version 3).
    await apply(engine, snapshot(task, 3, [reminder(a, LATER), reminder(b, LATER, "SENT")]))
    states = {k: v[:2] for k, v in (await rows(engine, task)).items()}
    assert states == {a: ("SCHEDULED", LATER), b: ("SENT", LATER)}


MODELS: dict[str, type[TaskEvent]] = {
    "created": TaskCreated,
    "updated": TaskUpdated,
    "completed": TaskCompleted,
    "reopened": TaskReopened,
}


def task_event(
    kind: str, task: Task, changes: dict[str, Any] | None = None
) -> CloudEvent[TaskEvent]:
    """A task event as the notifications consumer receives it."""
    model = MODELS[kind]
    data = (
        model.of(task)
        if model is not TaskUpdated
        else TaskUpdated.of(task, changes=TaskChanges.model_validate(changes or {}))
    )
    return CloudEvent(
        id=str(uuid.uuid4()),
        type=model.TYPE,
        source="gateway",
        subject=str(task.id),
        time=datetime.now(UTC),
        data=data,
        topic="task-events",
        raw={},
    )


async def test_events_without_reminders_are_skipped_but_removals_still_cancel(
    engine: AsyncEngine,
) -> None:
    woken: list[int] = []
    handlers = ScheduleHandlers(wake=lambda: woken.append(1))

    async def handle(event: CloudEvent[TaskEvent]) -> None:
        async with engine.begin() as connection:
            assert await handlers.task_changed(event, connection) is Outcome.SUCCESS

    async def versions(task_id: str) -> list[int]:
        async with engine.connect() as connection:
            found = await connection.scalars(
                select(task_versions.c.version).where(task_versions.c.task_id == uuid.UUID(task_id))
            )
            return list(found)

    plain, task, a = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    await handle(task_event("created", snapshot(plain, 1, [])))
    await handle(task_event("completed", snapshot(plain, 2, [])))
    assert await versions(plain) == [] and woken == []

    await handle(task_event("created", snapshot(task, 1, [reminder(a, LATER)])))
    assert woken == [1]
    # A title change leaves the reminder's time alone: nothing for the firing loop to do.
    await handle(task_event("updated", snapshot(task, 2, [reminder(a, LATER)])))
    assert woken == [1] and (await rows(engine, task))[a] == ("SCHEDULED", LATER, "v2")
    removed = {"reminders": {"before": [reminder(a, LATER)], "after": []}}
    await handle(task_event("updated", snapshot(task, 3, []), removed))
    assert (await rows(engine, task))[a][0] == "CANCELLED" and await versions(task) == [3]
    await handle(task_event("reopened", snapshot(task, 4, [])))
    assert await versions(task) == [3] and woken == [1]
