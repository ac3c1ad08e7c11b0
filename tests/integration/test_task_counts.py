"""gateway_0015 on a real PostgreSQL: the kept task counts follow every kind of write, from
concurrent transactions too, and `totalCount` read from them equals the tasks counted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway_core.domain.model import TaskStatus
from gateway_core.persistence import reads
from gateway_core.persistence import tables as t
from taskstream.persistence.db import migrate

pytestmark = pytest.mark.integration

OPEN, DONE = TaskStatus.OPEN, TaskStatus.DONE

# Every query the counts answer, over the scopes of the tests' users.
KEPT_QUERIES = [
    reads.TaskQuery(),
    reads.TaskQuery(status=OPEN),
    reads.TaskQuery(status=DONE, top_level=True),
    reads.TaskQuery(top_level=False),
    reads.TaskQuery(inbox=True, status=OPEN),
    reads.TaskQuery(inbox=False),
    reads.TaskQuery(inbox=False, status=OPEN, top_level=True),
    reads.TaskQuery(text="   ", status=OPEN),
]


def _task(user: uuid.UUID, project: uuid.UUID | None, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uuid.uuid4(),
        "user_id": user,
        "project_id": project,
        "title": "counted",
        "notes": "",
        "status": "OPEN",
        "priority": 0,
        "instance_number": 1,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **extra,
    }


async def _user(connection: AsyncConnection) -> uuid.UUID:
    user = uuid.uuid4()
    await connection.execute(
        insert(t.users).values(
            id=user,
            email=f"{user}@example.com",
            email_key=f"{user}@example.com",
            password_hash="x",
            timezone="UTC",
        )
    )
    return user


async def _project(connection: AsyncConnection, *members: uuid.UUID) -> uuid.UUID:
    project, now = uuid.uuid4(), datetime.now(UTC)
    await connection.execute(
        insert(t.projects).values(
            id=project, name="p", created_by=members[0], created_at=now, updated_at=now, version=1
        )
    )
    for member in members:
        await connection.execute(
            insert(t.project_members).values(
                project_id=project, user_id=member, role="EDITOR", added_at=now
            )
        )
    return project


async def _kept(connection: AsyncConnection, scopes: list[uuid.UUID]) -> dict[tuple[Any, ...], int]:
    """The kept counts of these scopes (each key's rows added up), zeros left out."""
    c = t.task_counts.c
    key = (c.scope, c.personal, c.status, c.top_level)
    rows = await connection.execute(
        select(*key, func.sum(c.tasks))
        .where(c.scope.in_(scopes))
        .group_by(*key)
        .having(func.sum(c.tasks) != 0)
    )
    return {tuple(row[:4]): row[4] for row in rows}


async def _counted(
    connection: AsyncConnection, scopes: list[uuid.UUID]
) -> dict[tuple[Any, ...], int]:
    """The same counts, counted from the tasks."""
    tasks = t.tasks.c
    scope = func.coalesce(tasks.project_id, tasks.user_id)
    key = (scope, tasks.project_id.is_(None), tasks.status, tasks.parent_id.is_(None))
    rows = await connection.execute(
        select(*key, func.count()).where(scope.in_(scopes)).group_by(*key)
    )
    return {tuple(row[:4]): row[4] for row in rows}


async def _assert_counts_hold(
    connection: AsyncConnection, users: list[uuid.UUID], scopes: list[uuid.UUID]
) -> None:
    assert await _kept(connection, scopes) == await _counted(connection, scopes)
    now = datetime.now(UTC)
    for user in users:
        for query in KEPT_QUERIES:
            assert reads.kept_count(query)
            general = (
                select(func.count())
                .select_from(t.tasks)
                .where(*reads.filter_conditions(user, query, now=now))
            )
            kept = await reads.count_tasks(connection, user_id=user, query=query, now=now)
            assert kept == await connection.scalar(general), query


async def test_counts_follow_every_kind_of_write(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        me, other = await _user(connection), await _user(connection)
        shared, mine_only = await _project(connection, me, other), await _project(connection, me)
        scopes = [me, other, shared, mine_only]
        personal = [_task(me, None) for _ in range(6)] + [_task(other, None) for _ in range(2)]
        in_shared = [_task(other, shared, status="DONE") for _ in range(3)]
        # One statement, many rows, several keys.
        await connection.execute(insert(t.tasks), personal + in_shared)
        await _assert_counts_hold(connection, [me, other], scopes)

        parent, child = personal[0]["id"], personal[1]["id"]
        # Made a subtask; completed; reopened with a title edit; moved to a project.
        steps = [
            update(t.tasks).where(t.tasks.c.id == child).values(parent_id=parent),
            update(t.tasks).where(t.tasks.c.user_id == me).values(status="DONE"),
            update(t.tasks).where(t.tasks.c.id == parent).values(status="OPEN", title="again"),
            update(t.tasks).where(t.tasks.c.id.in_([parent, child])).values(project_id=shared),
            update(t.tasks).where(t.tasks.c.id == personal[2]["id"]).values(title="no key"),
            update(t.tasks).where(t.tasks.c.id == uuid.uuid4()).values(title="no row"),
            delete(t.tasks).where(t.tasks.c.id == child),
            delete(t.tasks).where(t.tasks.c.project_id == shared),
        ]
        for step in steps:
            await connection.execute(step)
            await _assert_counts_hold(connection, [me, other], scopes)
        await connection.execute(insert(t.tasks), [_task(me, mine_only) for _ in range(4)])
        await _assert_counts_hold(connection, [me, other], scopes)


async def test_writes_rolled_back_leave_the_counts_as_they_were(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        me = await _user(connection)
        await connection.execute(insert(t.tasks), [_task(me, None) for _ in range(2)])
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(insert(t.tasks), [_task(me, None) for _ in range(5)])
        await transaction.rollback()
        assert await _kept(connection, [me]) == {(me, True, "OPEN", True): 2}


async def test_concurrent_writers_to_one_scope_all_count(engine: AsyncEngine) -> None:
    # Each writer's upsert waits for the key's lock and adds to what the last one committed.
    async with engine.begin() as connection:
        users = [await _user(connection) for _ in range(8)]
        project = await _project(connection, *users)
        await connection.execute(insert(t.tasks), [_task(users[0], project) for _ in range(8)])
        listed = await connection.execute(
            select(t.tasks.c.id).where(t.tasks.c.project_id == project)
        )
        ids = listed.scalars().all()

    async def writer(n: int) -> None:
        for round_ in range(5):
            async with engine.begin() as connection:
                await connection.execute(insert(t.tasks), [_task(users[n], project)])
                done = ids[(n + round_) % len(ids)]
                status = "DONE" if round_ % 2 == 0 else "OPEN"
                await connection.execute(
                    update(t.tasks).where(t.tasks.c.id == done).values(status=status)
                )

    await asyncio.gather(*(writer(n) for n in range(8)))
    async with engine.connect() as connection:
        await _assert_counts_hold(connection, users[:2], [project])
        assert (
            await reads.count_tasks(
                connection, user_id=users[3], query=reads.TaskQuery(), now=datetime.now(UTC)
            )
            == 8 + 8 * 5
        )


async def test_writers_of_the_same_keys_never_wait_for_each_other(engine: AsyncEngine) -> None:
    # Two transactions write a personal and a project key in opposite orders, both open: with
    # one row a key the second would wait for the first's row, and the first then deadlock.
    # (Titles of new words each: a word new to the user is a row of `search_words` too.)
    async with engine.begin() as connection:
        me = await _user(connection)
        project = await _project(connection, me)
        # Each key has a committed row for both to find.
        await connection.execute(insert(t.tasks), [_task(me, None), _task(me, project)])
    async with engine.connect() as first, engine.connect() as second:
        for connection in (first, second):
            await connection.begin()
            await connection.execute(text("SET LOCAL lock_timeout = '500ms'"))
        await first.execute(insert(t.tasks), [_task(me, None, title=f"w{uuid.uuid4().hex}")])
        await second.execute(insert(t.tasks), [_task(me, project, title=f"w{uuid.uuid4().hex}")])
        await second.execute(insert(t.tasks), [_task(me, None, title=f"w{uuid.uuid4().hex}")])
        await first.execute(insert(t.tasks), [_task(me, project, title=f"w{uuid.uuid4().hex}")])
        await first.commit()
        await second.commit()
    async with engine.connect() as connection:
        await _assert_counts_hold(connection, [me], [me, project])
        assert await _kept(connection, [me, project]) == {
            (me, True, "OPEN", True): 3,
            (project, False, "OPEN", True): 3,
        }


async def test_migration_counts_the_tasks_already_there(scratch_engine: AsyncEngine) -> None:
    await migrate(scratch_engine, revision="gateway_0014")
    async with scratch_engine.begin() as connection:
        me = await _user(connection)
        project = await _project(connection, me)
        await connection.execute(
            insert(t.tasks),
            [_task(me, None) for _ in range(3)] + [_task(me, project, status="DONE")],
        )
    await migrate(scratch_engine)
    async with scratch_engine.begin() as connection:
        assert await _kept(connection, [me, project]) == {
            (me, True, "OPEN", True): 3,
            (project, False, "DONE", True): 1,
        }
        # A load that skipped the triggers is counted again by the recount.
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(insert(t.tasks), [_task(me, None) for _ in range(2)])
        await connection.execute(text("SET LOCAL session_replication_role = origin"))
        assert (await _kept(connection, [me]))[(me, True, "OPEN", True)] == 3
        await connection.execute(text("SELECT gateway.recount_tasks()"))
        await _assert_counts_hold(connection, [me], [me, project])
        await connection.execute(text("TRUNCATE gateway.tasks CASCADE"))
        assert await connection.scalar(select(func.count()).select_from(t.task_counts)) == 0
