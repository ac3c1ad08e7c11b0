"""Constant SQL run by asyncpg directly, inside a SQLAlchemy connection's transaction.

SQLAlchemy's execution layer (its Connection, the cursor adapter, result objects and a greenlet
hop each way) costs about 50 µs of client CPU per statement, on top of asyncpg's own 16 µs
(bench/results/issue19-perf.md, "Ninth session"). The hot statements (createTask's, the
outbox's, the relay's claim, the rate limiter's) are constant text with positional parameters
and need none of it. These functions run such a statement on the connection's asyncpg
connection the way SQLAlchemy's adapter runs it, so that both kinds of statements can share
one connection and one transaction:

- in the connection's transaction, begun first if there is none (SQLAlchemy's autobegin, and
  under the adapter's execution lock the driver's BEGIN, as the adapter sends it at a
  statement; none under autocommit), so that SQLAlchemy's commit or rollback ends it;
- prepared through the adapter's statement cache, shared with SQLAlchemy's statements and
  invalidated with them;
- failures raised as SQLAlchemy's exceptions (IntegrityError, DBAPIError... with the driver's
  error as `.orig`, parameters hidden), a dropped connection invalidated: callers catch and
  classify them as before (`is_database_unavailable`, `is_query_canceled`);
- announced to the engine's `before_cursor_execute` listeners (without a cursor or an
  execution context), so that what observes the engine's statements sees these as well;
- a statement cut short by a cancellation invalidates its connection, as SQLAlchemy does;
- `standalone=True`, for a statement complete by itself, skips the BEGIN while the transaction
  has not begun at the server: the statement then runs on its own (autocommit: one statement is
  atomic), begins no SQLAlchemy transaction either, and a COMMIT sends nothing if no other
  statement began one. A read
  under READ COMMITTED that takes no lock sees the same either way; a write may be standalone
  only as its unit of work's last one, carrying its outbox rows (UnitOfWork.commit_new_task).

Rows are asyncpg Records: by position or by name (`row["name"]`), not as attributes.
The adapter's members used here are private to SQLAlchemy's asyncpg dialect; the version is
pinned, and tests/integration/test_driver_statements.py checks each assumption.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from asyncpg import Record


def _adapted(connection: AsyncConnection) -> Any:
    """SQLAlchemy's adapter of the connection's asyncpg connection."""
    return connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]


async def fetch(
    connection: AsyncConnection, statement: str, *args: Any, standalone: bool = False
) -> list[Record]:
    """Run one statement in the connection's transaction (`standalone`: on its own while that
    has not begun); its rows."""
    if not (standalone or connection.in_transaction()):
        # SQLAlchemy's autobegin, as at one of its own statements: its commit (or rollback, or
        # the pool's reset) then ends what runs here too.
        await connection.begin()
    adapted = _adapted(connection)
    # Observers of the engine's statements (tests counting round trips) see these too.
    observers = connection.sync_connection.dispatch.before_cursor_execute  # type: ignore[union-attr]
    if observers:
        observers(connection.sync_connection, None, statement, args, None, False)
    async with adapted._execute_mutex:
        try:
            if adapted._transaction is None and not standalone:
                await adapted._start_transaction()
            prepared, _ = await adapted._prepare(statement, adapted._invalidate_schema_cache_asof)
            return cast("list[Record]", await prepared.fetch(*args))
        except Exception as error:
            await _raise_translated(connection, adapted, statement, args, error)
        except BaseException as interruption:
            # Cancelled (a request's deadline) or exiting, as SQLAlchemy does: a statement cut
            # short leaves the connection in a state nobody knows (a BEGIN the server ran that
            # the adapter never recorded makes the next transaction a SAVEPOINT whose "commit"
            # commits nothing), so it is closed, never handed out again. Not inside a greenlet,
            # this terminates it at once.
            connection.sync_connection.invalidate(interruption)  # type: ignore[union-attr]
            raise


async def fetchrow(
    connection: AsyncConnection, statement: str, *args: Any, standalone: bool = False
) -> Record | None:
    """Run one statement in the connection's transaction (`standalone`: see `fetch`); its first
    row, if any."""
    rows = await fetch(connection, statement, *args, standalone=standalone)
    return rows[0] if rows else None


async def fetchval(connection: AsyncConnection, statement: str, *args: Any) -> Any:
    """Run one statement in the connection's transaction; its first row's first value."""
    rows = await fetch(connection, statement, *args)
    return rows[0][0] if rows else None


async def _raise_translated(
    connection: AsyncConnection,
    adapted: Any,
    statement: str,
    args: Sequence[Any],
    error: Exception,
) -> NoReturn:
    """Raise `error` as SQLAlchemy raises it from a statement; invalidate a dropped connection."""
    dialect = connection.dialect
    dbapi = dialect.loaded_dbapi
    translated: Any = error
    if not isinstance(error, dbapi.Error):
        try:
            # Maps asyncpg's exception onto the DB-API classes (an error that is not the
            # driver's, e.g. a parameter of the wrong type, is raised as it is).
            adapted._handle_exception(error)
        except dbapi.Error as mapped:
            translated = mapped
    disconnected = dialect.is_disconnect(translated, adapted, None)
    if disconnected:
        await connection.invalidate()
    raise DBAPIError.instance(
        statement,
        args,
        translated,
        dbapi.Error,
        hide_parameters=True,
        connection_invalidated=disconnected,
        dialect=dialect,
    ) from translated
