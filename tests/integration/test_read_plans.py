"""Reads cost what their user can see, in plans whose cost does not grow with others' data.

A tag filter's count joins the named tags' links once, whatever their number. Inside the OR of
the visible scopes PostgreSQL ran the filter's IN as a subplan, hashed only while the links fit
in work_mem; past that it scanned them again for every task (anyTags of five common tags over
100,000 tasks: 277 s; bench/abuse.py). The plan's shape says which: a semi-join beside the
scopes, or a subplan per task. work_mem at its minimum stands in for the links of a large
account. The projects scope looks up the user's projects, never every project's tasks, and a
member's page reads a page of each project, not every task of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway_core.domain.model import TaskStatus
from gateway_core.persistence import reads

pytestmark = pytest.mark.integration

NAMES = [f"tag{n}" for n in range(20)]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(plan: dict[str, Any]) -> set[str]:
    """The relations a plan (or subplan) reads."""
    return {node["Relation Name"] for node in nodes(plan) if "Relation Name" in node}


@pytest.mark.parametrize(
    "query",
    [reads.TaskQuery(any_tags=NAMES), reads.TaskQuery(all_tags=NAMES)],
    ids=["anyTags", "allTags"],
)
async def test_a_tag_filter_count_reads_the_links_in_a_join_not_per_task(
    engine: AsyncEngine, query: reads.TaskQuery
) -> None:
    statement = reads.count_statement(
        user_id=uuid.uuid4(), query=query, now=datetime.now(UTC), close={}
    )
    async with engine.connect() as connection:
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
        await connection.execute(text("SET LOCAL work_mem = '64kB'"))
        explained: Any = (
            await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, arguments)
        ).scalar()
        await connection.rollback()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    assert "task_tags" in scans(plan)
    subplans = [node for node in nodes(plan) if node.get("Parent Relationship") == "SubPlan"]
    assert all("task_tags" not in scans(node) for node in subplans), json.dumps(plan)[:3000]


async def add_tasks(
    connection: AsyncConnection,
    *,
    user: uuid.UUID,
    personal: int,
    projects: int,
    per_project: int,
    member: bool,
) -> list[uuid.UUID]:
    """`user`'s personal tasks and a team's projects (with `user` in every one of them if
    `member`), due every hour or undated, of five priorities and 97 titles, then statistics, as
    a loaded database has them.
    Returns the projects."""
    owner = uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(projects)]
    await connection.execute(
        text(
            "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
            "SELECT id, id::text, id::text, 'x', 'UTC' FROM unnest(CAST(:ids AS uuid[])) id"
        ),
        {"ids": [user, owner]},
    )
    await connection.execute(
        text(
            "INSERT INTO gateway.projects (id, name, created_by, created_at, updated_at, "
            "version) SELECT id, 'team', :owner, now(), now(), 1 "
            "FROM unnest(CAST(:ids AS uuid[])) id"
        ),
        {"ids": ids, "owner": owner},
    )
    if member:
        await connection.execute(
            text(
                "INSERT INTO gateway.project_members (project_id, user_id, role, added_at) "
                "SELECT id, :user, 'EDITOR', now() FROM unnest(CAST(:ids AS uuid[])) id"
            ),
            {"ids": ids, "user": user},
        )
    await connection.execute(
        text(
            "INSERT INTO gateway.tasks (id, user_id, project_id, title, notes, status, "
            "priority, due_at, instance_number, created_at, updated_at, version) "
            "SELECT gen_random_uuid(), CASE WHEN n <= :personal THEN CAST(:user AS uuid) "
            "ELSE CAST(:owner AS uuid) END, "
            "CASE WHEN n > :personal THEN (CAST(:ids AS uuid[]))[1 + n % :projects] END, "
            "'t' || (n * 31 % 97), '', 'OPEN', n % 5, "
            "CASE WHEN n % 7 > 0 THEN now() + (n * 7919 % 1000) * interval '1 hour' END, "
            "0, now(), now(), 1 FROM generate_series(1, :tasks) n"
        ),
        {
            "user": user,
            "owner": owner,
            "ids": ids,
            "personal": personal,
            "projects": projects,
            "tasks": personal + projects * per_project,
        },
    )
    await connection.execute(text("ANALYZE gateway.tasks"))
    return ids


async def analyzed(connection: AsyncConnection, statement: Any) -> tuple[list[Any], dict[str, Any]]:
    """The statement's rows, and its EXPLAIN ANALYZE plan (JSON)."""
    compiled = statement.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
    rows = list((await connection.exec_driver_sql(compiled.string, arguments)).all())
    explained: Any = (
        await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, arguments
        )
    ).scalar()
    return rows, (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]


