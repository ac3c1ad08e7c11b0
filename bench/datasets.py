"""The benchmark data sets, written straight into the gateway's real tables in bulk.

Two users: `page` owns PAGE_TASKS tasks with 1-3 of 30 tags each and some reminders (the
`tasks(first: 50)` and keyset benchmarks); `search` owns SEARCH_TASKS tasks whose titles and
notes are drawn from a fixed vocabulary, so that a term's selectivity is known (the search
benchmark).

Shared projects (issue 16): nine more users, `member0`…`member8`, and SEARCH_PROJECTS projects
over the search user's tasks. 3 in 10 of those tasks live in projects (a third of them
subtasks, in three sections per project); one project in ten has ten members (the search user and
all nine), most have three, and one in ten is a project of member0 the search user does not
belong to (its tasks must stay out of the search user's results). Besides, the `page project`:
ten members (the nine and the search user), PAGE_PROJECT_TASKS top-level tasks created by the
members in turn, 0-3 subtasks each, half of them assigned, 1-2 of the project's tags each (the
shared-project page benchmark, read by member0).

Rows have the shapes the gateway writes (tables.py; `search_vector` is the database's generated
column), so the real gateway reads them as it reads its own.

Speed: INSERT … SELECT generate_series, one statement per table, with the tables' secondary
indexes dropped during the load and rebuilt after it (one sorted build beats a million
insertions into GIN indexes), and foreign-key triggers skipped for the load when the role may.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from taskstream.persistence.db import create_engine, migrate

PAGE_TAGS = 30
# Words of the search user's titles; each task gets one verb, one noun and a number word.
VERBS = ["call", "write", "review", "plan", "fix", "send", "book", "buy", "prepare", "check"]
NOUNS = ["report", "invoice", "meeting", "budget", "garden", "doctor", "flight", "slides"]
# Exactly one task in SELECTIVE_EVERY carries the selective word (in its notes).
SELECTIVE_WORD = "quokka"
SELECTIVE_EVERY = 10_000
BROAD_WORD = "report"  # one noun in len(NOUNS): about 12.5 % of the tasks

INDEXED_TABLES = ("tasks", "task_tags", "reminders")

MEMBERS = 9  # users besides `page` and `search`, members of the shared projects
SEARCH_PROJECTS = 100
PROJECT_SHARE = 3  # of every 10 of the search user's tasks: in a project (the 3rd a subtask)
PROJECT_TAGS = 10
PAGE_PROJECT_TASKS = 2_000  # top-level; with 0-3 subtasks each


@dataclass(frozen=True)
class SharedProjects:
    """The projects of the data set and the users who share them."""

    members: tuple[uuid.UUID, ...]
    page_project: uuid.UUID
    projects: int
    memberships: int
    sections: int
    project_tasks: int
    subtasks: int
    search_visible_tasks: int
    page_project_top_level: int

    @property
    def page_reader(self) -> uuid.UUID:
        """The member who reads the page project in the benchmark."""
        return self.members[0]

    def record(self) -> dict[str, Any]:
        """A JSON-able description (ids left out)."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}


@dataclass(frozen=True)
class Dataset:
    """The loaded users and what was loaded."""

    page_user: uuid.UUID
    search_user: uuid.UUID
    page_tasks: int
    search_tasks: int
    reminders: int
    task_tags: int
    seconds: float
    shared: SharedProjects

    def record(self) -> dict[str, Any]:
        """A JSON-able description (the users' ids are left out: they differ every run)."""
        counts = {k: v for k, v in asdict(self).items() if k.endswith(("_tasks", "tags", "ers"))}
        return {
            **counts,
            "shared_projects": self.shared.record(),
            "total_tasks": self.page_tasks + self.search_tasks,
            "load_seconds": round(self.seconds, 1),
            "selective_word": SELECTIVE_WORD,
            "selective_matches": self.search_tasks // SELECTIVE_EVERY,
            "broad_word": BROAD_WORD,
        }


def _array(words: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]"


