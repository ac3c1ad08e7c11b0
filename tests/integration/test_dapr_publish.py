"""The Dapr transport's publish through a real daprd and Kafka: rounds of bulk publishes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack import KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import DaprResources
from taskstream.messaging.bus import Message, Outcome, PublishError, Subscription
from taskstream.messaging.cloudevents import Envelope, envelope, with_traceparent
from taskstream.messaging.dapr import BULK_ENTRIES, DaprTransport
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.sidecar import SidecarResponse
from tests.integration.conftest import FAST_RETRIES
from tests.integration.test_messaging_contract import unique_topic

pytestmark = pytest.mark.integration

PARTITIONS = 3
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def numbered(topic: str, key: str, n: int) -> Envelope:
    """A CloudEvent numbered n on `key`, as an outbox row holds it."""
    return envelope(
        topic=topic,
        type_="test.published.v1",
        source="tests",
        subject=str(n),
        partition_key=key,
        time=datetime.now(UTC),
        data={"n": n, "key": key},
    )


def event(topic: str, key: str, n: int) -> Message:
    """A CloudEvent numbered n on `key`, as published."""
    return Message(topic, key, numbered(topic, key, n).body)


class Received:
    """What the subscriber got, and an event that fires once it got `expected` messages."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.messages: list[Message] = []
        self.complete = asyncio.Event()

    async def handle(self, message: Message) -> Outcome:
        """Record one delivery."""
        self.messages.append(message)
        if len(self.messages) >= self.expected:
            self.complete.set()
        return Outcome.SUCCESS


@pytest.fixture
async def sidecar(
    kafka_broker: KafkaBroker, dapr_resources: DaprResources
) -> AsyncIterator[SidecarOnSubscribe]:
    """A started Dapr transport with its own daprd (started when it subscribes)."""
    built = SidecarOnSubscribe(
        kafka_broker.bootstrap_servers, dapr_resources, partitions=PARTITIONS, policy=FAST_RETRIES
    )
    await built.start()
    yield built
    await built.close()


def count_requests(transport: DaprTransport) -> list[str]:
    """The paths of the requests the transport sends to daprd from now on."""
    paths: list[str] = []
    sidecar = transport._sidecar
    assert sidecar is not None
    send = sidecar.request

    async def noted(method: str, path: str, **options: Any) -> SidecarResponse:
        paths.append(path)
        return await send(method, path, **options)

    sidecar.request = noted  # type: ignore[method-assign]
    return paths


