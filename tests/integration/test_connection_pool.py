"""Pooled connections the server closed are replaced at checkout, without a ping per use."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.persistence import db

pytestmark = pytest.mark.integration


async def backend_pid(engine: AsyncEngine) -> int:
    """The server process behind the connection the pool hands out."""
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)


async def test_a_connection_the_server_ended_is_replaced(
    database_url: str, engine: AsyncEngine
) -> None:
    pooled = db.create_engine(database_url, pool_size=1)
    try:
        first = await backend_pid(pooled)
        assert await backend_pid(pooled) == first, "reused while in steady use"
        async with engine.connect() as admin:
            # What a restart's fast shutdown does to every session.
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)
        assert await backend_pid(pooled) not in (0, first)
    finally:
        await pooled.dispose()


async def test_a_connection_idle_for_long_is_pinged_and_kept(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    pooled = db.create_engine(database_url, pool_size=1)
    try:
        first = await backend_pid(pooled)
        await asyncio.sleep(0.01)
        assert await backend_pid(pooled) == first
    finally:
        await pooled.dispose()


async def test_a_statement_uses_one_backend_and_no_parallel_workers(database_url: str) -> None:
    """One request takes at most one core of PostgreSQL (a parallel plan took both cores of a
    2-core machine from every other account for one account's count: bench/abuse.py)."""
    pooled = db.create_engine(database_url, pool_size=1)
    try:
        async with pooled.connect() as connection:
            setting = await connection.scalar(text("SHOW max_parallel_workers_per_gather"))
            assert setting == "0"
    finally:
        await pooled.dispose()