async def first_page(
    connection: AsyncConnection,
    user: uuid.UUID,
    query: reads.TaskQuery,
    first: int,
    order: list[tuple[reads.SortField, bool]] | None = None,
) -> tuple[list[Any], dict[str, Any]]:
    """The user's first page (in the default order unless given), and its plan."""
    page = reads.page_statement(
        user_id=user,
        query=query,
        order=order,
        first=first,
        after=None,
        now=datetime.now(UTC),
        close={},
    )
    return await analyzed(connection, page.statement)


async def index_walks_only(connection: AsyncConnection) -> None:
    """For the rest of the transaction, plans walk an index where one can give the order.

    Over the tables the rest of the suite has grown, a sequential scan, a bitmap or a sort of
    the rows is as cheap as the walk and PostgreSQL's choice varied between runs; the tests
    that use this ask where an index walk starts, or whether an index gives the order at all
    (a sort still comes when none can).
    """
    for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        await connection.execute(text(f"SET LOCAL {setting} = off"))


def rows_read(plan: dict[str, Any], table: str) -> list[float]:
    """Per node that reads the table or one of its indexes, every row it produced or threw
    away, over all its loops."""
    return [
        (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        * node.get("Actual Loops", 1)
        for node in nodes(plan)
        if node.get("Relation Name") == table or node.get("Index Name", "").startswith(f"{table}_")
    ]


def tasks_read(plan: dict[str, Any]) -> list[float]:
    """`rows_read` of the tasks table."""
    return rows_read(plan, "tasks")


@pytest.mark.parametrize(
    ("query", "table", "most"),
    [
        # Counted from the tasks (a filter the kept counts do not hold): the stranger's ten.
        (reads.TaskQuery(assigned_to_me=False), "tasks", 10),
        # Added up from the kept counts: the stranger's one key, and no task at all.
        (reads.TaskQuery(), "task_counts", 1),
    ],
    ids=["counted", "kept"],
)
async def test_a_count_reads_only_the_projects_the_user_belongs_to(
    engine: AsyncEngine, query: reads.TaskQuery, table: str, most: int
) -> None:
    """Another team's project tasks cost nothing to the count of a user outside that team.

    With the member's projects as `IN (subquery)` beside the scopes' OR, PostgreSQL scanned every
    project task of the database and filtered them by a hashed subplan (a user in no project:
    141 ms over 305,000 project tasks).
    """
    stranger = uuid.uuid4()
    async with engine.connect() as connection:
        await add_tasks(
            connection, user=stranger, personal=10, projects=100, per_project=200, member=False
        )
        # The counts of 20,000 other scopes, as a database of many accounts has: over a few
        # pages of them (the suite's own), a sequential scan is PostgreSQL's right choice.
        await connection.execute(
            text(
                "INSERT INTO gateway.task_counts (scope, personal, status, top_level, shard, "
                "tasks) SELECT gen_random_uuid(), n % 2 = 0, 'OPEN', true, 0, 3 "
                "FROM generate_series(1, 20000) n"
            )
        )
        await connection.execute(text("ANALYZE gateway.task_counts"))
        statement = reads.count_statement(
            user_id=stranger, query=query, now=datetime.now(UTC), close={}
        )
        rows, plan = await analyzed(connection, statement)
        await connection.rollback()
    assert rows[0][0] == 10
    # None of the projects' rows.
    assert max(rows_read(plan, table), default=0) <= most, json.dumps(plan)[:3000]
    if table != "tasks":
        assert not tasks_read(plan), json.dumps(plan)[:3000]


# Orders a project index holds, and the same order in SQL (ties by id in its direction).
INDEXED_ORDERS: dict[str, tuple[list[tuple[reads.SortField, bool]] | None, str]] = {
    "default": (None, "coalesce(t.due_at, 'infinity'), t.created_at, t.id"),
    "priority, descending": ([(reads.SortField.PRIORITY, True)], "t.priority DESC, t.id DESC"),
    "created": ([(reads.SortField.CREATED_AT, False)], "t.created_at, t.id"),
    "updated, descending": (
        [(reads.SortField.UPDATED_AT, True)],
        "t.updated_at DESC, t.id DESC",
    ),
    "title": ([(reads.SortField.TITLE, False)], "lower(t.title), t.id"),
}


@pytest.mark.parametrize("name", list(INDEXED_ORDERS))
async def test_a_members_page_reads_each_project_up_to_the_page_size(
    engine: AsyncEngine, name: str
) -> None:
    """A member's first page in an order a project index holds merges each project's first
    page.

    One page over all the member's projects sorted every task of them (a member of 91 projects:
    184,000 open tasks sorted for 50, 143 ms; 9 ms when each project's page walks its index).
    """
    order, order_sql = INDEXED_ORDERS[name]
    member, first = uuid.uuid4(), 10
    async with engine.connect() as connection:
        await add_tasks(
            connection, user=member, personal=300, projects=20, per_project=300, member=True
        )
        # Of one status: the other orders' indexes hold each status apart.
        query = reads.TaskQuery(status=TaskStatus.OPEN)
        rows, plan = await first_page(connection, member, query, first, order)
        # The same first rows as sorting everything the member sees.
        everything = (
            await connection.execute(
                text(
                    "SELECT t.id FROM gateway.tasks t WHERE t.user_id = :member AND "
                    "t.project_id IS NULL OR t.project_id IN (SELECT project_id FROM "
                    f"gateway.project_members WHERE user_id = :member) ORDER BY {order_sql} "
                    "LIMIT :n"
                ),
                {"member": member, "n": first + 1},
            )
        ).all()
        await connection.rollback()
    assert [row.id for row in rows] == [row.id for row in everything]
    # At most a page (and the row after it) from the personal space and from each project,
    # each counted once in its index and once in the table.
    assert sum(tasks_read(plan)) <= (first + 1) * 21 * 2, json.dumps(plan)[:3000]


async def tag(
    connection: AsyncConnection,
    name: str,
    *,
    project: uuid.UUID | None = None,
    user: uuid.UUID | None = None,
    tasks: int | None = None,
) -> None:
    """A tag of the project's set (or the user's own) on `tasks` of its tasks (or on all)."""
    tag_id = uuid.uuid4()
    await connection.execute(
        text(
            "INSERT INTO gateway.tags (id, user_id, name, name_key, project_id) "
            "VALUES (:id, :user, :name, lower(:name), :project)"
        ),
        {"id": tag_id, "user": user, "name": name, "project": project},
    )
    scope = "project_id = :project" if project else "user_id = :user AND project_id IS NULL"
    await connection.execute(
        text(
            "INSERT INTO gateway.task_tags (task_id, tag_id, position) SELECT id, :tag, 1 "
            f"FROM gateway.tasks WHERE {scope} ORDER BY id LIMIT :n"
        ),
        {"tag": tag_id, "project": project, "user": user, "n": tasks},
    )


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (reads.TaskQuery(any_tags=["Release"]), 5),
        (reads.TaskQuery(any_tags=["Release"], status=TaskStatus.OPEN), 5),
        (reads.TaskQuery(all_tags=["Release", "Hotfix"]), 0),
        (reads.TaskQuery(any_tags=["nowhere"]), 0),
    ],
    ids=["anyTags", "anyTags open", "allTags across projects", "no such tag"],
)
async def test_a_page_filtered_by_tags_reads_no_scope_without_them(
    engine: AsyncEngine, query: reads.TaskQuery, matches: int
) -> None:
    """The personal space and the projects without the named tags are not read at all.

    A page walks its index in order and tests each task for the tags; PostgreSQL cannot know
    that a scope holds none of them, so a member filtering by one project's tag had every
    personal task and every other project's tested (700,000 personal tasks: 5 s).
    """
    member, first, per_project = uuid.uuid4(), 10, 1_000
    async with engine.connect() as connection:
        projects = await add_tasks(
            connection,
            user=member,
            personal=10_000,
            projects=20,
            per_project=per_project,
            member=True,
        )
        # Every task carries its scope's everyday tag, as most tasks of a busy account carry
        # one: to PostgreSQL a named tag then looks as common as any other.
        await tag(connection, "Home", user=member)
        for project in projects:
            await tag(connection, "Team", project=project)
        await tag(connection, "Release", project=projects[0], tasks=5)
        await tag(connection, "Hotfix", project=projects[1], tasks=5)
        await connection.execute(text("ANALYZE gateway.tags, gateway.task_tags"))
        rows, plan = await first_page(connection, member, query, first)
        await connection.rollback()
    assert len(rows) == matches
    # At most the one tagged project's tasks, in its index and in the table.
    assert sum(tasks_read(plan)) <= 2 * per_project, json.dumps(plan)[:3000]


