"""One contract, every transport: what the consumer framework may rely on.

Each test body runs against each transport fixture param; the Kafka and Dapr params use a real
broker and real sidecars (see tests/integration/conftest.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection

from taskstream.messaging.bus import (
    DEAD_LETTER_GROUP,
    DEAD_LETTER_REASON,
    NOT_AN_EVENT,
    Message,
    Outcome,
    Subscription,
    Transport,
)
from taskstream.messaging.cloudevents import CloudEvent, EventModel, envelope
from taskstream.messaging.consumer import Consumer
from tests.integration.conftest import AppliedEffects, eventually

pytestmark = pytest.mark.integration


class Happened(EventModel):
    """The test event: numbered, keyed (each test subscribes on a topic of its own)."""

    TYPE: ClassVar[str] = "test.happened.v1"
    TOPIC: ClassVar[str] = "test-events"

    n: int
    key: str

    def subject(self) -> str:
        """The number."""
        return str(self.n)

    def partition_key(self) -> str:
        """The key."""
        return self.key


class HappenedA(Happened):
    """Another type of the same shape."""

    TYPE: ClassVar[str] = "a.v1"


class HappenedB(Happened):
    """And a third."""

    TYPE: ClassVar[str] = "b.v1"


def event(topic: str, key: str, n: int, type_: str = "test.happened.v1") -> Message:
    """A CloudEvent message numbered n."""
    built = envelope(
        topic=topic,
        type_=type_,
        source="tests",
        subject=str(n),
        partition_key=key,
        time=datetime.now(UTC),
        data={"n": n, "key": key},
    )
    return Message(topic, key, built.body)


def unique_topic(name: str) -> str:
    """A topic of its own for one test, so tests never see each other's messages."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def scratch_consumer(name: str, effects: AppliedEffects) -> tuple[str, Consumer]:
    """A topic of its own and a consumer (group) of its own over the scratch tables."""
    group = f"{name}-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(name=group, engine=effects.engine, processed=effects.processed)
    return unique_topic(name), consumer


async def test_publish_then_consume_in_order_per_key(transport: Transport) -> None:
    topic = unique_topic("order")
    seen: list[tuple[str, int]] = []

    async def record(message: Message) -> Outcome:
        seen.append((message.body["data"]["key"], message.body["data"]["n"]))
        return Outcome.SUCCESS

    await transport.subscribe([Subscription(topic, "order-group", record)])
    messages = [event(topic, f"user-{n % 3}", n) for n in range(30)]
    await transport.publish(messages)
    await eventually(lambda: _true(len(seen) == 30))
    for key in ("user-0", "user-1", "user-2"):
        numbers = [n for k, n in seen if k == key]
        assert numbers == sorted(numbers), f"{key} out of order: {numbers}"


async def test_a_failed_message_is_redelivered_until_it_succeeds(transport: Transport) -> None:
    topic = unique_topic("redeliver")
    attempts: dict[int, int] = {}
    done: list[int] = []

    async def flaky(message: Message) -> Outcome:
        n = message.body["data"]["n"]
        attempts[n] = attempts.get(n, 0) + 1
        if attempts[n] == 1:
            raise RuntimeError("first attempt fails")
        if attempts[n] == 2:
            return Outcome.RETRY
        done.append(n)
        return Outcome.SUCCESS

    await transport.subscribe([Subscription(topic, "flaky-group", flaky)])
    await transport.publish([event(topic, "k", 1), event(topic, "k", 2)])
    await eventually(lambda: _true(done == [1, 2]))
    assert attempts == {1: 3, 2: 3}


async def test_a_poison_message_ends_in_the_dead_letter_topic(transport: Transport) -> None:
    topic = unique_topic("poison")
    dead: list[Message] = []
    healthy: list[int] = []

    async def poisoned(message: Message) -> Outcome:
        if message.body["data"]["n"] == 1:
            raise ValueError("cannot ever handle this one")
        healthy.append(message.body["data"]["n"])
        return Outcome.SUCCESS

    async def collect(message: Message) -> Outcome:
        dead.append(message)
        return Outcome.SUCCESS

    await transport.subscribe(
        [
            Subscription(topic, "poison-group", poisoned),
            Subscription(f"{topic}.dlq", "dlq-reader", collect),
        ]
    )
    poison = event(topic, "k", 1)
    await transport.publish([poison, event(topic, "k", 2)])
    await eventually(lambda: _true(len(dead) == 1 and healthy == [2]))
    assert dead[0].body["id"] == poison.body["id"]


