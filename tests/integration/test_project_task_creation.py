"""createTask on a real PostgreSQL: in a project the role check tries the sibling list's lock in
the same statement (one round trip fewer), in the inbox the lock is not tried at all and the
create is two statements without BEGIN or COMMIT (the write, outbox row included, is its own
commit); a create never waits for a list another transaction holds; positions stay distinct
and in commit order when members create and move tasks in one list at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Task
from gateway_core.domain.positions import key_between, validate
from gateway_core.domain.projects import Role
from gateway_core.domain.users import new_user
from gateway_core.persistence import structure
from gateway_core.persistence import tables as t
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import projects, tasks
from gateway_core.services import structure as structure_service
from taskstream.errors import NotFound
from tests.integration.test_tag_link import links

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def _user(engine: AsyncEngine, name: str) -> uuid.UUID:
    user = new_user(email=f"{name}-{uuid.uuid4().hex[:8]}@example.com", timezone=None)
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "x")
        await uow.commit()
    return user.id


async def _shared_project(engine: AsyncEngine, members: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A project of an owner and `members - 1` editors: its id and the members' ids."""
    ids = [await _user(engine, f"creator{n}") for n in range(members)]
    project = await projects.create_project(
        uow=UnitOfWork(engine), user_id=ids[0], name="Positions", color=None, now=NOW
    )
    async with UnitOfWork(engine) as uow:
        loaded = await uow.projects.get(project.id)
        for member in ids[1:]:
            loaded.add_member(user_id=member, role=Role.EDITOR, now=NOW)
        await uow.projects.save(loaded)
        await uow.commit()
    return project.id, ids


async def _create(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    title: str,
    tags: list[str] | None = None,
    **place: Any,
) -> Any:
    return await tasks.create_task(
        uow=UnitOfWork(engine),
        user_id=user_id,
        title=title,
        notes=None,
        priority=None,
        tags=tags,
        due_at=None,
        recurrence=None,
        reminders=None,
        now=NOW,
        **place,
    )


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL text of every statement the engine sends while the block runs."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@asynccontextmanager
async def _transaction_control(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """BEGIN, COMMIT and ROLLBACK as asyncpg sends them on the connections the engine hands out
    while the block runs (statements outside a transaction send none)."""
    sent: list[str] = []
    logged: list[Any] = []

    def log(record: Any) -> None:
        if record.query.split()[0].rstrip(";") in {"BEGIN", "COMMIT", "ROLLBACK"}:
            sent.append(record.query)

    def checkout(adapted: Any, *_: Any) -> None:
        adapted._connection.add_query_logger(log)
        logged.append(adapted._connection)

    event.listen(engine.sync_engine, "checkout", checkout)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "checkout", checkout)
        await asyncio.sleep(0.05)  # asyncpg calls its loggers soon after, not at once
        for connection in logged:
            connection.remove_query_logger(log)


async def test_an_inbox_create_is_two_statements_without_begin_or_commit(
    engine: AsyncEngine,
) -> None:
    owner = await _user(engine, "inboxer")
    await _create(engine, owner, "first", tags=["Home"])
    async with _transaction_control(engine) as control:
        with _statements(engine) as sent:
            task = await _create(engine, owner, "second", tags=["home", "Garden"])
    # The read (last position, tiebreak, the tags' spelling) and the write of the row, tags,
    # links and the outbox row with the relay's wake-up, each on its own.
    assert len(sent) == 2, sent
    assert "max(position)" in sent[0]
    assert "gateway.outbox" in sent[1]
    assert "pg_notify" in sent[1]
    assert control == [], control
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.outbox.c.type, t.outbox.c.payload).where(
                    t.outbox.c.payload["data"]["task"]["id"].astext == str(task.id)
                )
            )
        ).all()
    assert [row.type for row in rows] == ["taskstream.task.created.v1"], rows
    assert await links(engine, task.id) == [("Home", 0), ("Garden", 1)]


