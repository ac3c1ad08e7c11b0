"""Issue 13's typo-search probes: any word length is safe, and a typo's cost does not grow with
the tasks (nor with their notes): close words come from the user's vocabulary, tasks from the
full-text index.

Work is measured by PostgreSQL's own counters of the rows a transaction read from `tasks`
(pg_stat_xact_user_tables), never with a clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway_core.persistence import reads
from gateway_core.persistence.reads import TYPO_WORDS_MAX, TaskQuery, close_words
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
SEARCH = "query($t: String) { tasks(filter: {text: $t}) { totalCount edges { node { title } } } }"
NOW = datetime(2026, 5, 1, tzinfo=UTC)


async def found(client: GraphQLClient, words: str) -> list[str]:
    data = (await client.data(SEARCH, {"t": words}))["tasks"]
    titles = [edge["node"]["title"] for edge in data["edges"]]
    assert data["totalCount"] == len(titles)
    return titles


async def test_words_longer_than_levenshtein_allows_do_not_break_typo_search(
    alice: GraphQLClient,
) -> None:
    long_word = "c" * 199 + "d"
    notes = " ".join(["a" * 300, "budget", long_word, "b" * 2_000, "e" * 16_000])
    assert len(notes) <= 20_000
    await alice.data(CREATE, {"i": {"title": "Team meeting", "notes": notes}})
    await alice.data(CREATE, {"i": {"title": "Groceries", "notes": "milk"}})
    assert await found(alice, "meetng") == ["Team meeting"]  # a typo
    assert await found(alice, "budgt") == ["Team meeting"]  # a typo in the long notes
    assert await found(alice, "c" * 200) == ["Team meeting"]  # 200 letters, one off
    assert await found(alice, "a" * 200) == ["Team meeting"]  # a prefix of the 300 a's
    assert await found(alice, "mlik") == []


async def add_user(connection: AsyncConnection) -> uuid.UUID:
    user_id = uuid.uuid4()
    await connection.execute(
        text(
            "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
            "VALUES (:id, :email, :email, 'never signs in', 'UTC')"
        ),
        {"id": user_id, "email": f"search-{user_id.hex[:12]}@example.com"},
    )
    return user_id


async def add_tasks(
    connection: AsyncConnection, user_id: uuid.UUID, title: str, n: int, notes: str = ""
) -> None:
    """``n`` tasks whose titles are ``title`` and a number, with ``notes`` and about 2,000 more
    words of notes."""
    await connection.execute(
        text(
            "INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, "
            "recurrence, instance_number, created_at, updated_at, version) "
            "SELECT gen_random_uuid(), :user_id, :title || ' ' || i, "
            ":notes || repeat(' the weekly numbers', 660), 'OPEN', 0, "
            "timestamptz '2026-01-01' + i * interval '1 hour', NULL, 1, now(), now(), 1 "
            "FROM generate_series(1, :n) AS i"
        ),
        {"user_id": user_id, "title": title, "n": n, "notes": notes},
    )


async def rows_read(connection: AsyncConnection) -> int:
    """Rows this transaction has read from the tasks table so far (scans and index fetches)."""
    value = await connection.scalar(
        text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE schemaname = 'gateway' AND relname = 'tasks'"
        )
    )
    return int(value or 0)


async def search(
    connection: AsyncConnection, user_id: uuid.UUID, words: str, *, inbox: bool | None = None
) -> dict[str, Any]:
    """Page and count of a search (of the inbox alone with `inbox=True`), with the rows each
    read from `tasks`."""
    query = TaskQuery(text=words, inbox=inbox)
    before = await rows_read(connection)
    page = await reads.task_page(
        connection, user_id=user_id, query=query, order=None, first=20, after=None, now=NOW
    )
    between = await rows_read(connection)
    total = await reads.count_tasks(connection, user_id=user_id, query=query, now=NOW)
    after = await rows_read(connection)
    return {
        "titles": [record.title for record in page.records],
        "total": total,
        "page_read": between - before,
        "count_read": after - between,
    }


async def test_a_typo_beyond_the_budget_of_a_common_word_reads_no_task(
    engine: AsyncEngine,
) -> None:
    """ "reprot" is close to "report" by trigrams (which made the planner expect many matches and
    walk every task) but two edits away: no close word, so no task is read at all."""
    async with engine.connect() as connection:
        user_id = await add_user(connection)
        await add_tasks(connection, user_id, "weekly report", 3_000)
        await connection.execute(text("ANALYZE gateway.tasks"))
        beyond = await search(connection, user_id, "reprot")
        assert beyond["titles"] == [] and beyond["total"] == 0 and beyond["count_read"] == 0
        # Of the user's own tasks nothing is read: their inbox's page, alone. With both scopes,
        # the projects' page may look at other users' project tasks when the statistics say
        # there are a few (1, 2 or 5 of them were read, each; at 50 none): the hash join reads
        # its first outer row before it finds the user's projects empty. So the full search
        # read one row in runs where an earlier test had left one project task.
        inbox = await search(connection, user_id, "reprot", inbox=True)
        assert inbox == {"titles": [], "total": 0, "page_read": 0, "count_read": 0}
        # Within the budget the same common word is found, through the full-text index.
        within = await search(connection, user_id, "reportt")
        assert within["total"] == 3_000 and len(within["titles"]) == 20
        await connection.rollback()


def distance(a: str, b: str) -> int:
    """Levenshtein distance, computed plainly."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


async def test_close_words_are_capped_closest_first(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        user_id = await add_user(connection)
        letters = "abcdefghijklmnopqrstuvwxyz0123456789"
        # "planning" (two edits allowed) and 72 words one or two edits from it.
        words = {"planning", *(f"plannin{c}" for c in letters), *(f"planni{c}{c}" for c in letters)}
        await add_tasks(connection, user_id, "words", 1, notes=" ".join(sorted(words)))
        close = await close_words(connection, user_id, ["planning"])
        ranked = sorted((distance(w, "planning"), w) for w in words if distance(w, "planning") <= 2)
        assert len(ranked) > TYPO_WORDS_MAX
        assert close == {"planning": [w for _, w in ranked[:TYPO_WORDS_MAX]]}
        await connection.rollback()
