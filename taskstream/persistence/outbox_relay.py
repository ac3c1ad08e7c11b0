"""The outbox relay: publishes committed events in commit order, at least once.

One relay at a time holds a PostgreSQL advisory lock (a lease tied to its connection), so
several gateway replicas never publish the same rows concurrently or out of order; if the
holder dies its connection closes, the lock is released and another replica takes over.
Rows are marked published only after the transport acknowledged them, and pruned later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream.messaging.bus import Message, PublishError, Transport
from taskstream.messaging.metrics import OUTBOX_METRICS
from taskstream.persistence import tables as t

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "taskstream_outbox"
# Any constant shared by all replicas names the lease.
LEASE_KEY = 0x7A5C_0B0C


class OutboxRelay:
    """Moves outbox rows to the transport; run() until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        keep_published: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep_published = keep_published
        self._wake = asyncio.Event()
        self.is_leader = False

    async def run(self) -> None:
        """Hold the lease when free and publish; retry with backoff whatever fails."""
        backoff = 0.2
        while True:
            try:
                async with self.engine.connect() as connection:
                    try:
                        await self._lead(connection)
                    finally:
                        # The lease lives as long as this session: close it rather than hand
                        # a connection that still holds the lock back to the pool.
                        self.is_leader = False
                        await connection.invalidate()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"backoff": backoff})
                self.is_leader = False
                await asyncio.sleep(backoff)
                backoff = min(5.0, backoff * 2)

    async def _lead(self, connection: AsyncConnection) -> None:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not await connection.scalar(select(func.pg_try_advisory_lock(LEASE_KEY))):
            self.is_leader = False
            await asyncio.sleep(self.poll_seconds * 4)
        self.is_leader = True
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(NOTIFY_CHANNEL, self._on_notify)
        try:
            cycles = 0
            while True:
                published = await self.publish_pending(connection)
                cycles += 1
                if cycles % 100 == 0:
                    await self.prune(connection)
                if published < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                    self._wake.clear()
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(NOTIFY_CHANNEL, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self, connection: AsyncConnection) -> int:
        """Publish one batch of unpublished rows in order; returns how many."""
        rows = (
            await connection.execute(
                select(
                    t.outbox.c.position,
                    t.outbox.c.topic,
                    t.outbox.c.partition_key,
                    t.outbox.c.payload,
                )
                .where(t.outbox.c.published_at.is_(None))
                .order_by(t.outbox.c.position)
                .limit(self.batch_size)
            )
        ).all()
        await self._record_lag(connection)
        if not rows:
            return 0
        messages = [Message(row.topic, row.partition_key, row.payload) for row in rows]
        try:
            await self.transport.publish(messages)
        except PublishError:
            OUTBOX_METRICS.publish_failures.inc()
            raise
        await connection.execute(
            update(t.outbox)
            .where(t.outbox.c.position.in_([row.position for row in rows]))
            .values(published_at=func.now())
        )
        OUTBOX_METRICS.published.inc(len(rows))
        return len(rows)

    async def prune(self, connection: AsyncConnection) -> int:
        """Delete rows published longer ago than we keep them."""
        result = await connection.execute(
            delete(t.outbox).where(t.outbox.c.published_at < func.now() - self.keep_published)
        )
        return result.rowcount

    async def _record_lag(self, connection: AsyncConnection) -> None:
        row = (
            await connection.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(t.outbox.c.created_at)), 0
                    ),
                ).where(t.outbox.c.published_at.is_(None))
            )
        ).one()
        OUTBOX_METRICS.lag_rows.set(row[0])
        OUTBOX_METRICS.lag_seconds.set(float(row[1]))


async def notify_outbox(connection: AsyncConnection) -> None:
    """Wake the relay when this transaction commits (NOTIFY is delivered at commit)."""
    await connection.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
