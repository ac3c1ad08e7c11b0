"""The outbox relay with batches in flight at once, through a real daprd and Kafka: every
key keeps its commit order in its partition, and every event is published once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack import KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import DaprResources
from gateway_core.persistence import tables as t
from taskstream.messaging.bus import Message, Subscription, Transport
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.persistence.outbox import OutboxRelay, write_outbox
from tests.integration.test_dapr_publish import PARTITIONS, numbered, read_partitions
from tests.integration.test_messaging_contract import unique_topic
from tests.integration.test_outbox_relay import drain_existing, unpublished

pytestmark = pytest.mark.integration

BATCH = 10
IN_FLIGHT = 4
KEYS = 6
ROWS = 240


def key_of(n: int) -> str:
    """Row n's key. In each group of four batches: the first two share key A, the third and
    fourth have keys B and C of their own (each group its own three keys, from KEYS)."""
    batch = n // BATCH
    group, place = divmod(batch, 4)
    return f"k{(3 * group + max(0, place - 1)) % KEYS}"


class FirstOfFourIsSlow(Transport):
    """Publishes through `inner`, the first batch of each group of four only after a while:
    a second batch of its key, sent without waiting for it, would overtake it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.calls = 0
        self.most_at_once = 0
        self._at_once = 0

    async def start(self) -> None:
        """Started with the transport it wraps."""

    async def close(self) -> None:
        """Closed with the transport it wraps."""

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Not used: the relay only publishes."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Wait when the batch is the first of its group, then publish through `inner`."""
        self.calls += 1
        self._at_once += 1
        self.most_at_once = max(self.most_at_once, self._at_once)
        try:
            if messages[0].body["data"]["n"] // BATCH % 4 == 0:
                await asyncio.sleep(0.3)
            await self.inner.publish(messages)
        finally:
            self._at_once -= 1


@pytest.fixture
async def sidecar(
    kafka_broker: KafkaBroker, dapr_resources: DaprResources
) -> AsyncIterator[SidecarOnSubscribe]:
    """A Dapr transport with its own daprd, subscribed to nothing."""
    built = SidecarOnSubscribe(kafka_broker.bootstrap_servers, dapr_resources)
    await built.start()
    await built.subscribe([])
    yield built
    await built.close()


async def test_batches_in_flight_together_keep_each_keys_order_in_kafka(
    engine: AsyncEngine, sidecar: SidecarOnSubscribe, kafka_broker: KafkaBroker
) -> None:
    await drain_existing(engine)
    topic = unique_topic("relay-order")
    await KafkaTransport(
        KafkaOptions(kafka_broker.bootstrap_servers, partitions=PARTITIONS), app_id="t"
    ).ensure_topics({topic})
    keys = [key_of(n) for n in range(ROWS)]
    async with engine.begin() as connection:
        await write_outbox(
            connection, t.outbox, [numbered(topic, key, n) for n, key in enumerate(keys)]
        )
    transport = FirstOfFourIsSlow(sidecar)
    relay = OutboxRelay(
        engine,
        transport,
        outbox=t.outbox,
        poll_seconds=0.05,
        batch_size=BATCH,
        max_in_flight=IN_FLIGHT,
    )
    running = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(120):
            while await unpublished(engine):
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert transport.calls == ROWS // BATCH
    assert transport.most_at_once > 1, "batches of disjoint keys went side by side"
    held = await read_partitions(kafka_broker.bootstrap_servers, topic, ROWS)
    numbers = [m.body["data"]["n"] for messages in held.values() for m in messages]
    assert sorted(numbers) == list(range(ROWS)), "every event once"
    for messages in held.values():
        for key in {m.key for m in messages}:
            got = [m.body["data"]["n"] for m in messages if m.key == key]
            assert got == [n for n, k in enumerate(keys) if k == key], key
