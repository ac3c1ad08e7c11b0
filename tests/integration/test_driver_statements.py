"""Statements run on the driver (taskstream.persistence.driver) behave as SQLAlchemy's do.

Each test pins one assumption the module makes about SQLAlchemy's asyncpg adapter: the
statement joins the connection's transaction (begun by it when none is open), SQLAlchemy's
commit and rollback end it, autocommit stays autocommit, a standalone statement runs on its own
only before the transaction has begun at the server, and failures arrive as SQLAlchemy's
exceptions, a dropped connection invalidated.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.persistence import db, driver

pytestmark = pytest.mark.integration


@pytest.fixture
async def table(engine: AsyncEngine) -> AsyncIterator[str]:
    """A scratch table with a unique column, dropped after the test."""
    name = f"public.driver_{uuid.uuid4().hex[:10]}"
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE TABLE {name} (id int PRIMARY KEY)"))
    yield name
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {name}"))


async def stored(engine: AsyncEngine, table: str) -> list[int]:
    """The ids committed in the table, read on another connection."""
    async with engine.connect() as connection:
        rows = await connection.execute(text(f"SELECT id FROM {table} ORDER BY id"))
        return [row.id for row in rows]


async def test_driver_statements_share_the_transaction_of_sqlalchemys(
    engine: AsyncEngine, table: str
) -> None:
    async with engine.connect() as connection:
        await connection.begin()
        # The driver's statement first: it begins the transaction SQLAlchemy's then joins.
        on_driver = await driver.fetchval(connection, "SELECT txid_current()")
        on_sqlalchemy = await connection.scalar(text("SELECT txid_current()"))
        assert on_driver == on_sqlalchemy
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 1)
        await connection.execute(text(f"INSERT INTO {table} VALUES (2)"))
        assert await stored(engine, table) == [], "visible before the commit"
        await connection.commit()
    assert await stored(engine, table) == [1, 2]


async def test_sqlalchemys_rollback_undoes_driver_statements(
    engine: AsyncEngine, table: str
) -> None:
    async with engine.connect() as connection:
        await connection.begin()
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 1)
        await connection.rollback()
    async with engine.connect() as connection:
        # Closed without a commit: the pool's reset rolls back.
        await connection.begin()
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 2)
    assert await stored(engine, table) == []


async def test_a_standalone_statement_commits_alone_until_the_transaction_has_begun(
    engine: AsyncEngine, table: str
) -> None:
    async with engine.connect() as connection:
        await connection.begin()
        # Nothing has begun it at the server yet: the statement is its own commit...
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 1, standalone=True)
        assert await stored(engine, table) == [1], "not committed at once"
        # ...and what SQLAlchemy's rollback then ends does not include it.
        await connection.rollback()
    assert await stored(engine, table) == [1]
    async with engine.connect() as connection:
        # Nor does it begin SQLAlchemy's transaction on a connection that has none.
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 4, standalone=True)
        assert not connection.in_transaction()
        assert await stored(engine, table) == [1, 4]
    async with engine.connect() as connection:
        await connection.begin()
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 2)
        # Begun by the statement before: the standalone one joins the transaction.
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 3, standalone=True)
        assert await stored(engine, table) == [1, 4], "visible before the commit"
        await connection.rollback()
    assert await stored(engine, table) == [1, 4]


async def test_an_autocommit_connection_commits_each_driver_statement(
    engine: AsyncEngine, table: str
) -> None:
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await driver.fetch(autocommit, f"INSERT INTO {table} VALUES ($1)", 1)
        assert await stored(engine, table) == [1], "not committed at once"
        await driver.fetch(autocommit, f"INSERT INTO {table} VALUES ($1)", 2)
        assert await stored(engine, table) == [1, 2]


async def test_failures_are_sqlalchemys_exceptions(engine: AsyncEngine, table: str) -> None:
    async with engine.connect() as connection:
        await connection.begin()
        await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 1)
        with pytest.raises(IntegrityError) as duplicate:
            await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 1)
        assert "_pkey" in str(duplicate.value.orig)
        assert "parameters hidden" in str(duplicate.value)
        await connection.rollback()
    with db.statement_timeout(0.05):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as cancelled:
                await driver.fetch(connection, "SELECT pg_sleep(2)")
    assert db.is_query_canceled(cancelled.value)
    assert not db.is_database_unavailable(cancelled.value)


async def test_a_dropped_connection_is_invalidated_and_replaced(database_url: str) -> None:
    pooled = db.create_engine(database_url, pool_size=1)
    try:
        async with pooled.connect() as connection:
            # Begins the transaction, as a statement of SQLAlchemy's would (autobegin).
            pid = await driver.fetchval(connection, "SELECT pg_backend_pid()")
            assert connection.in_transaction()
            with pytest.raises(DBAPIError) as dropped:
                await driver.fetch(connection, "SELECT pg_terminate_backend(pg_backend_pid())")
        assert dropped.value.connection_invalidated
        assert db.is_database_unavailable(dropped.value)
        async with pooled.connect() as connection:
            assert await driver.fetchval(connection, "SELECT pg_backend_pid()") not in (0, pid)
    finally:
        await pooled.dispose()


async def test_the_engines_statement_observers_see_driver_statements(engine: AsyncEngine) -> None:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.connect() as connection:
            await driver.fetchval(connection, "SELECT $1::int + 1", 1)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert seen == ["SELECT $1::int + 1"]


async def test_a_cancelled_statement_invalidates_its_connection(
    database_url: str, table: str
) -> None:
    pooled = db.create_engine(database_url, pool_size=1)
    try:
        async with pooled.connect() as connection:
            pid = await driver.fetchval(connection, "SELECT pg_backend_pid()")
            await connection.commit()
            await connection.begin()
            sleeping = asyncio.ensure_future(driver.fetch(connection, "SELECT pg_sleep(5)"))
            await asyncio.sleep(0.2)
            sleeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sleeping
            # Whatever the server made of the cut-short statement, nobody reuses the connection.
            assert connection.invalidated
        async with pooled.connect() as connection:
            assert await driver.fetchval(connection, "SELECT pg_backend_pid()") != pid
            await driver.fetch(connection, f"INSERT INTO {table} VALUES ($1)", 7)
            await connection.commit()
        async with pooled.connect() as connection:
            assert await driver.fetchval(connection, f"SELECT count(*) FROM {table}") == 1
    finally:
        await pooled.dispose()
