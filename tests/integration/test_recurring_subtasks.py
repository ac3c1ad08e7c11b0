"""The next instance of a recurring task carries a copy of its subtask tree (issue 16): open,
same shape, titles, notes, priorities, tags and order, in the instance's transaction, each copy
with its own task.created event, and once however often the completion is delivered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Priority, RecurrenceRequest
from gateway_core.domain.projects import Role
from gateway_core.domain.sections import TREE_MAX
from gateway_core.domain.users import User, new_user
from gateway_core.persistence import tables as t
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import projects, tasks
from taskstream.recurrence import RepeatFrom

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
DUE = datetime(2030, 1, 2, 9, tzinfo=UTC)
WEEKLY = RecurrenceRequest(rule="FREQ=WEEKLY", repeat_from=RepeatFrom.DUE_DATE, timezone="UTC")


async def make_user(engine: AsyncEngine) -> uuid.UUID:
    """A stored user owning the series."""
    return (await make_account(engine)).id


async def make_account(engine: AsyncEngine) -> User:
    """A stored user (with the email an invitation goes to)."""
    user = new_user(email=f"subcopy-{uuid.uuid4().hex[:8]}@example.com", timezone="UTC")
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "not-a-real-hash")
        await uow.commit()
    return user


async def add(engine: AsyncEngine, user_id: uuid.UUID, title: str, **extra: Any) -> uuid.UUID:
    """Create a task (a subtask when `parent_id` is given)."""
    options: dict[str, Any] = {
        "notes": None,
        "priority": None,
        "tags": None,
        "due_at": None,
        "recurrence": None,
        "reminders": None,
        **extra,
    }
    task = await tasks.create_task(
        uow=UnitOfWork(engine), user_id=user_id, title=title, now=NOW, **options
    )
    return task.id


async def tree(engine: AsyncEngine, root: uuid.UUID) -> list[tuple[Any, ...]]:
    """The subtask tree under root as (depth, title, notes, priority, status, due, tags),
    parents before children, each list in its order."""
    found: list[tuple[Any, ...]] = []

    async def walk(parent: uuid.UUID, depth: int) -> None:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(t.tasks)
                    .where(t.tasks.c.parent_id == parent)
                    .order_by(t.tasks.c.position)
                )
            ).all()
            for row in rows:
                names = (
                    await connection.execute(
                        select(t.tags.c.name)
                        .join(t.task_tags, t.task_tags.c.tag_id == t.tags.c.id)
                        .where(t.task_tags.c.task_id == row.id)
                        .order_by(t.task_tags.c.position)
                    )
                ).scalars()
                found.append(
                    (depth, row.title, row.notes, row.priority, row.status, row.due_at, list(names))
                )
                await walk(row.id, depth + 1)

    await walk(root, 0)
    return found


async def created_events(engine: AsyncEngine, after: int) -> list[dict[str, Any]]:
    """The task.created CloudEvents written to the outbox after position `after`."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.payload)
            .where(t.outbox.c.position > after)
            .order_by(t.outbox.c.position)
        )
        return [
            dict(row.payload) for row in rows if row.payload["type"] == "taskstream.task.created.v1"
        ]


async def outbox_end(engine: AsyncEngine) -> int:
    """The outbox's last position so far."""
    async with engine.connect() as connection:
        return int(
            await connection.scalar(
                select(t.outbox.c.position).order_by(t.outbox.c.position.desc()).limit(1)
            )
            or 0
        )