@pytest.mark.parametrize(
    "field", [reads.SortField.PRIORITY, reads.SortField.TITLE, reads.SortField.CREATED_AT]
)
async def test_a_descending_page_reads_its_index_backwards(
    engine: AsyncEngine, field: reads.SortField
) -> None:
    """Ties break by id in the order's direction, so one index read backwards gives the page.

    With ties ascending under PRIORITY descending, PostgreSQL sorted every task of the top
    priority (200,000 of them: 720 ms for a page of 50).
    """
    user, first = uuid.uuid4(), 10
    async with engine.connect() as connection:
        await add_tasks(
            connection, user=user, personal=5_000, projects=1, per_project=1, member=False
        )
        await index_walks_only(connection)
        rows, plan = await first_page(
            connection, user, reads.TaskQuery(), first, order=[(field, True)]
        )
        await connection.rollback()
    assert len(rows) == first + 1
    # The page and the row after it, in the index and in the table.
    assert sum(tasks_read(plan)) <= 2 * (first + 1), json.dumps(plan)[:3000]


@pytest.mark.parametrize(
    "order",
    [[(reads.SortField.DUE_AT, False)], None],
    ids=["calendar's DUE_AT", "default order"],
)
async def test_a_page_of_a_due_range_starts_at_the_range(
    engine: AsyncEngine, order: list[tuple[reads.SortField, bool]] | None
) -> None:
    """A page of the tasks due in a range reads its index from the range's first due date.

    The bounds were on `due_at` and the index holds the due order (undated last), so the
    calendar's month walked every earlier task of the member (390,000: 700 ms).
    """
    user, first = uuid.uuid4(), 10
    now = datetime.now(UTC)
    days = reads.TaskQuery(due_from=now + timedelta(hours=600), due_to=now + timedelta(hours=610))
    async with engine.connect() as connection:
        await add_tasks(
            connection, user=user, personal=5_000, projects=1, per_project=1, member=False
        )
        await index_walks_only(connection)
        rows, plan = await first_page(connection, user, days, first, order=order)
        await connection.rollback()
    assert len(rows) == first + 1
    assert all(days.due_from <= row.due_at <= days.due_to for row in rows)
    # The page, the row after it and the ties of its last due date, in the index and the table.
    assert sum(tasks_read(plan)) <= 2 * (first + 1) + 20, json.dumps(plan)[:3000]