async def test_a_create_that_fails_at_its_write_leaves_nothing(engine: AsyncEngine) -> None:
    owner = await _user(engine, "failer")
    taken = await _create(engine, owner, "first")
    before = await _counts(engine, owner)
    # A task id already taken: the one statement fails whole (no tag, no link, no event).
    original = Task.create

    def same_id(**fields: Any) -> Task:
        created = original(**fields)
        created.id = taken.id
        return created

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Task, "create", same_id)
        with pytest.raises(Exception, match="tasks_pkey"):
            await _create(engine, owner, "again", tags=["NewTag"])
    assert await _counts(engine, owner) == before


async def _counts(engine: AsyncEngine, owner: uuid.UUID) -> tuple[int | None, ...]:
    """The owner's tasks, tags and outbox rows."""
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(func.count()).where(t.tasks.c.user_id == owner)),
            await connection.scalar(select(func.count()).where(t.tags.c.user_id == owner)),
            await connection.scalar(
                select(func.count()).where(t.outbox.c.partition_key == str(owner))
            ),
        )


async def test_creating_in_a_project_locks_the_list_with_the_role_check(
    engine: AsyncEngine,
) -> None:
    project_id, (owner, *_) = await _shared_project(engine, 2)
    await _create(engine, owner, "first")
    with _statements(engine) as sent:
        task = await _create(engine, owner, "second", project_id=project_id)
    locking = [s for s in sent if "advisory_xact_lock" in s]
    # One statement both checks the membership and tries the list's lock; none locks it again.
    assert len(locking) == 1, sent
    assert "project_members" in locking[0]
    assert sum("max(position)" in s for s in sent) == 1
    validate(task.position)


async def test_an_inbox_create_neither_takes_nor_tries_its_lists_lock(
    engine: AsyncEngine,
) -> None:
    owner = await _user(engine, "tagger")
    first = await _create(engine, owner, "first", tags=["Home"])
    with _statements(engine) as sent:
        task = await _create(engine, owner, "second", tags=["home", "Garden"])
    assert not [s for s in sent if "advisory" in s], sent
    # The last position and the tiebreak's number: one statement.
    reads = [s for s in sent if "max(position)" in s]
    assert len(reads) == 1, sent
    assert "nextval" in reads[0]
    assert task.tags == ("Home", "Garden")
    async with engine.connect() as connection:
        payload = await connection.scalar(
            select(t.outbox.c.payload)
            .where(t.outbox.c.partition_key == str(owner))
            .order_by(t.outbox.c.position.desc())
            .limit(1)
        )
    # Its event carries the position and the tags as stored, not as given.
    assert payload is not None
    assert payload["data"]["task"]["tags"] == ["Home", "Garden"]
    assert payload["data"]["task"]["position"] == task.position
    validate(task.position)
    assert task.position.startswith(key_between(first.position, None))
    assert len(task.position) == len(key_between(first.position, None)) + 9


async def test_a_non_member_is_not_found_and_creates_nothing(engine: AsyncEngine) -> None:
    project_id, _ = await _shared_project(engine, 1)
    stranger = await _user(engine, "stranger")
    with pytest.raises(NotFound):
        await _create(engine, stranger, "intruder", project_id=project_id)
    async with engine.connect() as connection:
        titles = await connection.scalars(
            select(t.tasks.c.title).where(t.tasks.c.project_id == project_id)
        )
        assert list(titles) == []


async def test_a_lock_noted_by_one_transaction_is_not_trusted_by_the_next(
    engine: AsyncEngine,
) -> None:
    key = structure.ListKey(uuid.uuid4(), uuid.uuid4(), None, None)
    async with engine.connect() as connection:
        async with connection.begin():
            await structure.lock_list(connection, key)
            assert structure.holds_lock(connection, key)
        # Same pooled connection, a new transaction: the lock went with the commit.
        async with connection.begin():
            assert not structure.holds_lock(connection, key)
            await structure.lock_list(connection, key)
            assert structure.holds_lock(connection, key)
    assert not structure.holds_lock(connection, key)


