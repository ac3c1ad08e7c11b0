"""The transactional outbox: its table, writing to it, and the relay that publishes it.

Any service that emits events keeps an outbox table in its own schema (`outbox_table`),
writes its events there in the transaction of the change (`write_outbox`), and runs a relay.

The relay publishes committed events at least once, in commit order per partition key (the
order Kafka keeps; the Dapr transport sends different keys together: see its `publish`). It
claims batches while earlier ones are still being published, a batch sharing a key with an
earlier one in flight waiting for it (see `OutboxRelay`); one statement per batch marks the
acknowledged rows and claims the next.

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
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
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
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream import telemetry
from taskstream.messaging.bus import Message, PublishError, Transport
from taskstream.messaging.cloudevents import Envelope, with_traceparent
from taskstream.messaging.metrics import OUTBOX_METRICS
from taskstream.persistence import driver
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
def rows_statement(table: str, first: int = 1) -> str:
    """The INSERT of outbox rows given as parameters $first to $first + 5 (`write_parameters`):
    in `write_outbox`'s statement, and a data-modifying CTE of a caller whose one statement
    writes its change and its events together (which then also wakes the relay: `wake_relay`).
    Constant text, prepared once per connection, nothing compiled per write."""
    ids, topics, keys, types, payloads, traceparent = (f"${first + n}" for n in range(6))
    # Only the table's own name and parameter numbers are interpolated, never a value
    # (S608/B608). The rows go in the order given (by ordinality): `position` is the relay's
    # order.
    return f"""INSERT INTO {table} (event_id, topic, partition_key, type, payload, traceparent)
  SELECT e.event_id, e.topic, e.partition_key, e.type, e.payload, {traceparent}::text
  FROM unnest({ids}::uuid[], {topics}::text[], {keys}::text[], {types}::text[],
    {payloads}::jsonb[]) WITH ORDINALITY AS e(event_id, topic, partition_key, type, payload, place)
  ORDER BY e.place"""  # noqa: S608  # nosec B608


def wake_relay(outbox: Table) -> str:
    """The SQL expression that wakes the outbox's relay when its transaction commits (never for
    one rolled back): for the one-row main query of a statement that writes outbox rows."""
    return f"pg_notify('{notify_channel(outbox)}', '')"


@functools.cache
def _write_statement(outbox: Table) -> str:
    # One statement, one round trip: the rows and the wake-up (a data-modifying CTE runs once,
    # read or not).
    return f"WITH written AS (\n{rows_statement(outbox.fullname)}\n)\nSELECT {wake_relay(outbox)}"


def write_parameters(envelopes: Sequence[Envelope]) -> tuple[Any, ...]:
    """The parameters of `rows_statement` for these events, in this order."""
    return (
        [e.id for e in envelopes],
        [e.topic for e in envelopes],
        [e.partition_key for e in envelopes],
        [e.type for e in envelopes],
        [json.dumps(e.body) for e in envelopes],
        telemetry.current_traceparent(),
    )


async def write_outbox(
    connection: AsyncConnection, outbox: Table, envelopes: Sequence[Envelope]
) -> None:
    """Store events in the caller's transaction and wake the relay when it commits."""
    if not envelopes:
        return
    await driver.fetch(
        connection,
        _write_statement(outbox),
        *write_parameters(envelopes),
    )


# Claimed batches being published at once, at most (each ≤ batch_size rows): a bound on the
# relay's memory and on what it asks of the transport at a time.
MAX_IN_FLIGHT = 4
# The shortest time between two claims that did not fill their batch (OutboxRelay): 5 ms,
# Kafka's producer linger since 4.0. Under createTask load at ~500/s (with acknowledgements no
# longer claiming) the relay went from 1.3 claims per row to 0.3, and its CPU per row by about
# a third (bench/results/issue19-perf.md, eleventh session).
CLAIM_INTERVAL = 0.005
# A full batch does not show the whole backlog: count it, but at most this often.
LAG_COUNT_SECONDS = 1.0