async def test_a_dropped_message_is_not_retried(transport: Transport) -> None:
    topic = unique_topic("drop")
    calls: list[int] = []
    after: list[int] = []

    async def drop_first(message: Message) -> Outcome:
        n = message.body["data"]["n"]
        calls.append(n)
        if n == 1:
            return Outcome.DROP
        after.append(n)
        return Outcome.SUCCESS

    await transport.subscribe([Subscription(topic, "drop-group", drop_first)])
    await transport.publish([event(topic, "k", 1), event(topic, "k", 2)])
    await eventually(lambda: _true(after == [2]))
    assert calls == [1, 2]


async def test_under_dapr_a_dropped_message_counts_as_dead_lettered(
    transport: Transport, request: pytest.FixtureRequest
) -> None:
    if not request.node.callspec.params["transport"].startswith("dapr"):
        pytest.skip("only the sidecar dead-letters a DROP; the other transports discard it")
    topic = unique_topic("drop-counted")
    dead: list[Message] = []

    async def drop(message: Message) -> Outcome:
        return Outcome.DROP

    async def collect(message: Message) -> Outcome:
        dead.append(message)
        return Outcome.SUCCESS

    labels = {"group": "drop-counted-group", "topic": topic}
    await transport.subscribe(
        [
            Subscription(topic, "drop-counted-group", drop),
            Subscription(f"{topic}.dlq", "dlq-reader", collect),
        ]
    )
    await transport.publish([event(topic, "k", 1)])
    await eventually(lambda: _true(len(dead) == 1))
    counted = REGISTRY.get_sample_value("taskstream_consumer_dead_lettered_total", labels)
    assert counted == 1.0


async def test_duplicates_apply_their_effect_once(
    transport: Transport, applied_effects: AppliedEffects
) -> None:
    topic, consumer = scratch_consumer("dupes", applied_effects)
    group = consumer.name

    async def apply(cloud_event: CloudEvent[Happened], connection: AsyncConnection) -> Outcome:
        await applied_effects.apply(connection, cloud_event.id, by=group)
        return Outcome.SUCCESS

    consumer.on(Happened, apply, topic=topic)
    await transport.subscribe(consumer.subscriptions())
    first, second = event(topic, "k", 1), event(topic, "k", 2)
    await transport.publish([first, second, first, first])
    await transport.publish([second])

    async def effect_count() -> int:
        return len(await applied_effects.applied_by(group))

    await eventually(lambda: _equals(effect_count(), 2))
    await asyncio.sleep(0.5)
    assert await effect_count() == 2


async def test_a_poison_event_of_a_batch_is_dead_lettered_alone_and_order_holds(
    transport: Transport, applied_effects: AppliedEffects
) -> None:
    topic, consumer = scratch_consumer("batch", applied_effects)
    group = consumer.name
    dead: list[Message] = []

    async def apply(cloud_event: CloudEvent[Happened], connection: AsyncConnection) -> Outcome:
        if cloud_event.data.n == 3:
            raise ValueError("cannot ever handle this one")
        await applied_effects.apply(connection, cloud_event.id, by=group)
        return Outcome.SUCCESS

    async def apply_batch(
        events: Sequence[CloudEvent[Happened]], connection: AsyncConnection
    ) -> Outcome:
        for cloud_event in events:
            await apply(cloud_event, connection)
        return Outcome.SUCCESS

    async def collect(message: Message) -> Outcome:
        dead.append(message)
        return Outcome.SUCCESS

    consumer.on(Happened, apply, topic=topic, batch=apply_batch)
    await transport.subscribe(
        [*consumer.subscriptions(), Subscription(f"{topic}.dlq", f"{group}-dlq", collect)]
    )
    messages = [event(topic, "k", n) for n in range(12)]
    await transport.publish(messages)

    async def effect_count() -> int:
        return len(await applied_effects.applied_by(group))

    await eventually(lambda: _equals(effect_count(), 11))
    await eventually(lambda: _true(len(dead) == 1))
    assert dead[0].body["id"] == messages[3].body["id"]
    expected = [m.body["id"] for m in messages if m.body["data"]["n"] != 3]
    assert await applied_effects.applied_by(group) == expected


