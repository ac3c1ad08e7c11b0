"""One request's reads share one pooled connection, held only while a read runs or waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_schema.context import SharedReads
from taskstream.persistence.db import create_engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def pooled(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine of its own, so that the pool's counts are this test's alone."""
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def test_readers_at_once_take_turns_on_one_connection(pooled: AsyncEngine) -> None:
    shared = SharedReads(pooled)
    pool = pooled.sync_engine.pool
    busy: list[int] = []

    async def read(n: int) -> tuple[int, int]:
        async with shared.connection() as connection:
            busy.append(pool.checkedout())  # type: ignore[attr-defined]
            pid = int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)
            await connection.execute(text("SELECT pg_sleep(0.01)"))
            return n, pid

    answers = await asyncio.gather(*(read(n) for n in range(6)))
    assert [n for n, _ in answers] == list(range(6))
    assert len({pid for _, pid in answers}) == 1, "one connection for all six"
    assert shared.checkouts == 1
    assert busy == [1] * 6
    # Given back as soon as nobody waited for it.
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_nothing_is_held_between_reads(pooled: AsyncEngine) -> None:
    shared = SharedReads(pooled)
    pool = pooled.sync_engine.pool
    for _ in range(2):
        async with shared.connection() as connection:
            await connection.execute(text("SELECT 1"))
        # What a request awaits between its reads (a service call, a socket) holds nothing.
        assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert shared.checkouts == 2


async def test_a_failed_read_leaves_the_next_one_a_working_connection(
    pooled: AsyncEngine,
) -> None:
    shared = SharedReads(pooled)

    async def failing() -> None:
        async with shared.connection() as connection:
            await connection.execute(text("SELECT 1 / 0"))

    async def after() -> int:
        async with shared.connection() as connection:
            return int(await connection.scalar(text("SELECT 2")) or 0)

    # The second reader waits while the first fails: it must not inherit the failed
    # transaction ("current transaction is aborted").
    failed, answer = await asyncio.gather(failing(), after(), return_exceptions=True)
    assert isinstance(failed, DBAPIError)
    assert answer == 2
    assert shared.checkouts == 2
    assert pooled.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