@functools.cache
def _claim_statement(table: str) -> str:
    """The relay's one statement per batch: mark the acknowledged rows published and read the
    next batch of unpublished rows, those in flight excepted (constant text, prepared once)."""
    # A data-modifying CTE runs once, read or not; the SELECT sees the snapshot from before
    # it, so the marked rows are excluded by position too ($2 holds them and those in flight).
    return f"""WITH marked AS (
  UPDATE {table} SET published_at = now()
  WHERE position = ANY($1::bigint[]) AND published_at IS NULL
)
SELECT position, topic, partition_key, payload::text AS payload, traceparent,
  extract(epoch FROM now() - created_at)::float8 AS age
FROM {table}
WHERE published_at IS NULL AND position <> ALL($2::bigint[])
ORDER BY position
LIMIT $3"""  # noqa: S608  # nosec B608


@dataclass(frozen=True, slots=True)
class _Row:
    """One claimed outbox row, as the relay publishes it."""

    position: int
    topic: str
    partition_key: str
    payload: dict[str, Any]
    traceparent: str | None
    age: float


@dataclass(slots=True)
class _Flight:
    """A claimed batch being published: its rows' positions and (topic, key) lanes."""

    positions: list[int]
    lanes: set[tuple[str, str]]
    # time.monotonic() when its oldest row was written, for the lag gauge.
    oldest: float
    task: asyncio.Task[None]