# The search user's projects and where task i of that user lives: a task with
# i % 10 < PROJECT_SHARE is in project (i / 10) % $4, in one of its three sections, and the one
# with i % 10 = PROJECT_SHARE - 1 is a subtask of task i - 1 (same block of ten: same project and
# section). A project p with p % 10 = 9 is member0's ($3), who created its tasks.
PROJECT_ID = "md5($1::text || 'project' || {p})::uuid"
_IN_PROJECT = f"i % 10 < {PROJECT_SHARE}"
_PROJECT_NUMBER = "((i / 10) % $4::int)"
_PROJECT_OF_TASK = PROJECT_ID.format(p=_PROJECT_NUMBER)
_TASK_PLACE = {
    "owner": f"CASE WHEN {_IN_PROJECT} AND {_PROJECT_NUMBER} % 10 = 9 THEN $3::uuid "
    "ELSE $1::uuid END",
    "project": f"CASE WHEN {_IN_PROJECT} THEN {_PROJECT_OF_TASK} END",
    "section": f"CASE WHEN {_IN_PROJECT} "
    f"THEN md5({_PROJECT_OF_TASK}::text || 'section' || ((i / 1000) % 3))::uuid END",
    "parent": f"CASE WHEN i % 10 = {PROJECT_SHARE - 1} THEN md5($1::text || (i - 1))::uuid END",
}


def _tasks_sql(place: dict[str, str] | None = None) -> str:
    """The generated tasks of user $1 ($2 of them), personal or placed in projects."""
    where = place or {"owner": "$1::uuid", "project": "NULL", "section": "NULL", "parent": "NULL"}
    return f"""
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version, project_id, section_id, parent_id)
SELECT md5($1::text || i)::uuid, {where["owner"]},
       ({_array(VERBS)})[1 + i % {len(VERBS)}] || ' '
         || ({_array(NOUNS)})[1 + (i / {len(VERBS)}) % {len(NOUNS)}] || ' ' || 'n' || (i % 997),
       CASE WHEN i % {SELECTIVE_EVERY} = 7 THEN 'remember the {SELECTIVE_WORD} ' ELSE '' END
         || 'generated for the benchmark',
       CASE WHEN i % 4 = 0 THEN 'DONE' ELSE 'OPEN' END,
       i % 5,
       CASE WHEN i % 5 = 0 THEN NULL
            ELSE timestamptz '2026-01-01' + ((i::bigint * 7919) % 40000) * interval '1 hour' END,
       CASE WHEN i % 4 = 0 THEN timestamptz '2026-01-01' END,
       NULL, NULL, 1,
       timestamptz '2025-01-01' + i * interval '1 second',
       timestamptz '2025-01-01' + i * interval '1 second',
       1, {where["project"]}, {where["section"]}, {where["parent"]}
FROM generate_series(0, $2 - 1) AS i
"""


TASKS_SQL = _tasks_sql()
SEARCH_TASKS_SQL = _tasks_sql(_TASK_PLACE)

# Projects of the search user ($1), and of member0 ($2) for p % 10 = 9; $3 projects.
PROJECTS_SQL = f"""
INSERT INTO gateway.projects (id, name, color, archived, created_by, created_at, updated_at,
                              version)
SELECT {PROJECT_ID.format(p="p")}, 'project ' || p, NULL, false,
       CASE WHEN p % 10 = 9 THEN $2::uuid ELSE $1::uuid END,
       timestamptz '2025-01-01', timestamptz '2025-01-01', 1
FROM generate_series(0, $3::int - 1) AS p
"""

# The search user owns every project but member0's; members ($2, the nine) join: all nine in
# one project in ten (ten members), two in most (three members), member0 and member1 in
# member0's own projects.
MEMBERSHIPS_SQL = f"""
INSERT INTO gateway.project_members (project_id, user_id, role, added_at)
SELECT {PROJECT_ID.format(p="p")}, $1::uuid, 'OWNER', timestamptz '2025-01-01'
FROM generate_series(0, $3::int - 1) AS p WHERE p % 10 <> 9
UNION ALL
SELECT {PROJECT_ID.format(p="p")}, ($2::uuid[])[1 + m],
       CASE WHEN p % 10 = 9 AND m = 0 THEN 'OWNER' WHEN m % 3 = 2 THEN 'VIEWER' ELSE 'EDITOR' END,
       timestamptz '2025-01-01'
FROM generate_series(0, $3::int - 1) AS p, generate_series(0, {MEMBERS - 1}) AS m
WHERE p % 10 = 0
   OR p % 10 = 9 AND m IN (0, 1)
   OR p % 10 NOT IN (0, 9) AND m IN (p % {MEMBERS}, (p + 1) % {MEMBERS})
"""