async def test_the_recurring_tasks_of_a_page_are_found_by_their_own_index(
    engine: AsyncEngine,
) -> None:
    """`recurring: true` reads the few recurring tasks, not every task of the scopes.

    The calendar asks for them on every load; a member of 91 projects with none had every task
    they see walked in order to find that out (220 ms).
    """
    user, first = uuid.uuid4(), 10
    async with engine.connect() as connection:
        projects = await add_tasks(
            connection, user=user, personal=5_000, projects=5, per_project=1_000, member=True
        )
        await connection.execute(
            text(
                'UPDATE gateway.tasks SET recurrence = \'{"rule": "FREQ=DAILY"}\' WHERE id IN '
                "(SELECT id FROM gateway.tasks WHERE user_id = :user AND project_id IS NULL "
                "ORDER BY id LIMIT 3) OR id IN (SELECT id FROM gateway.tasks "
                "WHERE project_id = :project ORDER BY id LIMIT 2)"
            ),
            {"user": user, "project": projects[0]},
        )
        await connection.execute(text("ANALYZE gateway.tasks"))
        rows, plan = await first_page(connection, user, reads.TaskQuery(recurring=True), first)
        await connection.rollback()
    assert len(rows) == 5
    assert sum(tasks_read(plan)) <= 4 * 5, json.dumps(plan)[:3000]
