"""Deleting rows that have outlived their purpose: a few at a time, now and then.

Bookkeeping tables (published outbox rows, the consumers' processed-event ids) grow with every
event. They are pruned by age in small batches, each its own short transaction, so pruning a
large backlog never holds many row locks or one long transaction beside the service's work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy import Column, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000


async def delete_older_than(
    connection: AsyncConnection,
    column: Column[Any],
    age: timedelta,
    *,
    batch_size: int = PRUNE_BATCH,
) -> int:
    """Delete the rows of `column`'s table whose `column` is more than `age` ago; how many.

    A statement deletes at most `batch_size` rows; give an AUTOCOMMIT connection so each batch
    commits on its own. Rows another pruner holds are skipped (SKIP LOCKED), so replicas
    pruning the same table at once neither wait for nor deadlock with each other. Rows whose
    `column` is NULL are never deleted.
    """
    table = column.table
    key = list(table.primary_key.columns)
    removed = 0
    while True:
        doomed = (
            select(*key)
            .where(column < func.now() - age)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        result = await connection.execute(delete(table).where(tuple_(*key).in_(doomed)))
        removed += result.rowcount
        if result.rowcount < batch_size:
            return removed


def pruning_loop(
    engine: AsyncEngine, column: Column[Any], age: timedelta, *, interval: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    """A background loop (ServiceParts.background) pruning `column`'s table every `interval` s.

    A failure is logged and tried again at the next round: pruning is housekeeping, never a
    reason to stop the service.
    """

    async def run() -> None:
        while True:
            try:
                async with engine.connect() as connection:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                    removed = await delete_older_than(connection, column, age)
                if removed:
                    log.info(
                        "pruned old rows", extra={"table": str(column.table), "removed": removed}
                    )
            except Exception:
                log.exception("pruning failed; will try again", extra={"table": str(column.table)})
            await asyncio.sleep(interval)

    return run