class OutboxRelay:
    """Moves outbox rows to the transport; run() until cancelled.

    Up to `max_in_flight` claimed batches are published at once. A batch whose (topic, key)
    lanes meet those of an earlier batch still in flight is sent only once that one was
    acknowledged, so every key keeps its order; batches of disjoint keys go side by side.
    Acknowledged rows are marked published by the next claim, in the same statement: the one
    the next committed write wakes, or the next poll. An acknowledgement alone does not claim
    (under load that was a second statement per batch, which found nothing new), unless the
    relay waits for a free slot or the batch failed.

    Two claims are at least `claim_interval` apart unless the first one filled its batch: a
    write that commits sooner after a claim waits out the rest of it and goes with the others
    that came meanwhile, as a producer's linger does. Each claim costs the relay and
    PostgreSQL about as much whatever it holds, and a busy gateway wakes the relay with every
    commit; a write after a quiet interval is claimed at once.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        transport: Transport,
        *,
        outbox: Table,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        claim_interval: float = CLAIM_INTERVAL,
        keep_published: timedelta = timedelta(hours=1),
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.outbox = outbox
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.claim_interval = claim_interval
        self.keep_published = keep_published
        self.max_in_flight = max_in_flight
        self._wakeup = Wakeup()
        # Set while every slot is taken: an ended flight then wakes the loop.
        self._waiting_for_slot = False
        self.is_leader = False
        # Positions acknowledged by the transport, to be marked published by the next claim
        # (kept across leases: an acknowledged row may always be marked).
        self._acked: list[int] = []
        self._counted_at = -math.inf

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
        listening: Any = raw.driver_connection
        await listening.add_listener(notify_channel(self.outbox), self._wakeup.set)
        flights: list[_Flight] = []
        try:
            cycles = 0
            while True:
                self._settle(flights)
                if len(flights) >= self.max_in_flight:
                    # Woken when a flight ends (or by a poll, as a safety net).
                    self._waiting_for_slot = True
                    await self._wakeup.wait(self.poll_seconds)
                    self._waiting_for_slot = False
                    continue
                claimed_at = time.monotonic()
                rows = await self._claim(connection, flights)
                if rows:
                    flights.append(self._launch(rows, flights))
                cycles += 1
                if cycles % 100 == 0:
                    await self.prune(connection)
                # A full batch means more rows are waiting: look again at once.
                if len(rows) >= self.batch_size:
                    await self._wakeup.wait(0)
                    continue
                await self._wakeup.wait(self.poll_seconds)
                early = claimed_at + self.claim_interval - time.monotonic()
                if early > 0:
                    await asyncio.sleep(early)
        finally:
            for flight in flights:
                flight.task.cancel()
            await asyncio.gather(*(f.task for f in flights), return_exceptions=True)
            with contextlib.suppress(Exception):
                await listening.remove_listener(notify_channel(self.outbox), self._wakeup.set)

    def _settle(self, flights: list[_Flight]) -> None:
        """Take the ended flights out, their rows to be marked; a failed one raises (the
        earliest first), its rows and those of the flights after it are claimed again."""
        for flight in [f for f in flights if f.task.done()]:
            flights.remove(flight)
            flight.task.result()
            self._acked.extend(flight.positions)

    def _launch(self, rows: Sequence[_Row], flights: Sequence[_Flight]) -> _Flight:
        """Start publishing a claimed batch after the flights that share a lane with it."""
        lanes = {(row.topic, row.partition_key) for row in rows}
        before = [f.task for f in flights if not f.lanes.isdisjoint(lanes)]
        task = asyncio.create_task(self._publish(rows, before))
        task.add_done_callback(self._flight_ended)
        oldest = time.monotonic() - max(row.age for row in rows)
        return _Flight([row.position for row in rows], lanes, oldest, task)

    def _flight_ended(self, task: asyncio.Task[None]) -> None:
        """Wake the loop if it waits for this slot or the flight failed (to claim its rows
        again); an acknowledged batch is otherwise marked by the next claim."""
        if self._waiting_for_slot or task.cancelled() or task.exception() is not None:
            self._wakeup.set()

    async def publish_pending(self, connection: AsyncConnection) -> int:
        """Claim one batch (marking what was acknowledged before) and publish it; returns how
        many rows. Its rows are marked published by the next claim."""
        rows = await self._claim(connection, [])
        if rows:
            await self._publish(rows, [])
            self._acked.extend(row.position for row in rows)
        return len(rows)

    async def _claim(self, connection: AsyncConnection, flights: Sequence[_Flight]) -> list[_Row]:
        """Mark the acknowledged rows and read the next batch, in one statement."""
        in_flight = [position for flight in flights for position in flight.positions]
        acked = self._acked
        result = await driver.fetch(
            connection,
            _claim_statement(self.outbox.fullname),
            acked,
            [*acked, *in_flight],
            self.batch_size,
        )
        self._acked = []
        rows = [
            _Row(
                r["position"],
                r["topic"],
                r["partition_key"],
                json.loads(r["payload"]),
                r["traceparent"],
                r["age"],
            )
            for r in result
        ]
        if acked:
            OUTBOX_METRICS.published.inc(len(acked))
        if len(rows) < self.batch_size:
            # A partial batch is every unpublished row but those in flight: the lag is known
            # without a count(*) per wake-up (one per committed transaction under load).
            now = time.monotonic()
            ages = [row.age for row in rows] + [now - flight.oldest for flight in flights]
            OUTBOX_METRICS.lag_rows.set(len(rows) + len(in_flight))
            OUTBOX_METRICS.lag_seconds.set(max(ages, default=0.0))
        elif time.monotonic() - self._counted_at >= LAG_COUNT_SECONDS:
            self._counted_at = time.monotonic()
            await self._record_lag(connection)
        return rows

    async def _publish(self, rows: Sequence[_Row], before: Sequence[asyncio.Task[None]]) -> None:
        """Publish claimed rows in order once every earlier flight of their keys was acked."""
        if before:
            await asyncio.wait(before)
            if any(task.cancelled() or task.exception() is not None for task in before):
                raise PublishError("an earlier batch of the same keys was not acknowledged")
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

    @staticmethod
    def _publish_span(row: _Row) -> Span:
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