async def read_partitions(brokers: str, topic: str, expected: int) -> dict[int, list[Message]]:
    """What Kafka holds on `topic`, partition by partition in offset order (read directly)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        held: dict[int, list[Message]] = {}
        count = 0
        async with asyncio.timeout(60):
            while count < expected:
                for partition, records in (await consumer.getmany(timeout_ms=1000)).items():
                    for record in records:
                        assert record.value is not None
                        body = json.loads(record.value)
                        held.setdefault(partition.partition, []).append(
                            Message(topic, body["partitionkey"], body)
                        )
                        count += 1
        return held
    finally:
        await consumer.stop()


async def published_in_one_request(
    sidecar: SidecarOnSubscribe, brokers: str, name: str, keys: Callable[[int], str], count: int
) -> tuple[list[Message], dict[int, list[Message]]]:
    """`count` events keyed `keys(n)` on a fresh topic, checked to go in one bulk request;
    returns them and what each partition holds afterwards."""
    topic = unique_topic(name)
    await KafkaTransport(KafkaOptions(brokers, partitions=PARTITIONS), app_id="t").ensure_topics(
        {topic}
    )
    await sidecar.subscribe([])
    paths = count_requests(sidecar)
    batch = [event(topic, keys(n), n) for n in range(count)]
    await sidecar.publish(batch)
    assert paths == [f"/v1.0-alpha1/publish/bulk/pubsub/{topic}"]
    return batch, await read_partitions(brokers, topic, count)


async def test_a_batch_of_many_keys_is_one_bulk_request_and_each_partition_holds_it_in_order(
    sidecar: SidecarOnSubscribe, kafka_broker: KafkaBroker
) -> None:
    batch, held = await published_in_one_request(
        sidecar, kafka_broker.bootstrap_servers, "bulk-order", lambda n: f"user-{n % 7}", 300
    )
    for messages in held.values():
        for key in {m.key for m in messages}:
            got = [m.body["data"]["n"] for m in messages if m.key == key]
            assert got == [m.body["data"]["n"] for m in batch if m.key == key], key
    # The bulk keeps each event whole: its id, type and partition key as published.
    assert sorted(m.id for ms in held.values() for m in ms) == sorted(m.id for m in batch)
    assert {m.body["type"] for ms in held.values() for m in ms} == {"test.published.v1"}


async def test_every_event_of_one_key_goes_in_one_request_and_lands_in_order(
    sidecar: SidecarOnSubscribe, kafka_broker: KafkaBroker
) -> None:
    # What the relay relies on for a batch all of one key (was one request per event): daprd
    # hands a bulk's entries to its Kafka producer in order, so one partition holds them so.
    _, held = await published_in_one_request(
        sidecar, kafka_broker.bootstrap_servers, "one-key", lambda n: "only", BULK_ENTRIES
    )
    (messages,) = held.values()
    assert [m.body["data"]["n"] for m in messages] == list(range(BULK_ENTRIES))


async def test_delivered_through_daprd_each_key_keeps_its_order(
    sidecar: SidecarOnSubscribe,
) -> None:
    topic = unique_topic("delivered")
    received = Received(60)
    await sidecar.subscribe([Subscription(topic, "delivered", received.handle)])
    await sidecar.publish([event(topic, f"user-{n % 3}", n) for n in range(60)])
    async with asyncio.timeout(60):
        await received.complete.wait()
    for key in ("user-0", "user-1", "user-2"):
        got = [m.body["data"]["n"] for m in received.messages if m.key == key]
        assert got == list(range(int(key[-1]), 60, 3)), f"{key}: {got}"


async def test_a_traced_event_is_published_on_its_own_in_its_trace(
    sidecar: SidecarOnSubscribe,
) -> None:
    topic = unique_topic("traced")
    received = Received(3)
    await sidecar.subscribe([Subscription(topic, "traced", received.handle)])
    paths = count_requests(sidecar)
    traced = Message(topic, "k1", with_traceparent(event(topic, "k1", 1).body, TRACEPARENT))
    await sidecar.publish([event(topic, "k0", 0), traced, event(topic, "k2", 2)])
    assert sorted(paths) == sorted(
        [f"/v1.0-alpha1/publish/bulk/pubsub/{topic}", f"/v1.0/publish/pubsub/{topic}"]
    )
    async with asyncio.timeout(60):
        await received.complete.wait()
    assert sorted(m.body["data"]["n"] for m in received.messages) == [0, 1, 2]


async def test_a_refused_bulk_is_a_publish_error_and_stops_the_batch(
    kafka_broker: KafkaBroker, dapr_resources: DaprResources
) -> None:
    transport = SidecarOnSubscribe(kafka_broker.bootstrap_servers, dapr_resources)
    transport.pubsub = "no-such-pubsub"
    await transport.start()
    try:
        topic = unique_topic("refused")
        await transport.subscribe([])
        paths = count_requests(transport)
        # Key k0 needs two runs (two waves); the first wave is refused.
        batch = [event(topic, "k0", n) for n in range(BULK_ENTRIES + 1)]
        with pytest.raises(PublishError, match="bulk publish"):
            await transport.publish(batch)
        # The first wave failed: k0's later run was never sent after it.
        assert paths == [f"/v1.0-alpha1/publish/bulk/no-such-pubsub/{topic}"]
    finally:
        await transport.close()


async def test_a_lone_event_uses_the_single_event_api(sidecar: SidecarOnSubscribe) -> None:
    topic = unique_topic("lone")
    received = Received(3)
    await sidecar.subscribe([Subscription(topic, "lone", received.handle)])
    paths = count_requests(sidecar)
    for n in range(3):
        await sidecar.publish([event(topic, "only", n)])
    assert paths == [f"/v1.0/publish/pubsub/{topic}"] * 3
    async with asyncio.timeout(60):
        await received.complete.wait()
    assert [m.body["data"]["n"] for m in received.messages] == [0, 1, 2]
