"""The outbox relay: every committed event published once, in order, even with two replicas."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client import Gauge
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.model import Task
from gateway_core.persistence import tables as t
from gateway_core.persistence.uow import UnitOfWork
from taskstream.messaging.bus import Message, Outcome, PublishError, Subscription, Transport
from taskstream.messaging.cloudevents import envelope
from taskstream.messaging.memory import MemoryTransport
from taskstream.messaging.metrics import OUTBOX_METRICS
from taskstream.persistence.outbox import OutboxRelay, outbox_table, write_outbox
from tests.integration.test_outbox import make_user

pytestmark = pytest.mark.integration


async def write_tasks(engine: AsyncEngine, user_id: uuid.UUID, count: int) -> list[str]:
    """Commit `count` task creations; returns their event ids in commit order."""
    ids: list[str] = []
    for i in range(count):
        async with UnitOfWork(engine) as uow:
            task = Task.create(user_id=user_id, title=f"relay {i}", now=datetime.now(UTC))
            await uow.tasks.add(task)
            ids.extend(str(e.id) for e in uow.collect_envelopes())
            await uow.commit()
    return ids


async def unpublished(engine: AsyncEngine) -> int:
    """Outbox rows not yet acknowledged by a transport."""
    async with engine.connect() as connection:
        return int(
            await connection.scalar(
                select(func.count()).select_from(t.outbox).where(t.outbox.c.published_at.is_(None))
            )
            or 0
        )


async def drain_existing(engine: AsyncEngine) -> None:
    """Mark rows left by other tests as published so that each test sees only its own."""
    async with engine.begin() as connection:
        await connection.execute(
            t.outbox.update()
            .where(t.outbox.c.published_at.is_(None))
            .values(published_at=func.now())
        )


async def test_two_replicas_publish_each_row_once_in_commit_order(engine: AsyncEngine) -> None:
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = MemoryTransport()
    received: list[str] = []

    async def record(message: Message) -> Outcome:
        received.append(message.id)
        return Outcome.SUCCESS

    await transport.subscribe([Subscription("task-events", "relay-test", record)])
    relays = [
        OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=0.05, batch_size=7)
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        expected = await write_tasks(engine, user_id, 40)
        for _ in range(400):
            if len(received) >= 40 and await unpublished(engine) == 0:
                break
            await asyncio.sleep(0.05)
        assert [r.is_leader for r in relays].count(True) == 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    mine = [i for i in received if i in set(expected)]
    assert mine == expected, "each event exactly once, in commit order"


class FlakyTransport(Transport):
    """Refuses publishes while `down` is set, like a broker that is away."""

    def __init__(self) -> None:
        self.down = True
        self.published: list[Message] = []

    async def start(self) -> None:
        """Nothing to do."""

    async def close(self) -> None:
        """Nothing to do."""

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Not used."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Fail while down."""
        if self.down:
            raise PublishError("broker unavailable")
        self.published.extend(messages)


async def test_rows_wait_while_the_transport_is_down(engine: AsyncEngine) -> None:
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = FlakyTransport()
    relay = OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=0.05)
    running = asyncio.create_task(relay.run())
    try:
        expected = await write_tasks(engine, user_id, 5)
        await asyncio.sleep(0.5)
        assert await unpublished(engine) == 5 and transport.published == []
        transport.down = False
        for _ in range(200):
            if await unpublished(engine) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert [m.id for m in transport.published] == expected


class RecordingTransport(FlakyTransport):
    """Up from the start; records the event ids of each publish call, batch by batch."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.batches: list[list[str]] = []

    async def publish(self, messages: Sequence[Message]) -> None:
        """Record the batch, then accept it."""
        await super().publish(messages)
        self.batches.append([m.id for m in messages])


async def published(transport: RecordingTransport, ids: Sequence[str]) -> None:
    """Wait (at most 30 s) until every one of these events was published."""
    async with asyncio.timeout(30):
        while not set(ids) <= {m.id for m in transport.published}:
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    """The relay's loop, running for the body of the block."""
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_writes_committed_within_the_claim_interval_go_out_in_one_batch(
    engine: AsyncEngine,
) -> None:
    # Polls once an hour: each claim here is one that a committed write woke.
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = RecordingTransport()
    relay = OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=3600, claim_interval=2)
    async with running(relay):
        first = await write_tasks(engine, user_id, 1)
        await published(transport, first)
        # Five commits, each waking the relay, well within two seconds of the last claim.
        burst = await write_tasks(engine, user_id, 5)
        await published(transport, burst)
    assert transport.batches == [first, burst]