async def test_unknown_versions_and_malformed_events_are_dead_lettered_with_the_reason(
    transport: Transport, applied_effects: AppliedEffects
) -> None:
    topic, consumer = scratch_consumer("poison-types", applied_effects)
    group = consumer.name
    dead: list[Message] = []

    async def apply(cloud_event: CloudEvent[Happened], connection: AsyncConnection) -> Outcome:
        await applied_effects.apply(connection, cloud_event.id, by=group)
        return Outcome.SUCCESS

    async def collect(message: Message) -> Outcome:
        dead.append(message)
        return Outcome.SUCCESS

    consumer.on(Happened, apply, topic=topic)
    await transport.subscribe(
        [*consumer.subscriptions(), Subscription(f"{topic}.dlq", f"{group}-dlq", collect)]
    )
    next_version = event(topic, "k", 1, "test.happened.v2")
    malformed = event(topic, "k", 2)
    malformed.body["data"]["n"] = "two"
    unrelated = event(topic, "k", 3, "test.other.v1")
    fine = event(topic, "k", 4)
    await transport.publish([next_version, malformed, unrelated, fine])

    async def effect_count() -> int:
        return len(await applied_effects.applied_by(group))

    await eventually(lambda: _true(len(dead) == 2))
    await eventually(lambda: _equals(effect_count(), 1))
    by_id = {m.body["id"]: m.body for m in dead}
    assert set(by_id) == {next_version.body["id"], malformed.body["id"]}
    # The event as it was, plus why and which group gave up on it.
    assert "unknown version test.happened.v2" in by_id[next_version.body["id"]][DEAD_LETTER_REASON]
    assert "n: Input should be a valid integer" in by_id[malformed.body["id"]][DEAD_LETTER_REASON]
    assert {body[DEAD_LETTER_GROUP] for body in by_id.values()} == {group}
    assert by_id[malformed.body["id"]]["data"] == malformed.body["data"]
    assert await applied_effects.applied_by(group) == [fine.body["id"]]


async def _true(value: bool) -> bool:
    return value


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_topic_is_batched_only_when_each_of_its_handlers_can_be(
    applied_effects: AppliedEffects,
) -> None:
    consumer = Consumer(
        name="mixed", engine=applied_effects.engine, processed=applied_effects.processed
    )

    async def one(cloud_event: CloudEvent[Happened], connection: AsyncConnection) -> Outcome:
        return Outcome.SUCCESS

    async def many(events: Sequence[CloudEvent[Happened]], connection: AsyncConnection) -> Outcome:
        return Outcome.SUCCESS

    consumer.on(HappenedA, one, topic="batched", batch=many)
    consumer.on(HappenedA, one, topic="mixed", batch=many)
    consumer.on(HappenedB, one, topic="mixed")
    assert {s.topic: s.batch is not None for s in consumer.subscriptions()} == {
        "batched": True,
        "mixed": False,
    }
    # Asked anyway, it applies nothing and sends the run back one by one.
    run = [event("mixed", "k", 1, "a.v1"), event("mixed", "k", 2, "b.v1")]
    assert await consumer.handle_batch(run) is None


async def test_a_record_that_is_not_json_is_dead_lettered_with_the_reason(
    transport: Transport, request: pytest.FixtureRequest
) -> None:
    kind = request.node.callspec.params["transport"]
    if kind == "memory":
        pytest.skip("in memory every message is a JSON object already")
    brokers = request.getfixturevalue("kafka_broker").bootstrap_servers
    topic = unique_topic("not-json")
    handled: list[int] = []
    dead: list[Message] = []

    async def handle(message: Message) -> Outcome:
        handled.append(message.body["data"]["n"])
        return Outcome.SUCCESS

    async def collect(message: Message) -> Outcome:
        dead.append(message)
        return Outcome.SUCCESS

    await transport.subscribe(
        [
            Subscription(topic, "not-json-group", handle),
            Subscription(f"{topic}.dlq", "dlq-reader", collect),
        ]
    )
    # Bytes no producer of ours writes, straight onto the topic, then an event of the same key.
    garbage = b"\xff not json"
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, garbage, key=b"k")
    finally:
        await producer.stop()
    await transport.publish([event(topic, "k", 2)])
    if kind in ("dapr", "dapr-bulk-parsed"):
        # The sidecar parses each event: it cannot read the bytes as a CloudEvent, so the app
        # never sees them; daprd dead-letters them as they are, without a reason.
        await eventually(lambda: _true(handled == [2]))
        assert garbage in await _values_of(brokers, f"{topic}.dlq")
        return
    await eventually(lambda: _true(handled == [2] and len(dead) == 1))
    assert dead[0].body[DEAD_LETTER_REASON] == NOT_AN_EVENT
    assert dead[0].body[DEAD_LETTER_GROUP] == "not-json-group"


async def _values_of(brokers: str, topic: str) -> list[bytes]:
    """The record values of `topic`'s first fetch that holds any, read from its start."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while not (batches := await consumer.getmany(timeout_ms=1000)):
                pass
        return [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()
