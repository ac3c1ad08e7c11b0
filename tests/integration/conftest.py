"""Transports for the messaging contract suite: in-process and a real Kafka broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from taskstream.localinfra import KafkaBroker
from taskstream.messaging.bus import Transport
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.messaging.memory import MemoryTransport
from taskstream.messaging.retry import RetryPolicy

FAST_RETRIES = RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """One real single-node KRaft broker for the whole run (provisioned on first use)."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(params=["memory", "kafka"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    """A started transport of each kind."""
    built: Transport
    if request.param == "memory":
        built = MemoryTransport(policy=FAST_RETRIES)
    else:
        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        built = KafkaTransport(
            KafkaOptions(broker.bootstrap_servers, partitions=3),
            app_id="contract-test",
            policy=FAST_RETRIES,
        )
    await built.start()
    yield built
    await built.close()