async def test_an_acknowledged_batch_is_marked_by_the_next_claim_not_a_claim_of_its_own(
    engine: AsyncEngine,
) -> None:
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = RecordingTransport()
    relay = OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=3600, claim_interval=0)
    async with running(relay):
        first = await write_tasks(engine, user_id, 1)
        await published(transport, first)
        # The acknowledgement alone sends no statement: the row waits to be marked...
        await asyncio.sleep(0.5)
        assert await unpublished(engine) == 1
        # ... by the claim that the next write wakes, which reads that write's row.
        second = await write_tasks(engine, user_id, 1)
        await published(transport, second)
        async with engine.connect() as connection:
            marked = {
                row.event_id: row.published_at is not None
                for row in await connection.execute(
                    select(t.outbox.c.event_id, t.outbox.c.published_at).where(
                        t.outbox.c.event_id.in_([uuid.UUID(i) for i in first + second])
                    )
                )
            }
    assert marked == {uuid.UUID(first[0]): True, uuid.UUID(second[0]): False}
    assert transport.batches == [first, second]


async def test_the_other_replica_takes_over_when_the_leader_stops(engine: AsyncEngine) -> None:
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = MemoryTransport()
    received: list[str] = []

    async def record(message: Message) -> Outcome:
        received.append(message.id)
        return Outcome.SUCCESS

    await transport.subscribe([Subscription("task-events", "failover-test", record)])
    relays = [OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=0.05) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        first = await write_tasks(engine, user_id, 3)
        for _ in range(100):
            if await unpublished(engine) == 0 and any(r.is_leader for r in relays):
                break
            await asyncio.sleep(0.05)
        leader = next(i for i, r in enumerate(relays) if r.is_leader)
        tasks[leader].cancel()
        await asyncio.gather(tasks[leader], return_exceptions=True)
        second = await write_tasks(engine, user_id, 3)
        for _ in range(200):
            if await unpublished(engine) == 0:
                break
            await asyncio.sleep(0.05)
        assert relays[1 - leader].is_leader
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert [i for i in received if i in set(first + second)] == first + second


def gauge(metric: Gauge) -> float:
    """A gauge's current value."""
    return float(next(iter(metric.collect())).samples[0].value)


async def test_lag_is_measured_from_the_batch_and_counted_only_past_a_full_one(
    engine: AsyncEngine,
) -> None:
    metadata = MetaData(schema="relay_lag_test")
    outbox = outbox_table(metadata)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS relay_lag_test CASCADE"))
        await connection.execute(text("CREATE SCHEMA relay_lag_test"))
        await connection.run_sync(metadata.create_all)
        await write_outbox(
            connection,
            outbox,
            [
                envelope(
                    topic="task-events",
                    type_="taskstream.test.v1",
                    source="test",
                    subject=str(n),
                    partition_key="lag",
                    time=datetime.now(UTC),
                    data={"n": n},
                )
                for n in range(3)
            ],
        )
    relay = OutboxRelay(engine, MemoryTransport(), outbox=outbox, batch_size=2)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            # A full batch may not be all of it: counted (3 rows).
            assert await relay.publish_pending(connection) == 2
            assert gauge(OUTBOX_METRICS.lag_rows) == 3
            # A partial batch is all of it: its own size and age, no count.
            assert await relay.publish_pending(connection) == 1
            assert gauge(OUTBOX_METRICS.lag_rows) == 1
            assert gauge(OUTBOX_METRICS.lag_seconds) >= 0
            assert await relay.publish_pending(connection) == 0
            assert gauge(OUTBOX_METRICS.lag_rows) == 0
            assert gauge(OUTBOX_METRICS.lag_seconds) == 0
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA relay_lag_test CASCADE"))


async def test_a_committed_write_wakes_the_idle_relay_and_a_rolled_back_one_writes_nothing(
    engine: AsyncEngine,
) -> None:
    # The relay polls once an hour here: only the write's notification can get the row out.
    await drain_existing(engine)
    user_id = await make_user(engine)
    transport = MemoryTransport()
    received: list[str] = []
    arrived = asyncio.Event()

    async def record(message: Message) -> Outcome:
        received.append(message.id)
        arrived.set()
        return Outcome.SUCCESS

    await transport.subscribe([Subscription("task-events", "wake-test", record)])
    relay = OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=3600)
    running = asyncio.create_task(relay.run())
    try:
        # A first row shows the relay leads and listens (it listens before its first read):
        # from then on it only reads again when woken.
        (first,) = await write_tasks(engine, user_id, 1)
        async with asyncio.timeout(30):
            await arrived.wait()
        arrived.clear()
        rolled_back = envelope(
            topic="task-events",
            type_="test.wake.v1",
            source="tests",
            subject="rolled back",
            partition_key=str(user_id),
            time=datetime.now(UTC),
            data={},
        )
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await write_outbox(connection, t.outbox, [rolled_back])
            await transaction.rollback()
        (event_id,) = await write_tasks(engine, user_id, 1)
        async with asyncio.timeout(30):
            await arrived.wait()
        assert received == [first, event_id]
        async with engine.connect() as connection:
            found = await connection.scalar(
                select(func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.event_id == rolled_back.id)
            )
        assert found == 0
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
