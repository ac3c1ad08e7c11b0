"""`taskstream dlq` against a real Kafka broker: dead-lettered, listed with why, replayed once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection

from devstack import KafkaBroker
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import CloudEvent, EventModel, envelope
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.deadletters import KafkaDeadLetters, depth_loop
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from tests.conftest import taskstream_cli
from tests.integration.conftest import FAST_RETRIES, AppliedEffects, eventually

pytestmark = pytest.mark.integration


class Counted(EventModel):
    """The test event: numbered (each test publishes on a topic of its own)."""

    TYPE: ClassVar[str] = "test.counted.v1"
    TOPIC: ClassVar[str] = "test-counted"

    n: int

    def subject(self) -> str:
        """The number."""
        return str(self.n)

    def partition_key(self) -> str:
        """One key: the events stay in order."""
        return "k"


def sample(name: str, labels: dict[str, str]) -> float:
    """A metric's current value in the default registry (0 when never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_poison_message_is_listed_with_its_reason_fixed_replayed_and_applied_once(
    kafka_broker: KafkaBroker, applied_effects: AppliedEffects
) -> None:
    topic = f"dlq-poison-{uuid.uuid4().hex[:8]}"
    group = f"dlq-group-{uuid.uuid4().hex[:6]}"
    bus = f"kafka://{kafka_broker.bootstrap_servers}"
    broken = {"yes"}

    async def apply(event: CloudEvent[Counted], connection: AsyncConnection) -> Outcome:
        if event.data.n == 1 and broken:
            raise RuntimeError("poison: no rule for n=1")
        await applied_effects.apply(connection, event.id)
        return Outcome.SUCCESS

    consumer = Consumer(
        name=group, engine=applied_effects.engine, processed=applied_effects.processed
    )
    consumer.on(Counted, apply, topic=topic)
    transport = KafkaTransport(
        KafkaOptions(kafka_broker.bootstrap_servers), app_id="dlq-test", policy=FAST_RETRIES
    )
    await transport.start()
    try:
        await transport.subscribe(consumer.subscriptions())
        events = [
            envelope(
                topic=topic,
                type_="test.counted.v1",
                source="tests",
                subject=str(n),
                partition_key="k",
                time=datetime.now(UTC),
                data={"n": n},
            )
            for n in (1, 2)
        ]
        poison_id = str(events[0].id)
        await transport.publish([Message(topic, "k", e.body) for e in events])

        letters = KafkaDeadLetters(kafka_broker.bootstrap_servers)

        async def dead_lettered() -> bool:
            return len(await letters.read(topic)) == 1

        await eventually(dead_lettered)
        assert await applied_effects.times_applied(str(events[1].id)) == 1
        assert await applied_effects.times_applied(poison_id) == 0

        # Listed through the command line, with the reason the consumer's transport attached.
        code, out, err = await taskstream_cli(
            "dlq", "list", "--bus", bus, "--topic", topic, "--json"
        )
        assert code == 0, err
        (listed,) = [json.loads(line) for line in out.splitlines()]
        assert listed["id"] == poison_id
        assert listed["topic"] == topic
        assert listed["type"] == "test.counted.v1"
        assert listed["group"] == group
        assert listed["reason"] == (
            f"still failing after {FAST_RETRIES.attempts} attempts: "
            "RuntimeError: poison: no rule for n=1"
        )
        assert listed["replayed"] is False
        code, out, _ = await taskstream_cli("dlq", "show", "--bus", bus, "--id", poison_id)
        assert code == 0
        (shown,) = json.loads(out)
        assert shown["event"]["data"] == {"n": 1}
        assert shown["reason"] == listed["reason"]

        # A service on kafka:// keeps the gauge current for /metrics.
        watcher = asyncio.create_task(
            depth_loop(kafka_broker.bootstrap_servers, [topic], interval=0.1)
        )

        async def deep() -> bool:
            return sample("taskstream_dlq_depth", {"topic": topic}) == 1

        try:
            await eventually(deep)
        finally:
            watcher.cancel()
        assert await letters.depth(topic) == {topic: 1}

        broken.clear()  # the fix
        code, out, err = await taskstream_cli(
            "dlq", "replay", "--bus", bus, "--topic", topic, "--id", poison_id
        )
        assert code == 0, err
        assert out.strip() == "replayed 1 dead letters"

        async def applied_once() -> bool:
            return await applied_effects.times_applied(poison_id) == 1

        await eventually(applied_once)
        (after,) = await letters.read(topic)
        assert after.replayed
        assert await letters.depth(topic) == {topic: 0}
        assert sample("taskstream_dlq_depth", {"topic": topic}) == 0

        # Nothing is pending now; replaying it again by id is recognised and skipped.
        code, out, _ = await taskstream_cli(
            "dlq", "replay", "--bus", bus, "--topic", topic, "--all"
        )
        assert (code, out.strip()) == (0, "replayed 0 dead letters")
        labels = {"group": group, "topic": topic}
        duplicates = sample("taskstream_consumer_duplicates_total", labels)
        code, _, _ = await taskstream_cli(
            "dlq", "replay", "--bus", bus, "--topic", topic, "--id", poison_id
        )
        assert code == 0

        async def skipped() -> bool:
            return sample("taskstream_consumer_duplicates_total", labels) > duplicates

        await eventually(skipped)
        assert await applied_effects.times_applied(poison_id) == 1
    finally:
        await transport.close()


async def test_an_unknown_id_is_refused(kafka_broker: KafkaBroker) -> None:
    bus = f"kafka://{kafka_broker.bootstrap_servers}"
    code, _, err = await taskstream_cli("dlq", "show", "--bus", bus, "--id", "no-such-event")
    assert code == 1
    assert "no dead letter has the id 'no-such-event'" in err