async def test_members_creating_and_moving_at_once_keep_positions_distinct_and_ordered(
    engine: AsyncEngine,
) -> None:
    members = 5
    project_id, ids = await _shared_project(engine, members)
    section = await structure_service.create_section(
        uow=UnitOfWork(engine), user_id=ids[0], project_id=project_id, name="Doing", now=NOW
    )
    movers = [await _create(engine, ids[0], f"mover {n}") for n in range(6)]
    parent = await _create(engine, ids[0], "parent", project_id=project_id)

    async def create(n: int) -> Any:
        user = ids[n % members]
        if n % 3 == 0:
            return await _create(engine, user, f"top {n}", project_id=project_id)
        if n % 3 == 1:
            return await _create(engine, user, f"section {n}", section_id=section.id)
        return await _create(engine, user, f"subtask {n}", parent_id=parent.id)

    async def move(task: Any) -> Any:
        return await structure_service.move_task(
            uow=UnitOfWork(engine), user_id=ids[0], task_id=task.id, project_id=project_id, now=NOW
        )

    await asyncio.gather(*(create(n) for n in range(30)), *(move(task) for task in movers))
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(
                    t.tasks.c.section_id, t.tasks.c.parent_id, t.tasks.c.position, t.tasks.c.title
                ).where(t.tasks.c.project_id == project_id)
            )
        ).all()
    assert len(rows) == 30 + len(movers) + 1
    lists: dict[tuple[Any, Any], list[str]] = {}
    for row in rows:
        validate(row.position)
        lists.setdefault((row.section_id, row.parent_id), []).append(row.position)
    # Every create and move above committed (a shared position would have failed one of them
    # on tasks_sibling_position); the three lists' positions are distinct.
    assert sorted(len(p) for p in lists.values()) == [10, 10, 11 + len(movers)]
    for positions in lists.values():
        assert len(set(positions)) == len(positions), positions


async def test_a_task_created_after_another_commits_goes_after_it(engine: AsyncEngine) -> None:
    project_id, (owner, editor) = await _shared_project(engine, 2)
    created = []
    for n in range(6):
        created.append(
            await _create(engine, (owner, editor)[n % 2], f"n{n}", project_id=project_id)
        )
    positions = [task.position for task in created]
    assert positions == sorted(positions)


async def test_a_create_does_not_wait_for_a_list_another_transaction_holds(
    engine: AsyncEngine,
) -> None:
    owner = await _user(engine, "holder")
    first = await _create(engine, owner, "first", tags=["Work"])
    inbox = structure.ListKey(owner, None, None, None)
    async with engine.connect() as holder, holder.begin():
        # A move into the inbox would hold this lock until its commit.
        await structure.lock_list(holder, inbox)
        # With tags: their lookup tries the lock, and finds it held.
        second = await asyncio.wait_for(
            _create(engine, owner, "second", tags=["work", "new"]), timeout=30
        )
    assert second.tags == ("Work", "new")
    third = await _create(engine, owner, "third")
    for task in (first, second, third):
        validate(task.position)
    # The key is the successor of the last one with a tiebreak after it, whoever holds the
    # lock; keys do not grow from one append to the next.
    assert second.position.startswith(key_between(first.position, None))
    assert len(second.position) == len(key_between(first.position, None)) + 9
    assert first.position < second.position < third.position
    assert len(third.position) == len(second.position)


async def test_creates_in_one_inbox_at_once_keep_positions_distinct_and_after_the_last(
    engine: AsyncEngine,
) -> None:
    owner = await _user(engine, "busy")
    first = await _create(engine, owner, "first")
    created = await asyncio.gather(*(_create(engine, owner, f"n{n}") for n in range(24)))
    positions = [task.position for task in created]
    for position in positions:
        validate(position)
        assert position > first.position
    assert len(set(positions)) == len(positions), positions
    async with engine.connect() as connection:
        stored = await connection.scalars(
            select(t.tasks.c.position).where(t.tasks.c.user_id == owner)
        )
        assert sorted(stored) == sorted([first.position, *positions])
