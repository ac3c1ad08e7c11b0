"""The async engine, migrations, and the readiness check of the database."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_

from alembic import command

REPO_ROOT = Path(__file__).resolve().parents[2]


def async_url(url: str) -> str:
    """The URL with the asyncpg driver, whatever PostgreSQL scheme it was given with."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


# A pooled connection idle longer than this is pinged before use (see _check_out).
PING_AFTER_IDLE_SECONDS = 10.0

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (or a cancel request).
QUERY_CANCELED = "57014"

# The statement timeout of the code running now (a client's request sets its own, shorter one);
# None: the engine's default. Read at every checkout (_check_out), so a connection serves
# whoever checks it out under their own limit.
_statement_timeout: ContextVar[float | None] = ContextVar("statement_timeout", default=None)


@contextlib.contextmanager
def statement_timeout(seconds: float | None) -> Iterator[None]:
    """Run the block's database statements under this timeout (0: none; None: the default)."""
    token = _statement_timeout.set(seconds)
    try:
        yield
    finally:
        _statement_timeout.reset(token)


def current_statement_timeout() -> float | None:
    """The statement timeout set for the code running now, if any (see statement_timeout)."""
    return _statement_timeout.get()


def is_query_canceled(error: BaseException) -> bool:
    """Whether `error` is, or was caused by, PostgreSQL cancelling a statement (57014)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) == QUERY_CANCELED:
            return True
        # SQLAlchemy keeps the driver's error in .orig; the adapter chains asyncpg's as cause.
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


# SQLSTATEs (and classes) of a database that cannot serve now but may soon: connection
# exceptions (08), insufficient resources (53: disk full, out of memory, too many
# connections), a server shutting down or starting (57P01-57P03), a read-only server (25006: a
# standby, or default_transaction_read_only) and I/O errors (58030).
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53")
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "25006", "58030"})


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it wraps: SQLAlchemy's .orig, then each cause or context."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            orig
            if isinstance(orig, BaseException) and id(orig) not in seen
            else current.__cause__ or current.__context__
        )


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot serve now (down, unreachable, out of disk,
    read-only, or the pool gave no connection in time): a retryable condition, not a bug."""
    # Imported here: asyncpg is the driver's, and this module must import without it.
    from asyncpg.exceptions import ConnectionDoesNotExistError, InterfaceError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    inside_driver = False
    for current in _causes(error):
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate in UNAVAILABLE_SQLSTATES or sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES
        ):
            return True
        if isinstance(current, PoolTimeout | ConnectionError | ConnectionDoesNotExistError):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            inside_driver = True
        if isinstance(current, InterfaceError) and "connection is closed" in str(current):
            return True
        if inside_driver and isinstance(current, OSError):
            return True
    return False


def _milliseconds(seconds: float | None) -> int:
    return 0 if seconds is None else max(0, round(seconds * 1000))


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    statement_timeout: float | None = None,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """An asyncpg engine with a pool of at most `pool_size` connections, opened as needed and
    kept; connections are checked before use.

    `statement_timeout` (seconds; None or 0: none) bounds every statement run outside a
    `statement_timeout(...)` block, which sets its own; `pool_timeout` (seconds) bounds the
    wait for a connection when all are busy.
    """
    default_ms = _milliseconds(statement_timeout)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        # No overflow: an overflow connection is closed as soon as it is given back, so a load
        # steadily above the kept size opened a new PostgreSQL backend for a good share of its
        # requests (measured: 16 clients over 10 kept + 10 overflow, 345 page requests/s and
        # 1.77 ms of gateway CPU each; over 20 kept, 514/s and 1.38 ms, bench/results/
        # issue19-perf.md). The same bound, every connection kept once opened.
        max_overflow=0,
        # Past it a request that found every connection busy fails as UNAVAILABLE (retryable).
        pool_timeout=pool_timeout,
        # Not pool_pre_ping: a round trip on every checkout (several per request or event);
        # _check_out does the same job without one for connections in steady use.
        pool_pre_ping=False,
        # Statement parameters carry webhook secrets and password hashes: keep them out of
        # SQL logging and out of the text of database errors (which end up in logs).
        hide_parameters=True,
        connect_args={
            "server_settings": {
                "application_name": "taskstream",
                "statement_timeout": str(default_ms),
                # One statement, one core: a parallel plan let one account's count take both
                # cores of a 2-core machine from everyone else (bench/abuse.py, the attack: other
                # users' p99 under attack 2.6x quiet with parallel plans, 1.2x without).
                "max_parallel_workers_per_gather": "0",
            }
        },
    )
    pool = engine.sync_engine.pool
    event.listen(pool, "connect", partial(_connected, default_ms))
    event.listen(pool, "checkin", _checked_in)
    event.listen(pool, "checkout", partial(_check_out, engine.dialect, default_ms))
    return engine