async def test_the_next_instance_gets_an_open_copy_of_the_subtask_tree_once(
    engine: AsyncEngine,
) -> None:
    user = await make_user(engine)
    first = await add(engine, user, "Weekly review", due_at=DUE, recurrence=WEEKLY)
    inbox = await add(engine, user, "Inbox zero", parent_id=first, notes="all of it", tags=["home"])
    await add(
        engine,
        user,
        "Archive",
        parent_id=inbox,
        priority=Priority.HIGH,
        due_at=DUE - timedelta(hours=2),
    )
    await add(engine, user, "Reply", parent_id=inbox, tags=["Mail", "home"])
    await add(engine, user, "Plan week", parent_id=first, priority=Priority.LOW)
    await tasks.complete_task(uow=UnitOfWork(engine), user_id=user, task_id=first, now=NOW)
    before = await tree(engine, first)
    assert {row[4] for row in before} == {"DONE"}  # completing completed the subtasks too
    mark = await outbox_end(engine)

    next_due = DUE + timedelta(weeks=1)
    instance = await tasks.create_next_instance(
        uow=UnitOfWork(engine),
        user_id=user,
        completed_task_id=first,
        due_at=next_due,
        now=NOW,
        source="recurrence",
    )
    # A redelivered completion: the same instance, no second copy, no further event.
    again = await tasks.create_next_instance(
        uow=UnitOfWork(engine),
        user_id=user,
        completed_task_id=first,
        due_at=next_due,
        now=NOW,
        source="recurrence",
    )
    assert again.id == instance.id

    copied = await tree(engine, instance.id)
    assert copied == [
        (0, "Inbox zero", "all of it", Priority.NONE.value, "OPEN", None, ["home"]),
        # The due date keeps its distance to the instance's.
        (1, "Archive", "", Priority.HIGH.value, "OPEN", next_due - timedelta(hours=2), []),
        (1, "Reply", "", Priority.NONE.value, "OPEN", None, ["Mail", "home"]),
        (0, "Plan week", "", Priority.LOW.value, "OPEN", None, []),
    ]
    # The completed instance's tree is untouched.
    assert await tree(engine, first) == before
    events = await created_events(engine, mark)
    titles = [event["data"]["task"]["title"] for event in events]
    assert titles == ["Weekly review", "Inbox zero", "Plan week", "Archive", "Reply"]


async def test_a_recurring_subtask_copies_only_what_fits_in_its_tree(engine: AsyncEngine) -> None:
    user = await make_user(engine)
    top = await add(engine, user, "Project")
    series = await add(engine, user, "Daily", parent_id=top, due_at=DUE, recurrence=WEEKLY)
    groups = [await add(engine, user, f"group {n}", parent_id=series) for n in range(5)]
    for group in groups:
        for n in range(45):
            await add(engine, user, f"item {n}", parent_id=group)
    # The tree: top, the series' first instance, 5 groups and 225 items = 232 tasks.
    await tasks.complete_task(uow=UnitOfWork(engine), user_id=user, task_id=series, now=NOW)
    instance = await tasks.create_next_instance(
        uow=UnitOfWork(engine),
        user_id=user,
        completed_task_id=series,
        due_at=DUE + timedelta(weeks=1),
        now=NOW,
        source="recurrence",
    )
    copied = await tree(engine, instance.id)
    # 232 + the instance leaves room for 17 copies: the groups first, then items in order.
    assert len(copied) == TREE_MAX - 233 == 17
    assert [row[1] for row in copied if row[0] == 0] == [f"group {n}" for n in range(5)]
    assert [row[1] for row in copied if row[0] == 1] == [f"item {n}" for n in range(12)]


async def test_a_shared_series_copies_each_members_subtasks_in_the_project(
    engine: AsyncEngine,
) -> None:
    alice, bob = await make_account(engine), await make_account(engine)
    project = await projects.create_project(
        uow=UnitOfWork(engine), user_id=alice.id, name="Chores", color=None, now=NOW
    )
    invitation = await projects.invite(
        uow=UnitOfWork(engine),
        user_id=alice.id,
        project_id=project.id,
        email=bob.email,
        role=Role.EDITOR,
        now=NOW,
    )
    await projects.answer_invitation(
        uow=UnitOfWork(engine), user_id=bob.id, invitation_id=invitation.id, accept=True, now=NOW
    )
    series = await add(
        engine, alice.id, "Clean", due_at=DUE, recurrence=WEEKLY, project_id=project.id
    )
    await add(engine, bob.id, "Windows", parent_id=series, tags=["Glass"])
    await tasks.complete_task(uow=UnitOfWork(engine), user_id=bob.id, task_id=series, now=NOW)
    instance = await tasks.create_next_instance(
        uow=UnitOfWork(engine),
        user_id=alice.id,
        completed_task_id=series,
        due_at=DUE + timedelta(weeks=1),
        now=NOW,
        source="recurrence",
    )
    async with engine.connect() as connection:
        (copy,) = (
            await connection.execute(select(t.tasks).where(t.tasks.c.parent_id == instance.id))
        ).all()
        tag_project = await connection.scalar(
            select(t.tags.c.project_id)
            .join(t.task_tags, t.task_tags.c.tag_id == t.tags.c.id)
            .where(t.task_tags.c.task_id == copy.id)
        )
    # Bob's subtask stays Bob's, in the project, its tag in the project's tag set.
    assert (copy.title, copy.user_id, copy.project_id, copy.status) == (
        "Windows",
        bob.id,
        project.id,
        "OPEN",
    )
    assert tag_project == project.id
