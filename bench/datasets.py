"""The benchmark data sets, written straight into the gateway's real tables in bulk.

Two users: `page` owns PAGE_TASKS tasks with 1-3 of 30 tags each and some reminders (the
`tasks(first: 50)` and keyset benchmarks); `search` owns SEARCH_TASKS tasks whose titles and
notes are drawn from a fixed vocabulary, so that a term's selectivity is known (the search
benchmark). Rows have the shapes the gateway writes (tables.py; `search_vector` is the
database's generated column), so the real gateway reads them as it reads its own.

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

    def record(self) -> dict[str, Any]:
        """A JSON-able description (the users' ids are left out: they differ every run)."""
        counts = {k: v for k, v in asdict(self).items() if k.endswith(("_tasks", "tags", "ers"))}
        return {
            **counts,
            "total_tasks": self.page_tasks + self.search_tasks,
            "load_seconds": round(self.seconds, 1),
            "selective_word": SELECTIVE_WORD,
            "selective_matches": self.search_tasks // SELECTIVE_EVERY,
            "broad_word": BROAD_WORD,
        }


def _array(words: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]"


TASKS_SQL = f"""
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version)
SELECT md5($1::text || i)::uuid, $1::uuid,
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
       1
FROM generate_series(0, $2 - 1) AS i
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


async def load(url: str, *, page_tasks: int, search_tasks: int, log: Any = print) -> Dataset:
    """Migrate the database and load both users' tasks; returns what was loaded."""
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
            await drop_indexes(connection, [name for name, _ in indexes])
            if superuser:
                # Rows that reference rows of the same load: the key checks cannot fail.
                await connection.execute("SET LOCAL session_replication_role = replica")
            for user, count in ((page_user, page_tasks), (search_user, search_tasks)):
                log(f"  loading {count:,} tasks with tags…")
                await connection.execute(TASKS_SQL, str(user), count)
                await connection.execute(TAGS_SQL, str(user), PAGE_TAGS)
                await connection.execute(TASK_TAGS_SQL, str(user), count, PAGE_TAGS)
            await connection.execute(REMINDERS_SQL, str(page_user), page_tasks)
        log(f"  rows written in {time.perf_counter() - started:.0f} s; rebuilding indexes…")
        await create_indexes(connection, [definition for _, definition in indexes], log=log)
        await connection.execute("VACUUM ANALYZE gateway.tasks")
        await connection.execute("VACUUM ANALYZE gateway.task_tags")
        await connection.execute("VACUUM ANALYZE gateway.reminders")
        await connection.execute("ANALYZE gateway.tags")
        links = await connection.fetchval("SELECT count(*) FROM gateway.task_tags")
        reminders = await connection.fetchval("SELECT count(*) FROM gateway.reminders")
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
    )


def plain_url(url: str) -> str:
    """postgresql://… without SQLAlchemy's driver suffix (for asyncpg and node-postgres)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgresql") else url
