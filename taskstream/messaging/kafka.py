"""Direct Kafka transport (aiokafka): idempotent producer with acks=all, manual commits.

A consumer group commits a partition's offset only after each of its messages was settled:
handled, dropped, or published to the dead-letter topic and acknowledged there. A crash before
the commit means redelivery, which the consumer framework recognises by event id. Each fetch is
settled as one batch per partition (one transaction when the consumer can apply batches), the
partitions concurrently: a key lives in one partition, so per-key order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from taskstream.messaging.bus import (
    NOT_AN_EVENT,
    Message,
    PublishError,
    Subscription,
    Transport,
    dead_letter_topic,
    dead_lettered,
)
from taskstream.messaging.metrics import CONSUMER_METRICS
from taskstream.messaging.retry import RetryPolicy, settle_then_dead_letter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KafkaOptions:
    """Where the brokers are and how new topics are made."""

    bootstrap_servers: str
    partitions: int = 3
    replication_factor: int = 1


class KafkaTransport(Transport):
    """Publishes to and consumes from Kafka directly."""

    def __init__(
        self, options: KafkaOptions, *, app_id: str, policy: RetryPolicy | None = None
    ) -> None:
        self.options = options
        self.app_id = app_id
        self.policy = policy or RetryPolicy()
        self._producer: AIOKafkaProducer | None = None
        self._consumers: list[AIOKafkaConsumer] = []
        self._loops: list[asyncio.Task[None]] = []

    @classmethod
    def from_url(cls, url: str, *, app_id: str) -> KafkaTransport:
        """kafka://HOST:PORT[,HOST:PORT...][?partitions=N&replication=R]."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        return cls(
            KafkaOptions(
                bootstrap_servers=parts.netloc,
                partitions=int(query.get("partitions", ["3"])[0]),
                replication_factor=int(query.get("replication", ["1"])[0]),
            ),
            app_id=app_id,
        )

    async def start(self) -> None:
        """Connect the producer."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.options.bootstrap_servers,
            client_id=self.app_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=2,
            request_timeout_ms=15_000,
        )
        await self._producer.start()

    async def close(self) -> None:
        """Stop consuming, flush the producer, disconnect."""
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, messages: Sequence[Message]) -> None:
        """Send in order and wait until every message is acknowledged by the in-sync replicas."""
        if self._producer is None:
            raise PublishError("the Kafka transport is not started")
        try:
            pending = [
                await self._producer.send(
                    m.topic,
                    value=m.encode(),
                    key=m.key.encode(),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
                for m in messages
            ]
            await asyncio.gather(*pending)
        except KafkaError as error:
            raise PublishError(f"Kafka did not acknowledge: {error}") from error

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """One consumer per group, committing after each settled partition batch."""
        await self.ensure_topics(
            {s.topic for s in subscriptions} | {dead_letter_topic(s.topic) for s in subscriptions}
        )
        by_group: dict[str, list[Subscription]] = defaultdict(list)
        for subscription in subscriptions:
            by_group[subscription.group].append(subscription)
        for group, members in by_group.items():
            consumer = AIOKafkaConsumer(
                *[s.topic for s in members],
                bootstrap_servers=self.options.bootstrap_servers,
                group_id=group,
                client_id=f"{self.app_id}-{group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=1500,
                metadata_max_age_ms=5_000,
            )
            await consumer.start()
            self._consumers.append(consumer)
            handlers = {s.topic: s for s in members}
            self._loops.append(
                asyncio.create_task(self._consume(consumer, handlers), name=f"kafka-{group}")
            )

    async def ensure_topics(self, topics: set[str]) -> None:
        """Create the topics that do not exist yet (production topics come from Strimzi)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.options.bootstrap_servers)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(topic, self.options.partitions, self.options.replication_factor)
                for topic in sorted(topics - existing)
            ]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
        finally:
            await admin.close()

    async def _consume(
        self, consumer: AIOKafkaConsumer, subscriptions: dict[str, Subscription]
    ) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            await asyncio.gather(
                *(
                    self._settle(subscriptions[partition.topic], records)
                    for partition, records in batches.items()
                )
            )
            # Every message of the fetch is durable (or dead-lettered) by now.
            await consumer.commit(
                {partition: records[-1].offset + 1 for partition, records in batches.items()}
            )

    async def _settle(self, subscription: Subscription, records: list[Any]) -> None:
        messages: list[Message] = []
        for record in records:
            key = record.key.decode() if record.key else ""
            try:
                body = json.loads(record.value)
            except (ValueError, UnicodeDecodeError):
                body = None
            if isinstance(body, dict):
                messages.append(Message(record.topic, key, body))
                continue
            log.warning(
                "undecodable record sent to the dead-letter topic", extra={"topic": record.topic}
            )
            await self._dead_letter(
                subscription,
                Message(record.topic, key, {"raw": repr(record.value)}),
                NOT_AN_EVENT,
            )
        await settle_then_dead_letter(
            subscription, messages, policy=self.policy, dead_letter=self._dead_letter
        )

    async def _dead_letter(self, subscription: Subscription, message: Message, reason: str) -> None:
        CONSUMER_METRICS.dead_lettered.labels(subscription.group, message.topic).inc()
        while True:
            try:
                await self.publish(
                    [dead_lettered(message, group=subscription.group, reason=reason)]
                )
                return
            except PublishError:
                # Never commit past a message that is neither handled nor dead-lettered.
                log.exception("dead-letter publish failed; retrying")
                await asyncio.sleep(1.0)
