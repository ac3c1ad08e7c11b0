"""The transactional outbox: its table, writing to it, and the relay that publishes it.

Any service that emits events keeps an outbox table in its own schema (`outbox_table`),
writes its events there in the transaction of the change (`write_outbox`), and runs a relay.

The relay publishes committed events at least once, in commit order per partition key (the
order Kafka keeps; the Dapr transport sends different keys together: see its `publish`).

One relay at a time holds a PostgreSQL advisory lock (a lease tied to its connection), so
several gateway replicas never publish the same rows concurrently or out of order; if the
holder dies its connection closes, the lock is released and another replica takes over.
Rows are marked published only after the transport acknowledged them, and pruned later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from opentelemetry.trace import Span, SpanKind, StatusCode
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream import telemetry
from taskstream.messaging.bus import Message, PublishError, Transport
from taskstream.messaging.cloudevents import Envelope, with_traceparent
from taskstream.messaging.metrics import OUTBOX_METRICS
from taskstream.persistence.pruning import delete_older_than
from taskstream.wakeup import Wakeup

log = logging.getLogger(__name__)


def _traced(payload: dict[str, Any], span: Span | None) -> dict[str, Any]:
    """The CloudEvent as published: with the publish span as its `traceparent`, when traced."""
    if span is None:
        return payload
    return with_traceparent(payload, telemetry.traceparent_of(span))


def outbox_table(metadata: MetaData) -> Table:
    """An outbox table in the metadata's schema (create it in that service's migration)."""
    return Table(
        "outbox",
        metadata,
        Column("position", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("partition_key", Text, nullable=False),
        Column("type", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        # The W3C trace context of the transaction that wrote the row (taskstream/telemetry.py):
        # the relay's publish continues that trace. Null when tracing is off.
        Column("traceparent", Text),
    )


def notify_channel(outbox: Table) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay of this outbox."""
    return f"{outbox.schema}_outbox"


def lease_key(outbox: Table) -> int:
    """The advisory-lock key of this outbox's relay lease, the same in every replica."""
    return zlib.crc32(f"taskstream.outbox.{outbox.schema}".encode())


@functools.cache
def _write_statement(table: str, channel: str) -> str:
    """The outbox write of `write_outbox` for one table: constant text, prepared once per
    connection (nothing compiled per write, whatever the number of events)."""
    # Only the table's own name and channel are interpolated, never a value (S608/B608).
    # The rows go in the order given (by ordinality): `position` is the relay's order.
    # One statement, one round trip: the rows and the wake-up (a data-modifying CTE runs once,
    # read or not). A notification is delivered at commit, never for a rolled-back transaction.
    return f"""WITH written AS (
  INSERT INTO {table} (event_id, topic, partition_key, type, payload, traceparent)
  SELECT e.event_id, e.topic, e.partition_key, e.type, e.payload, $6::text
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
    WITH ORDINALITY AS e(event_id, topic, partition_key, type, payload, place)
  ORDER BY e.place
)
SELECT pg_notify('{channel}', '')"""  # noqa: S608  # nosec B608


async def write_outbox(
    connection: AsyncConnection, outbox: Table, envelopes: Sequence[Envelope]
) -> None:
    """Store events in the caller's transaction and wake the relay when it commits."""
    if not envelopes:
        return
    await connection.exec_driver_sql(
        _write_statement(outbox.fullname, notify_channel(outbox)),
        (
            [e.id for e in envelopes],
            [e.topic for e in envelopes],
            [e.partition_key for e in envelopes],
            [e.type for e in envelopes],
            [json.dumps(e.body) for e in envelopes],
            telemetry.current_traceparent(),
        ),
    )


class OutboxRelay:
    """Moves outbox rows to the transport; run() until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport,
        *,
        outbox: Table,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        keep_published: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.outbox = outbox
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep_published = keep_published
        self._wakeup = Wakeup()
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
        lease = select(func.pg_try_advisory_lock(lease_key(self.outbox)))
        while not await connection.scalar(lease):
            self.is_leader = False
            await asyncio.sleep(self.poll_seconds * 4)
        self.is_leader = True
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.add_listener(notify_channel(self.outbox), self._wakeup.set)
        try:
            cycles = 0
            while True:
                published = await self.publish_pending(connection)
                cycles += 1
                if cycles % 100 == 0:
                    await self.prune(connection)
                # A full batch means more rows are waiting: look again at once.
                busy = published >= self.batch_size
                await self._wakeup.wait(0 if busy else self.poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(notify_channel(self.outbox), self._wakeup.set)

    async def publish_pending(self, connection: AsyncConnection) -> int:
        """Publish one batch of unpublished rows in order; returns how many."""
        rows = (
            await connection.execute(
                select(
                    self.outbox.c.position,
                    self.outbox.c.topic,
                    self.outbox.c.partition_key,
                    self.outbox.c.payload,
                    self.outbox.c.traceparent,
                    func.extract("epoch", func.now() - self.outbox.c.created_at).label("age"),
                )
                .where(self.outbox.c.published_at.is_(None))
                .order_by(self.outbox.c.position)
                .limit(self.batch_size)
            )
        ).all()
        if len(rows) < self.batch_size:
            # A partial batch is every unpublished row: the lag is known without a count(*)
            # per wake-up (one per committed transaction under load).
            OUTBOX_METRICS.lag_rows.set(len(rows))
            OUTBOX_METRICS.lag_seconds.set(max((float(row.age) for row in rows), default=0.0))
        else:
            await self._record_lag(connection)
        if not rows:
            return 0
        spans = [self._publish_span(row) for row in rows] if telemetry.enabled() else []
        messages = [
            Message(row.topic, row.partition_key, _traced(row.payload, spans[i] if spans else None))
            for i, row in enumerate(rows)
        ]
        try:
            await self.transport.publish(messages)
        except PublishError as error:
            OUTBOX_METRICS.publish_failures.inc()
            for span in spans:
                span.record_exception(error)
                span.set_status(StatusCode.ERROR)
            raise
        finally:
            for span in spans:
                span.end()
        await connection.execute(
            update(self.outbox)
            .where(self.outbox.c.position.in_([row.position for row in rows]))
            .values(published_at=func.now())
        )
        OUTBOX_METRICS.published.inc(len(rows))
        return len(rows)

    @staticmethod
    def _publish_span(row: Any) -> Span:
        """A PRODUCER span for one row, continuing the trace of the request that wrote it."""
        return telemetry.start_span(
            f"publish {row.topic}",
            kind=SpanKind.PRODUCER,
            traceparent=row.traceparent,
            attributes={
                "messaging.system": "taskstream",
                "messaging.destination.name": row.topic,
                "messaging.message.id": str(row.payload.get("id", "")),
                "cloudevents.event_type": str(row.payload.get("type", "")),
                "cloudevents.event_subject": str(row.payload.get("subject", "")),
            },
        )

    async def prune(self, connection: AsyncConnection) -> int:
        """Delete rows published longer ago than we keep them, in batches (never unpublished)."""
        return await delete_older_than(connection, self.outbox.c.published_at, self.keep_published)

    async def _record_lag(self, connection: AsyncConnection) -> None:
        row = (
            await connection.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(self.outbox.c.created_at)), 0
                    ),
                ).where(self.outbox.c.published_at.is_(None))
            )
        ).one()
        OUTBOX_METRICS.lag_rows.set(row[0])
        OUTBOX_METRICS.lag_seconds.set(float(row[1]))