# Three sections in every project (positions 'a0' < 'a1' < 'a2': fractional-index keys).
SECTIONS_SQL = """
INSERT INTO gateway.sections (id, project_id, name, position, created_at)
SELECT md5(p.id::text || 'section' || k)::uuid, p.id, 'section ' || k, 'a' || k,
       timestamptz '2025-01-01'
FROM gateway.projects AS p, generate_series(0, 2) AS k
"""

# The page project ($1 its id) of member0 ($2[1]) with the nine members ($2) and the search
# user as members; $3 top-level tasks, each with j % 4 subtasks (k >= 0; k = -1 is the
# top-level task itself), created by the members in turn, every other one assigned.
PAGE_PROJECT_SQL = """
INSERT INTO gateway.projects (id, name, color, archived, created_by, created_at, updated_at,
                              version)
VALUES ($1::uuid, 'page project', '#3366cc', false, ($2::uuid[])[1],
        timestamptz '2025-01-01', timestamptz '2025-01-01', 1)
"""
PAGE_PROJECT_MEMBERS_SQL = """
INSERT INTO gateway.project_members (project_id, user_id, role, added_at)
SELECT $1::uuid, member, CASE WHEN n = 1 THEN 'OWNER' ELSE 'EDITOR' END, timestamptz '2025-01-01'
FROM unnest($2::uuid[] || $3::uuid) WITH ORDINALITY AS m (member, n)
"""
PAGE_PROJECT_TASKS_SQL = """
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version, project_id, section_id, parent_id, assignee_id)
SELECT CASE WHEN k < 0 THEN md5($1::text || j)::uuid ELSE md5($1::text || j || '.' || k)::uuid END,
       ($2::uuid[])[1 + (j + k + 1) % array_length($2::uuid[], 1)],
       CASE WHEN k < 0 THEN 'shared task ' || j ELSE 'step ' || k || ' of shared task ' || j END,
       'generated for the benchmark',
       CASE WHEN (j + k) % 4 = 0 THEN 'DONE' ELSE 'OPEN' END,
       (j + k + 5) % 5,
       CASE WHEN j % 5 = 0 THEN NULL
            ELSE timestamptz '2026-01-01' + ((j::bigint * 7919) % 40000) * interval '1 hour' END,
       CASE WHEN (j + k) % 4 = 0 THEN timestamptz '2026-01-01' END,
       NULL, NULL, 1,
       timestamptz '2026-01-01' + j * interval '1 second',
       timestamptz '2026-01-01' + j * interval '1 second',
       1, $1::uuid, md5($1::text || 'section' || (j % 3))::uuid,
       CASE WHEN k >= 0 THEN md5($1::text || j)::uuid END,
       CASE WHEN (j + k) % 2 = 0 THEN ($2::uuid[])[1 + (j + k + 3) % array_length($2::uuid[], 1)]
       END
FROM generate_series(0, $3::int - 1) AS j, generate_series(-1, 2) AS k
WHERE k < j % 4
ORDER BY j, k
"""
PAGE_PROJECT_TAGS_SQL = f"""
INSERT INTO gateway.tags (id, user_id, project_id, name, name_key)
SELECT md5($1::text || 'tag' || n)::uuid, NULL, $1::uuid, 'ptag' || n, 'ptag' || n
FROM generate_series(0, {PROJECT_TAGS - 1}) AS n
"""
# 1-2 of the project's tags on every task of the page project.
PAGE_PROJECT_TASK_TAGS_SQL = f"""
INSERT INTO gateway.task_tags (task_id, tag_id, position)
SELECT task.id, md5($1::text || 'tag' || ((n * 7 + tag) % {PROJECT_TAGS}))::uuid, tag
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM gateway.tasks
      WHERE project_id = $1::uuid) AS task, generate_series(0, 1) AS tag
WHERE tag <= task.n % 2
"""