def _connected(default_ms: int, _: Any, record: ConnectionPoolEntry) -> None:
    record.info["statement_timeout_ms"] = default_ms


def _checked_in(_: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_out(
    dialect: Dialect,
    default_ms: int,
    dbapi_connection: Any,
    record: ConnectionPoolEntry,
    _: Any,
) -> None:
    """Replace a pooled connection the server closed (or one idle long that fails a ping).

    asyncpg marks a connection closed as soon as the event loop sees the server end it (a
    restart's fast shutdown cuts every session), so that needs no round trip; only a
    connection idle for a while, which a firewall may have dropped silently, is pinged.
    DisconnectionError makes the pool discard it and connect afresh.

    Then give the connection the statement timeout of whoever checks it out. The session
    setting is changed only when it differs from the last one set on this connection, so a
    process whose connections serve one kind of caller pays no round trip for it.
    """
    driver = dbapi_connection.driver_connection
    if driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("a pooled connection failed its ping") from error
    wanted = _statement_timeout.get()
    wanted_ms = default_ms if wanted is None else _milliseconds(wanted)
    if record.info.get("statement_timeout_ms") != wanted_ms:
        try:
            # Outside any transaction: a session setting, kept until changed here again.
            await_(driver.execute(f"SET statement_timeout = {int(wanted_ms)}"))
        except Exception as error:
            raise DisconnectionError("a pooled connection refused its settings") from error
        record.info["statement_timeout_ms"] = wanted_ms


def alembic_config(url: str) -> Config:
    """Alembic's configuration pointed at this repository's migrations and `url`."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


async def _run_alembic(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    """Run an Alembic command inside one transaction on `engine`."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    # A migration may rewrite a large table: no statement timeout, whatever the engine's.
    with statement_timeout(0):
        async with engine.begin() as connection:
            await connection.run_sync(run)


async def migrate(engine: AsyncEngine, *, revision: str = "heads") -> None:
    """Upgrade the database to `revision` (the newest by default)."""
    await _run_alembic(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, *, revision: str) -> None:
    """Downgrade the database to `revision` ("base" removes every table)."""
    await _run_alembic(engine, lambda config: command.downgrade(config, revision))


def migration_branches() -> frozenset[str]:
    """The branch labels of this repository's migrations (one per worker service)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://"))
    return frozenset(label for rev in script.walk_revisions() for label in rev.branch_labels)


async def pending_migrations(engine: AsyncEngine, *, branch: str | None = None) -> bool:
    """True when the database is not at the newest migration (of one `branch`, when given)."""
    script = ScriptDirectory.from_config(
        alembic_config(engine.url.render_as_string(hide_password=False))
    )

    def current(connection: Connection) -> set[str]:
        context = MigrationContext.configure(connection, opts={"version_table_schema": "public"})
        return set(context.get_current_heads())

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        heads = await connection.run_sync(current)
    if branch is None:
        return heads != set(script.get_heads())
    # One row per branch head: the branch is current when its head is among them (a database
    # ahead of this code holds a newer, unknown revision there instead, so it is pending too).
    wanted = {revision.revision for revision in script.get_revisions(f"{branch}@head") if revision}
    return not wanted <= heads
