"""Which database errors are UNAVAILABLE (retryable), and which are not."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from taskstream.persistence.db import is_database_unavailable


class DriverError(Exception):
    """An error carrying a SQLSTATE, as asyncpg's (and SQLAlchemy's adapter's) do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(orig: BaseException) -> DBAPIError:
    """The error as SQLAlchemy raises it: the driver's in .orig."""
    return DBAPIError("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    "sqlstate",
    [
        "53100",  # disk_full
        "53200",  # out_of_memory
        "53300",  # too_many_connections
        "08006",  # connection_failure
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, in recovery)
        "25006",  # read_only_sql_transaction
        "58030",  # io_error
    ],
)
def test_a_server_that_cannot_serve_now_is_unavailable(sqlstate: str) -> None:
    assert is_database_unavailable(wrapped(DriverError(sqlstate)))


@pytest.mark.parametrize(
    "sqlstate",
    ["57014", "23505", "40001", "42P01", "22001"],  # cancelled, unique, serialization, ...
)
def test_errors_of_the_request_itself_are_not(sqlstate: str) -> None:
    assert not is_database_unavailable(wrapped(DriverError(sqlstate)))


def test_no_connection_from_the_pool_in_time_is_unavailable() -> None:
    assert is_database_unavailable(PoolTimeout("QueuePool limit reached"))


def test_a_refused_or_dropped_connection_is_unavailable() -> None:
    assert is_database_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert is_database_unavailable(asyncpg.ConnectionDoesNotExistError("closed mid-operation"))
    chained = RuntimeError("while saving")
    chained.__cause__ = ConnectionResetError(104, "reset by peer")
    assert is_database_unavailable(chained)


def test_unrelated_errors_are_not() -> None:
    assert not is_database_unavailable(ValueError("bad"))
    assert not is_database_unavailable(OSError("a file, not the database"))
    assert not is_database_unavailable(KeyError("x"))