TAGS_SQL = """
INSERT INTO gateway.tags (id, user_id, name, name_key)
SELECT md5($1::text || 'tag' || k)::uuid, $1::uuid, 'tag' || k, 'tag' || k
FROM generate_series(0, $2 - 1) AS k
"""

# Tag k of task i, for k < 1 + i % 3: 1-3 distinct tags of PAGE_TAGS each, in order.
TASK_TAGS_SQL = """
INSERT INTO gateway.task_tags (task_id, tag_id, position)
SELECT md5($1::text || i)::uuid, md5($1::text || 'tag' || ((i * 7 + k * 11) % $3))::uuid, k
FROM generate_series(0, $2 - 1) AS i, generate_series(0, 2) AS k
WHERE k <= i % 3
"""

# A reminder on every third task, a second one on every sixth, as createTask writes them.
REMINDERS_SQL = """
INSERT INTO gateway.reminders (id, task_id, user_id, position, remind_at, before_due,
                               channels, state, sent_at)
SELECT md5($1::text || 'r' || i || '.' || k)::uuid, md5($1::text || i)::uuid, $1::uuid, k,
       timestamptz '2026-01-01' + ((i::bigint * 7919) % 40000) * interval '1 hour'
         - (15 + 45 * k) * interval '1 minute',
       15 + 45 * k, ARRAY['IN_APP'], 'SCHEDULED', NULL
FROM generate_series(0, $2 - 1) AS i, generate_series(0, 1) AS k
WHERE i % 5 <> 0 AND (i % 3 = 0 AND k = 0 OR i % 6 = 0 AND k = 1)
"""


async def _secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """(name, definition) of every index of the tables that no constraint owns."""
    rows = await connection.fetch(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'gateway' AND i.tablename = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                          WHERE c.conname = i.indexname
                            AND c.connamespace = 'gateway'::regnamespace)
        """,
        list(INDEXED_TABLES),
    )
    return [(row["indexname"], row["indexdef"]) for row in rows]


async def drop_indexes(connection: asyncpg.Connection, names: list[str]) -> None:
    """Drop these gateway indexes."""
    for name in names:
        await connection.execute(f'DROP INDEX IF EXISTS gateway."{name}"')


async def create_indexes(
    connection: asyncpg.Connection, definitions: list[str], log: Any = None
) -> None:
    """Build indexes from their definitions, with memory enough for a sorted build."""
    await connection.execute("SET maintenance_work_mem = '256MB'")
    for definition in definitions:
        began = time.perf_counter()
        await connection.execute(definition)
        if log is not None:
            log(f"    {time.perf_counter() - began:5.1f} s  {definition.split(' USING ')[0]}")


async def _add_user(connection: asyncpg.Connection, label: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await connection.execute(
        "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
        "VALUES ($1, $2, $2, 'not a password hash: bench users never sign in', 'UTC')",
        user_id,
        f"bench-{label}-{user_id.hex[:8]}@example.com",
    )
    return user_id


async def _load_projects(
    connection: asyncpg.Connection,
    search_user: uuid.UUID,
    members: list[uuid.UUID],
    page_project_tasks: int,
) -> uuid.UUID:
    """The search user's projects and the page project (their tasks: see `load`)."""
    await connection.execute(PROJECTS_SQL, str(search_user), members[0], SEARCH_PROJECTS)
    await connection.execute(MEMBERSHIPS_SQL, str(search_user), members, SEARCH_PROJECTS)
    page_project = uuid.uuid5(search_user, "page project")
    await connection.execute(PAGE_PROJECT_SQL, page_project, members)
    await connection.execute(PAGE_PROJECT_MEMBERS_SQL, page_project, members, search_user)
    await connection.execute(SECTIONS_SQL)
    seed = str(page_project)
    await connection.execute(PAGE_PROJECT_TASKS_SQL, seed, members, page_project_tasks)
    await connection.execute(PAGE_PROJECT_TAGS_SQL, seed)
    await connection.execute(PAGE_PROJECT_TASK_TAGS_SQL, seed)
    return page_project


