"""The Dapr transport's publish through a real daprd and Kafka: rounds of bulk publishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from devstack import KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import DaprResources
from taskstream.messaging.bus import Message, Outcome, PublishError, Subscription
from taskstream.messaging.cloudevents import envelope, with_traceparent
from taskstream.messaging.dapr import DaprTransport
from tests.integration.conftest import FAST_RETRIES
from tests.integration.test_messaging_contract import unique_topic

pytestmark = pytest.mark.integration

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def event(topic: str, key: str, n: int) -> Message:
    """A CloudEvent numbered n on `key`."""
    built = envelope(
        topic=topic,
        type_="test.published.v1",
        source="tests",
        subject=str(n),
        partition_key=key,
        time=datetime.now(UTC),
        data={"n": n, "key": key},
    )
    return Message(topic, key, built.body)


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
        kafka_broker.bootstrap_servers, dapr_resources, partitions=3, policy=FAST_RETRIES
    )
    await built.start()
    yield built
    await built.close()


def count_requests(transport: DaprTransport) -> list[str]:
    """The paths of the requests the transport sends to daprd from now on."""
    paths: list[str] = []

    async def note(request: httpx.Request) -> None:
        paths.append(request.url.path)

    assert transport._client is not None
    transport._client.event_hooks = {"request": [note], "response": []}
    return paths


async def test_a_batch_goes_out_as_one_bulk_request_per_round_in_order_per_key(
    sidecar: SidecarOnSubscribe,
) -> None:
    topic = unique_topic("rounds")
    received = Received(60)
    await sidecar.subscribe([Subscription(topic, "rounds", received.handle)])
    paths = count_requests(sidecar)
    await sidecar.publish([event(topic, f"user-{n % 3}", n) for n in range(60)])
    # 20 events per key: 20 rounds of 3, one bulk request each (was one request per event).
    assert paths == [f"/v1.0-alpha1/publish/bulk/pubsub/{topic}"] * 20
    async with asyncio.timeout(60):
        await received.complete.wait()
    for key in ("user-0", "user-1", "user-2"):
        got = [m.body["data"]["n"] for m in received.messages if m.key == key]
        assert got == list(range(int(key[-1]), 60, 3)), f"{key}: {got}"
    # The bulk keeps each event whole: its id, type and partition key as published.
    assert {m.body["type"] for m in received.messages} == {"test.published.v1"}
    assert len({m.id for m in received.messages}) == 60


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
        with pytest.raises(PublishError, match="bulk publish"):
            await transport.publish([event(topic, f"k{n % 2}", n) for n in range(4)])
        # The first round failed: the keys' later events were never sent after it.
        assert paths == [f"/v1.0-alpha1/publish/bulk/no-such-pubsub/{topic}"]
    finally:
        await transport.close()


async def test_a_round_of_one_event_uses_the_single_event_api(sidecar: SidecarOnSubscribe) -> None:
    topic = unique_topic("lone")
    received = Received(3)
    await sidecar.subscribe([Subscription(topic, "lone", received.handle)])
    paths = count_requests(sidecar)
    await sidecar.publish([event(topic, "only", n) for n in range(3)])
    assert paths == [f"/v1.0/publish/pubsub/{topic}"] * 3
    async with asyncio.timeout(60):
        await received.complete.wait()
    assert [m.body["data"]["n"] for m in received.messages] == [0, 1, 2]
