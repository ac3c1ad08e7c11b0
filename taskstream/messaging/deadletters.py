"""Dead letters: what failed, why, and putting it back on its topic (`taskstream dlq`).

Whoever dead-letters a message says why: the record in `<topic>.dlq` is the CloudEvent with two
more attributes, `deadletterreason` and `deadlettergroup` (taskstream/messaging/bus.py), on
every transport, Dapr included (the app publishes its own dead letters there). What the Dapr
sidecar dead-letters by itself, after its Resiliency retries, carries no reason (the consumer's
log has it).

Replaying publishes the event again, as it was before it failed, to its original topic: the
consumers' processed events (taskstream/messaging/consumer.py) keep a replayed event from acting
twice, so replaying one that was already applied, or replaying twice, changes nothing. Each
replay is recorded in the topic `REPLAYS_TOPIC` (key: the dead letter's topic, partition and
offset), so that a dead letter is listed as replayed and the DLQ depth counts only those still
waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from taskstream.messaging.bus import DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Message
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.messaging.metrics import DLQ_METRICS

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"
REPLAYS_TOPIC = "taskstream.dlq-replays"
# No reason travels with what Dapr dead-lettered (or what an older release did).
UNKNOWN_REASON = "unknown (dead-lettered without a reason: see the consumer's log)"
# `dlq list` reads at most this many dead letters per topic: a flooded DLQ stays listable.
MAX_LISTED = 10_000
# How often a service measures the depth of its topics' dead-letter topics (kafka:// only).
DEPTH_SECONDS = 60.0


def original_topic(dlq_topic: str) -> str:
    """The topic a dead-letter topic's messages came from."""
    return dlq_topic.removesuffix(DLQ_SUFFIX)


def dlq_topic_of(topic: str) -> str:
    """`task-events` or `task-events.dlq`: the dead-letter topic either names."""
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-lettered message, where it sits and why it is there."""

    topic: str
    partition: int
    offset: int
    key: str
    body: dict[str, Any]
    reason: str = UNKNOWN_REASON
    group: str | None = None
    replayed: bool = False

    @property
    def id(self) -> str:
        """The CloudEvent id (what `--id` selects); the position when the body has none."""
        return str(self.body.get("id") or self.position)

    @property
    def position(self) -> str:
        """Topic, partition and offset: unique, the key of its replay record."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def original_topic(self) -> str:
        """Where a replay sends it."""
        return original_topic(self.topic)

    def summary(self) -> dict[str, Any]:
        """What `dlq list` shows of it."""
        return {
            "id": self.id,
            "topic": self.original_topic,
            "position": self.position,
            "type": self.body.get("type"),
            "group": self.group,
            "reason": self.reason,
            "replayed": self.replayed,
        }

    def detail(self) -> dict[str, Any]:
        """What `dlq show` prints: the summary and the event itself."""
        return {**self.summary(), "key": self.key, "event": self.body}


def from_record(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
) -> DeadLetter:
    """A dead letter from a Kafka record of a DLQ topic; why it failed is in its attributes.

    The consumer that gave up added `deadletterreason` and `deadlettergroup` to the CloudEvent
    (taskstream/messaging/bus.py, `dead_lettered`); the event is the rest of the body.
    """
    try:
        body = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        body = {"raw": repr(value)}
    reason = body.pop(DEAD_LETTER_REASON, None)
    group = body.pop(DEAD_LETTER_GROUP, None)
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode(errors="replace") if key else "",
        body=body,
        reason=str(reason) if reason else UNKNOWN_REASON,
        group=str(group) if group else None,
    )


