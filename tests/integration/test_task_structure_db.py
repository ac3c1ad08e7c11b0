"""gateway_0006 on a real PostgreSQL: positions for existing tasks, the unique sibling guard,
and the plans of the manual order and the subtasks loader."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import TaskStatus
from gateway_core.domain.positions import key_between, validate
from gateway_core.persistence import reads
from gateway_core.persistence import tables as t
from taskstream.persistence.db import migrate

pytestmark = pytest.mark.integration

USER = uuid.UUID("00000000-0000-0000-0000-0000000000a6")


def _task(user: uuid.UUID, title: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "user_id": user,
        "title": title,
        "notes": "",
        "status": "OPEN",
        "priority": 0,
        "instance_number": 1,
        "created_at": created,
        "updated_at": created,
        "version": 1,
        **extra,
    }


async def test_existing_tasks_get_valid_positions_in_creation_order(
    scratch_engine: AsyncEngine,
) -> None:
    await migrate(scratch_engine, revision="gateway_0005")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with scratch_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
                f"VALUES ('{USER}', 'old6@example.com', 'old6@example.com', 'x', 'UTC')"
            )
        )
        # Inserted out of creation order: the positions follow created_at, not insertion.
        for minutes in (5, 1, 70, 3):
            await connection.execute(
                text(
                    "INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, "
                    "instance_number, created_at, updated_at, version) VALUES "
                    f"(gen_random_uuid(), '{USER}', 'created +{minutes}', '', 'OPEN', 0, 1, "
                    ":at, :at, 1)"
                ),
                {"at": start + timedelta(minutes=minutes)},
            )
    await migrate(scratch_engine)
    async with scratch_engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT title, position, section_id, parent_id FROM gateway.tasks "
                    "ORDER BY position"
                )
            )
        ).all()
    assert [r.title for r in rows] == ["created +1", "created +3", "created +5", "created +70"]
    assert all(r.section_id is None and r.parent_id is None for r in rows)
    for row in rows:
        validate(row.position)
    # New tasks append after them with the ordinary key arithmetic.
    assert key_between(rows[-1].position, None) > rows[-1].position


async def test_a_bulk_insert_without_positions_gets_distinct_valid_ones(
    engine: AsyncEngine,
) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        user = await _user(connection)
        await connection.execute(
            insert(t.tasks), [_task(user, f"bulk {i}", now) for i in range(50)]
        )
        positions = (
            (
                await connection.execute(
                    text("SELECT position FROM gateway.tasks WHERE user_id = :u"), {"u": user}
                )
            )
            .scalars()
            .all()
        )
    assert len(set(positions)) == 50
    for position in positions:
        validate(position)


async def test_siblings_never_share_a_position(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        user = await _user(connection)
        await connection.execute(insert(t.tasks).values(**_task(user, "one", now, position="a0")))
    with pytest.raises(IntegrityError, match="tasks_sibling_position"):
        async with engine.begin() as connection:
            await connection.execute(
                insert(t.tasks).values(**_task(user, "two", now, position="a0"))
            )


async def _plan(engine: AsyncEngine, statement: Any) -> str:
    """The plan of a statement with sequential scans discouraged (the test tables are tiny)."""
    async with engine.connect() as connection:
        await connection.execute(text("SET enable_seqscan = off"))
        # And no bitmap scan, which a table grown by the rest of the suite can prefer.
        await connection.execute(text("SET enable_bitmapscan = off"))
        # Nor a sort of the few rows estimated: what is asked is whether an index gives the
        # order, and with a handful of rows either is as cheap (the choice flipped in CI).
        await connection.execute(text("SET enable_sort = off"))
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        rows = await connection.execute(text(f"EXPLAIN {compiled}"))
        plan = "\n".join(row[0] for row in rows)
        await connection.execute(text("RESET enable_seqscan"))
        await connection.execute(text("RESET enable_bitmapscan"))
        await connection.execute(text("RESET enable_sort"))
    return plan


async def test_the_manual_order_of_a_project_list_reads_its_index(engine: AsyncEngine) -> None:
    # The statement tasks(filter: {projectId, topLevel: true}, orderBy: MANUAL) runs.
    from sqlalchemy import select

    user, project = uuid.uuid4(), uuid.uuid4()
    conditions = reads.filter_conditions(
        user, reads.TaskQuery(project_id=project, top_level=True), now=datetime.now(UTC)
    )
    statement = (
        select(t.tasks).where(*conditions).order_by(t.tasks.c.position, t.tasks.c.id).limit(51)
    )
    plan = await _plan(engine, statement)
    assert "tasks_project_manual" in plan, plan
    assert "Sort" not in plan.split("tasks_project_manual")[0], plan


async def test_the_manual_order_of_the_inbox_reads_its_index(engine: AsyncEngine) -> None:
    from sqlalchemy import select

    user = uuid.uuid4()
    conditions = reads.filter_conditions(
        user, reads.TaskQuery(inbox=True, top_level=True), now=datetime.now(UTC)
    )
    statement = (
        select(t.tasks).where(*conditions).order_by(t.tasks.c.position, t.tasks.c.id).limit(51)
    )
    plan = await _plan(engine, statement)
    assert "tasks_inbox_manual" in plan, plan
    assert "Sort" not in plan.split("tasks_inbox_manual")[0], plan


async def test_the_subtasks_loader_reads_the_parent_index(engine: AsyncEngine) -> None:
    from sqlalchemy import select

    parents = [uuid.uuid4() for _ in range(20)]
    statement = (
        select(t.tasks)
        .where(t.tasks.c.parent_id.in_(parents))
        .order_by(t.tasks.c.parent_id, t.tasks.c.position, t.tasks.c.id)
    )
    plan = await _plan(engine, statement)
    assert "tasks_parent_position" in plan, plan


async def _user(connection: Any) -> uuid.UUID:
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


async def _project(connection: Any, owner: uuid.UUID, now: datetime) -> uuid.UUID:
    project = uuid.uuid4()
    await connection.execute(
        insert(t.projects).values(
            id=project, name="p", created_by=owner, created_at=now, updated_at=now, version=1
        )
    )
    await connection.execute(
        insert(t.project_members).values(
            project_id=project, user_id=owner, role="OWNER", added_at=now
        )
    )
    return project


@pytest.mark.parametrize("descending", [False, True])
async def test_pages_over_both_scopes_are_their_merged_order_without_gaps(
    engine: AsyncEngine, descending: bool
) -> None:
    # The page statement reads the personal space and the member projects apart and merges
    # them: paged three at a time, everything visible comes once, in order, and nothing else.
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        me, stranger = await _user(connection), await _user(connection)
        mine, theirs = (
            await _project(connection, me, now),
            await _project(connection, stranger, now),
        )
        visible: list[uuid.UUID] = []
        for n in range(14):
            created = now - timedelta(minutes=n)
            # Every row names project_id: an executemany takes its columns from the first row.
            own = _task(me, f"own {n}", created, project_id=None)
            shared = _task(stranger, f"shared {n}", created + timedelta(seconds=1), project_id=mine)
            hidden = [
                _task(stranger, f"hidden {n}", created, project_id=theirs),
                _task(stranger, f"other {n}", created, project_id=None),
            ]
            # Runs of each scope, not strict alternation: a page can be all one scope.
            rows = [own, shared] if n % 4 < 2 else [own]
            await connection.execute(insert(t.tasks), [*rows, *hidden])
            visible += [row["id"] for row in rows]
    order = [(reads.SortField.CREATED_AT, descending)]
    async with engine.connect() as connection:
        expected = [
            row.id
            for row in await connection.execute(
                select(t.tasks.c.id, t.tasks.c.created_at)
                .where(t.tasks.c.id.in_(visible))
                .order_by(
                    t.tasks.c.created_at.desc() if descending else t.tasks.c.created_at,
                    t.tasks.c.id,  # the tie-break, ascending either way
                )
            )
        ]
        seen: list[uuid.UUID] = []
        after: str | None = None
        while True:
            page = await reads.task_page(
                connection,
                user_id=me,
                query=reads.TaskQuery(),
                order=order,
                first=3,
                after=after,
                now=now,
            )
            seen += [task.id for task in page.records]
            if not page.has_next_page:
                break
            after = page.cursors[-1]
    assert seen == expected


# Queries over mixed scopes: the whole view, each scope alone, one project, a word, a filter.
COUNTED_QUERIES = {
    "everything": reads.TaskQuery(),
    "personal space": reads.TaskQuery(inbox=True),
    "projects": reads.TaskQuery(inbox=False),
    "a word": reads.TaskQuery(text="alpha"),
    "a word in projects": reads.TaskQuery(text="alpha", inbox=False),
    "done, top level": reads.TaskQuery(status=TaskStatus.DONE, top_level=True),
    "assigned to me": reads.TaskQuery(assigned_to_me=True),
}


@pytest.mark.parametrize("name", list(COUNTED_QUERIES))
async def test_counts_equal_the_pages_over_both_scopes(engine: AsyncEngine, name: str) -> None:
    # totalCount reads the scopes apart as the page does: it counts what paging reaches.
    query = COUNTED_QUERIES[name]
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        me, member, stranger = [await _user(connection) for _ in range(3)]
        shared, hidden = (
            await _project(connection, member, now),
            await _project(connection, stranger, now),
        )
        await connection.execute(
            insert(t.project_members).values(
                project_id=shared, user_id=me, role="EDITOR", added_at=now
            )
        )
        rows: list[dict[str, Any]] = []
        for n in range(30):
            created = now - timedelta(minutes=n)
            title = ("alpha " if n % 3 == 0 else "beta ") + str(n)
            extra = {"status": "DONE" if n % 4 == 0 else "OPEN", "assignee_id": None}
            rows += [
                _task(me, title, created, **extra, project_id=None),
                _task(member, title, created, **{**extra, "assignee_id": me}, project_id=shared),
                _task(me, title, created, **extra, project_id=shared),
                _task(stranger, title, created, **extra, project_id=hidden),
                _task(stranger, title, created, **extra, project_id=None),
            ]
        await connection.execute(insert(t.tasks), rows)
        # Subtasks in both scopes: top_level leaves them out of either.
        subtasks = [
            _task(me, "alpha sub", now, project_id=None, parent_id=rows[0]["id"]),
            _task(me, "alpha sub", now, project_id=shared, parent_id=rows[1]["id"]),
        ]
        await connection.execute(insert(t.tasks), subtasks)
    visible = {
        row["id"]
        for row in [*rows, *subtasks]
        if row["project_id"] == shared or (row["user_id"] == me and row["project_id"] is None)
    }
    async with engine.connect() as connection:
        paged: list[uuid.UUID] = []
        after: str | None = None
        while True:
            page = await reads.task_page(
                connection, user_id=me, query=query, order=None, first=7, after=after, now=now
            )
            paged += [task.id for task in page.records]
            if not page.has_next_page:
                break
            after = page.cursors[-1]
        counted = await reads.count_tasks(connection, user_id=me, query=query, now=now)
    assert len(set(paged)) == len(paged)
    assert set(paged) <= visible
    assert counted == len(paged) > 0
