"""A new task's row, tags and reminders go in one statement and read back exactly as written."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import (
    Channel,
    Priority,
    RecurrenceRequest,
    ReminderSpec,
    Task,
)
from gateway_core.domain.users import new_user
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import projects, tasks
from taskstream.errors import Conflict, NotFound
from taskstream.recurrence import RepeatFrom

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def account(engine: AsyncEngine) -> uuid.UUID:
    """A new account's id."""
    user = new_user(email=f"writer-{uuid.uuid4().hex[:8]}@example.com", timezone=None)
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "x")
        await uow.commit()
    return user.id


def full_task(user_id: uuid.UUID, project_id: uuid.UUID | None) -> Task:
    """A task with every part: tags (one spelled with quotes and accents), reminders of each
    kind and channel set, a recurrence, notes, a due date with microseconds."""
    task = Task.create(
        user_id=user_id,
        title="Written 'once'",
        notes='notes with "quotes" and ünïcode',
        priority=Priority.HIGH,
        tags=["Work", 'côté "x"', "zeta"],
        due_at=NOW + timedelta(days=2, microseconds=7),
        recurrence=RecurrenceRequest(
            rule="FREQ=WEEKLY;BYDAY=MO,WE", repeat_from=RepeatFrom.DUE_DATE, timezone="Europe/Paris"
        ),
        reminders=[
            ReminderSpec(remind_at=None, before_due=15, channels=(Channel.IN_APP,)),
            ReminderSpec(
                remind_at=NOW + timedelta(days=1, microseconds=1),
                before_due=None,
                channels=(Channel.EMAIL, Channel.WEBHOOK),
            ),
        ],
        now=NOW,
        project_id=project_id,
    )
    return task


async def written_and_read(engine: AsyncEngine, task: Task) -> tuple[Task, list[str]]:
    """Add the task in a unit of work (counting its statements), then load it back."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    async with UnitOfWork(engine) as uow:
        event.listen(uow.connection.sync_connection, "before_cursor_execute", count)
        await uow.tasks.add(task)
        event.remove(uow.connection.sync_connection, "before_cursor_execute", count)
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        loaded = await uow.tasks.get(task.user_id, task.id)
    return loaded, statements


@pytest.mark.parametrize("in_project", [False, True])
async def test_a_new_task_reads_back_exactly_as_written_from_one_statement(
    engine: AsyncEngine, in_project: bool
) -> None:
    user_id = await account(engine)
    project_id = None
    if in_project:
        project = await projects.create_project(
            uow=UnitOfWork(engine), user_id=user_id, name="written", color=None, now=NOW
        )
        project_id = project.id
    task = full_task(user_id, project_id)
    loaded, statements = await written_and_read(engine, task)
    # The list's last position (with the tiebreak's number), then the row with its tags and
    # reminders, which answers the tags' stored spelling.
    assert len(statements) == 2, statements
    assert replace(loaded, events=[]) == replace(task, events=[])
    assert loaded.tags == ("Work", 'côté "x"', "zeta")
    # A second task of the same scope finds the existing tags (any spelling) and adds one.
    second = replace(
        full_task(user_id, project_id), tags=("WORK", "new one"), reminders=(), recurrence=None
    )
    second.id, second.series_id, second.position = uuid.uuid4(), None, ""
    loaded_second, _ = await written_and_read(engine, second)
    assert loaded_second.tags == ("Work", "new one")
    assert loaded_second.reminders == ()
    assert loaded_second.position > loaded.position


async def test_a_second_instance_due_at_once_is_a_conflict_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    user_id = await account(engine)
    first = full_task(user_id, None)
    await written_and_read(engine, first)
    twin = replace(full_task(user_id, None), series_id=first.series_id, due_at=first.due_at)
    async with UnitOfWork(engine) as uow:
        with pytest.raises(Conflict, match="dueAt: another instance of this series"):
            await uow.tasks.add(twin)
    async with UnitOfWork(engine) as uow:
        with pytest.raises(NotFound):
            await uow.tasks.get(user_id, twin.id)
    # Creating through the service still works after the refused write.
    created = await tasks.create_task(
        uow=UnitOfWork(engine),
        user_id=user_id,
        title="after",
        notes=None,
        priority=None,
        tags=["zeta"],
        due_at=None,
        recurrence=None,
        reminders=None,
        now=NOW,
    )
    assert created.tags == ("zeta",)