async def _shared_counts(
    connection: asyncpg.Connection,
    search_user: uuid.UUID,
    members: list[uuid.UUID],
    page_project: uuid.UUID,
) -> SharedProjects:
    """What the projects part of the load holds, counted in the database."""
    row = await connection.fetchrow(
        """
        SELECT (SELECT count(*) FROM gateway.projects) AS projects,
               (SELECT count(*) FROM gateway.project_members) AS memberships,
               (SELECT count(*) FROM gateway.sections) AS sections,
               (SELECT count(*) FROM gateway.tasks WHERE project_id IS NOT NULL) AS project_tasks,
               (SELECT count(*) FROM gateway.tasks WHERE parent_id IS NOT NULL) AS subtasks,
               (SELECT count(*) FROM gateway.tasks
                WHERE project_id = $2 AND parent_id IS NULL) AS page_project_top_level,
               (SELECT count(*) FROM gateway.tasks
                WHERE user_id = $1 AND project_id IS NULL
                   OR project_id IN (SELECT project_id FROM gateway.project_members
                                     WHERE user_id = $1)) AS search_visible_tasks
        """,
        search_user,
        page_project,
    )
    return SharedProjects(
        members=tuple(members),
        page_project=page_project,
        **{key: int(value) for key, value in row.items()},
    )


async def load(
    url: str,
    *,
    page_tasks: int,
    search_tasks: int,
    page_project_tasks: int = PAGE_PROJECT_TASKS,
    log: Any = print,
) -> Dataset:
    """Migrate the database and load the users' tasks and projects; returns what was loaded."""
    started = time.perf_counter()
    engine = create_engine(url, pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute("SET synchronous_commit = off")
        superuser = await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = user")
        indexes = await _secondary_indexes(connection)
        async with connection.transaction():
            page_user = await _add_user(connection, "page")
            search_user = await _add_user(connection, "search")
            members = [await _add_user(connection, f"member{n}") for n in range(MEMBERS)]
            await drop_indexes(connection, [name for name, _ in indexes])
            if superuser:
                # Rows that reference rows of the same load: the key checks cannot fail.
                await connection.execute("SET LOCAL session_replication_role = replica")
            log(f"  loading {page_tasks:,} tasks with tags…")
            await connection.execute(TASKS_SQL, str(page_user), page_tasks)
            log(f"  loading {search_tasks:,} tasks with tags, projects, sections, subtasks…")
            await connection.execute(
                SEARCH_TASKS_SQL, str(search_user), search_tasks, members[0], SEARCH_PROJECTS
            )
            for user, count in ((page_user, page_tasks), (search_user, search_tasks)):
                await connection.execute(TAGS_SQL, str(user), PAGE_TAGS)
                await connection.execute(TASK_TAGS_SQL, str(user), count, PAGE_TAGS)
            await connection.execute(REMINDERS_SQL, str(page_user), page_tasks)
            page_project = await _load_projects(
                connection, search_user, members, page_project_tasks
            )
            # The load skipped the triggers that keep the counts of `totalCount`.
            await connection.execute("SELECT gateway.recount_tasks()")
        log(f"  rows written in {time.perf_counter() - started:.0f} s; rebuilding indexes…")
        await create_indexes(connection, [definition for _, definition in indexes], log=log)
        await connection.execute("VACUUM ANALYZE gateway.tasks")
        await connection.execute("VACUUM ANALYZE gateway.task_tags")
        await connection.execute("VACUUM ANALYZE gateway.reminders")
        for table in ("tags", "projects", "project_members", "sections"):
            await connection.execute(f"ANALYZE gateway.{table}")
        links = await connection.fetchval("SELECT count(*) FROM gateway.task_tags")
        reminders = await connection.fetchval("SELECT count(*) FROM gateway.reminders")
        shared = await _shared_counts(connection, search_user, members, page_project)
    finally:
        await connection.close()
    return Dataset(
        page_user=page_user,
        search_user=search_user,
        page_tasks=page_tasks,
        search_tasks=search_tasks,
        reminders=int(reminders),
        task_tags=int(links),
        seconds=time.perf_counter() - started,
        shared=shared,
    )


def plain_url(url: str) -> str:
    """postgresql://… without SQLAlchemy's driver suffix (for asyncpg and node-postgres)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url