def replayable(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """The letters a replay can publish: CloudEvents (a body that did not parse is kept raw)."""
    return [letter for letter in letters if "raw" not in letter.body]


def one_per_event(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """The first letter of each event on each original topic.

    Every consumer group that gives an event up dead-letters its own copy; a replay publishes
    the event once, and each group (the ones that had applied it skip it by its id) gets it once.
    """
    seen: set[tuple[str, str]] = set()
    chosen: list[DeadLetter] = []
    for letter in letters:
        event = (letter.original_topic, letter.id)
        if event not in seen:
            seen.add(event)
            chosen.append(letter)
    return chosen


class DeadLetterNotFound(LookupError):
    """No dead letter has the id asked for."""


@dataclass(slots=True)
class KafkaDeadLetters:
    """The dead-letter topics of a Kafka cluster, read and replayed directly (kafka://)."""

    bootstrap_servers: str
    client_id: str = "taskstream-dlq"

    async def _partitions(self) -> dict[str, list[int]]:
        """Every topic of the cluster with its partition numbers."""
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, client_id=self.client_id
        )
        await admin.start()
        try:
            names = await admin.list_topics()
            described = await admin.describe_topics(names) if names else []
        finally:
            await admin.close()
        return {
            entry["topic"]: sorted(part["partition"] for part in entry["partitions"])
            for entry in described
            if not entry.get("error_code")
        }

    async def topics(self, topic: str | None = None) -> list[str]:
        """The DLQ topics that exist (only the one `topic` names, when given)."""
        existing = await self._partitions()
        if topic is not None:
            wanted = dlq_topic_of(topic)
            return [wanted] if wanted in existing else []
        return sorted(name for name in existing if name.endswith(DLQ_SUFFIX))

    async def _read(self, topics: Sequence[str], limit: int) -> dict[str, list[Any]]:
        """Every record of these topics up to their end now (at most `limit` per topic)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        records: dict[str, list[Any]] = {topic: [] for topic in topics}
        layout = await self._partitions()
        partitions = [
            TopicPartition(topic, number) for topic in topics for number in layout.get(topic, [])
        ]
        if not partitions:
            return records
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            waiting = {p for p in partitions if await consumer.position(p) < ends[p]}
            while waiting:
                batches = await consumer.getmany(*waiting, timeout_ms=1000)
                for partition, batch in batches.items():
                    records[partition.topic].extend(
                        record for record in batch if record.offset < ends[partition]
                    )
                for partition in list(waiting):
                    full = len(records[partition.topic]) >= limit
                    if full or await consumer.position(partition) >= ends[partition]:
                        waiting.discard(partition)
        finally:
            await consumer.stop()
        for topic in topics:
            records[topic].sort(key=lambda record: (record.timestamp, record.partition))
            del records[topic][limit:]
        return records

    async def _replayed(self) -> set[str]:
        """The positions of the dead letters replayed so far."""
        records = await self._read([REPLAYS_TOPIC], limit=10 * MAX_LISTED)
        return {record.key.decode() for record in records[REPLAYS_TOPIC] if record.key}

    async def read(
        self, topic: str | None = None, *, pending_only: bool = False
    ) -> list[DeadLetter]:
        """The dead letters (of one topic, when given), oldest first, each with its reason."""
        topics = await self.topics(topic)
        records = await self._read(topics, MAX_LISTED)
        replayed = await self._replayed()
        letters: list[DeadLetter] = []
        for name in topics:
            for record in records[name]:
                letter = from_record(
                    record.topic,
                    record.partition,
                    record.offset,
                    record.key,
                    record.value,
                )
                if letter.position in replayed:
                    letter = replace(letter, replayed=True)
                if not (pending_only and letter.replayed):
                    letters.append(letter)
        return letters

    async def find(self, event_id: str, topic: str | None = None) -> list[DeadLetter]:
        """The dead letters with this CloudEvent id (or position); DeadLetterNotFound if none."""
        found = [
            letter for letter in await self.read(topic) if event_id in (letter.id, letter.position)
        ]
        if not found:
            raise DeadLetterNotFound(event_id)
        return found

    async def replay(self, letters: Sequence[DeadLetter]) -> int:
        """Publish each event once to its original topic, unchanged, then record every
        letter of it as replayed."""
        transport = KafkaTransport(KafkaOptions(self.bootstrap_servers), app_id=self.client_id)
        await transport.start()
        try:
            chosen = replayable(letters)
            await transport.publish(
                [
                    Message(letter.original_topic, letter.key, letter.body)
                    for letter in one_per_event(chosen)
                ]
            )
            await transport.ensure_topics({REPLAYS_TOPIC})
            await transport.publish(
                [
                    Message(
                        REPLAYS_TOPIC,
                        letter.position,
                        {"id": letter.id, "replayedAt": datetime.now(UTC).isoformat()},
                    )
                    for letter in chosen
                ]
            )
        finally:
            await transport.close()
        return len(chosen)

    async def depth(self, topic: str | None = None) -> dict[str, int]:
        """Dead letters not replayed yet, per original topic; sets `taskstream_dlq_depth`."""
        return await self.depth_of(await self.topics(topic))

    async def depth_of(self, dlq_topics: Sequence[str]) -> dict[str, int]:
        """As `depth`, for these DLQ topics, from offsets alone (no message is read)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        layout = await self._partitions()
        partitions = [
            TopicPartition(topic, number)
            for topic in dlq_topics
            for number in layout.get(topic, [])
        ]
        counts = {original_topic(topic): 0 for topic in dlq_topics if topic in layout}
        if partitions:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_auto_commit=False,
            )
            await consumer.start()
            try:
                begins = await consumer.beginning_offsets(partitions)
                ends = await consumer.end_offsets(partitions)
            finally:
                await consumer.stop()
            replayed = await self._replayed()
            for partition in partitions:
                held = ends[partition] - begins[partition]
                prefix = f"{partition.topic}/{partition.partition}/"
                done = sum(
                    1
                    for position in replayed
                    if position.startswith(prefix)
                    and begins[partition] <= int(position.rsplit("/", 1)[1]) < ends[partition]
                )
                counts[original_topic(partition.topic)] += max(0, held - done)
        for name, count in counts.items():
            DLQ_METRICS.depth.labels(name).set(count)
        return counts


async def depth_loop(
    bootstrap_servers: str, topics: Sequence[str], *, interval: float = DEPTH_SECONDS
) -> None:
    """Keep `taskstream_dlq_depth` of these topics' dead letters current (a service's loop)."""
    letters = KafkaDeadLetters(bootstrap_servers, client_id="taskstream-dlq-depth")
    dlq_topics = [dlq_topic_of(topic) for topic in topics]
    while True:
        try:
            await letters.depth_of(dlq_topics)
        except Exception:
            log.warning("could not measure the dead-letter topics' depth", exc_info=True)
        await asyncio.sleep(interval)
