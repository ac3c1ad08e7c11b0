"""A task's tags are written in one statement; a tag another transaction creates meanwhile
is still linked by that statement (no tag of a task is ever dropped, and a create whose
statement is its whole commit needs no second one)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import tag_key
from gateway_core.domain.users import new_user
from gateway_core.persistence import tables as t
from gateway_core.persistence.repositories import TagRepository
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import tasks

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def untagged_task(engine: AsyncEngine) -> tuple[uuid.UUID, uuid.UUID]:
    """(user id, task id) of a new account's task without tags."""
    user = new_user(email=f"linker-{uuid.uuid4().hex[:8]}@example.com", timezone=None)
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "x")
        await uow.commit()
    task = await tasks.create_task(
        uow=UnitOfWork(engine),
        user_id=user.id,
        title="to tag",
        notes=None,
        priority=None,
        tags=None,
        due_at=None,
        recurrence=None,
        reminders=None,
        now=NOW,
    )
    return user.id, task.id


async def links(engine: AsyncEngine, task_id: uuid.UUID) -> list[tuple[str, int]]:
    """(tag name, position) of the task's links, in order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.tags.c.name, t.task_tags.c.position)
            .join(t.task_tags, t.task_tags.c.tag_id == t.tags.c.id)
            .where(t.task_tags.c.task_id == task_id)
            .order_by(t.task_tags.c.position)
        )
        return [(row.name, row.position) for row in rows]


async def test_new_and_existing_tags_are_linked_in_order_in_one_statement(
    engine: AsyncEngine,
) -> None:
    user_id, task_id = await untagged_task(engine)
    async with engine.begin() as connection:
        await connection.execute(
            insert(t.tags).values(
                id=uuid.uuid4(), user_id=user_id, name="Home", name_key=tag_key("Home")
            )
        )
    statements: list[str] = []
    async with engine.begin() as connection:

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(connection.sync_connection, "before_cursor_execute", count)
        await TagRepository(connection).link(task_id, user_id, ["work", "home", "Later"])
        event.remove(connection.sync_connection, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    # The existing tag keeps its spelling; the new ones are created as given.
    assert await links(engine, task_id) == [("work", 0), ("Home", 1), ("Later", 2)]


async def blocked_on_a_lock(engine: AsyncEngine, table: str) -> None:
    """Return once a transaction that wrote to `table` waits for another one's row lock.

    (By its locks, not its query text: for a statement prepared on a fresh connection,
    pg_stat_activity shows asyncpg's type introspection query instead.)
    """
    async with engine.connect() as connection:
        while not await connection.scalar(
            text(
                "SELECT count(*) > 0 FROM pg_stat_activity AS waiting "
                "JOIN pg_locks AS wrote ON wrote.pid = waiting.pid "
                "WHERE waiting.wait_event_type = 'Lock' "
                "AND waiting.wait_event = 'transactionid' "
                "AND wrote.relation = CAST(:table AS regclass) AND wrote.mode = 'RowExclusiveLock'"
            ),
            {"table": table},
        ):
            await asyncio.sleep(0.01)


async def test_a_tag_created_by_another_transaction_meanwhile_is_still_linked(
    engine: AsyncEngine,
) -> None:
    user_id, task_id = await untagged_task(engine)
    async with engine.connect() as other, engine.connect() as mine:
        # Another transaction creates "Race" and has not committed yet...
        await other.begin()
        await other.execute(
            insert(t.tags).values(
                id=uuid.uuid4(), user_id=user_id, name="Race", name_key=tag_key("Race")
            )
        )
        await mine.begin()
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(mine.sync_connection, "before_cursor_execute", count)
        linking = asyncio.ensure_future(
            TagRepository(mine).link(task_id, user_id, ["race", "other"])
        )
        # ...while this one's statement waits on it, then sees it committed: its snapshot
        # has no "Race", its INSERT conflicts with the committed row and DO UPDATE returns
        # that row, so the same statement links it.
        await asyncio.wait_for(blocked_on_a_lock(engine, "gateway.task_tags"), timeout=60)
        await other.commit()
        await linking
        event.remove(mine.sync_connection, "before_cursor_execute", count)
        await mine.commit()
    assert len(statements) == 1, statements
    assert await links(engine, task_id) == [("Race", 0), ("other", 1)]
