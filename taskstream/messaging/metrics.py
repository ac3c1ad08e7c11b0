"""Prometheus metrics of publishing and consuming, shared by every transport."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class Pending(Protocol):
    """A dead letter as the depth gauge sees it."""

    @property
    def replayed(self) -> bool:
        """Whether it was put back on its topic."""

    @property
    def original_topic(self) -> str:
        """The topic it came from."""


class ConsumerMetrics:
    """Counts of what consumers did with messages, by consumer group and topic."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["group", "topic"]
        self.processed = Counter(
            "taskstream_consumer_processed_total", "Messages handled.", labels, registry=registry
        )
        self.failed = Counter(
            "taskstream_consumer_failed_total", "Handler failures.", labels, registry=registry
        )
        self.retried = Counter(
            "taskstream_consumer_retried_total", "Retries.", labels, registry=registry
        )
        self.dead_lettered = Counter(
            "taskstream_consumer_dead_lettered_total",
            "Messages sent to the dead-letter topic.",
            labels,
            registry=registry,
        )
        self.dropped = Counter(
            "taskstream_consumer_dropped_total", "Messages dropped.", labels, registry=registry
        )
        self.duplicates = Counter(
            "taskstream_consumer_duplicates_total",
            "Redelivered messages recognised and skipped.",
            labels,
            registry=registry,
        )
        self.handling = Histogram(
            "taskstream_consumer_handling_seconds", "Handling time.", labels, registry=registry
        )


class OutboxMetrics:
    """The outbox relay's progress."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "taskstream_outbox_published_total", "Outbox rows published.", registry=registry
        )
        self.lag_rows = Gauge(
            "taskstream_outbox_lag_rows", "Unpublished outbox rows.", registry=registry
        )
        self.lag_seconds = Gauge(
            "taskstream_outbox_lag_seconds",
            "Age of the oldest unpublished outbox row.",
            registry=registry,
        )
        self.publish_failures = Counter(
            "taskstream_outbox_publish_failures_total",
            "Publish attempts the transport did not acknowledge.",
            registry=registry,
        )


class DeadLetterMetrics:
    """Dead letters still waiting for a replay, by original topic (set whenever they are read)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge(
            "taskstream_dlq_depth",
            "Dead-lettered messages not replayed yet, by original topic.",
            ["topic"],
            registry=registry,
        )

    def observe(self, dlq_topics: Iterable[str], letters: Iterable[Pending]) -> None:
        """Set the depth of each of these DLQ topics from the letters read from them."""
        counts = {topic.removesuffix(".dlq"): 0 for topic in dlq_topics}
        for letter in letters:
            if not letter.replayed:
                counts[letter.original_topic] = counts.get(letter.original_topic, 0) + 1
        for topic, count in counts.items():
            self.depth.labels(topic).set(count)


DLQ_METRICS = DeadLetterMetrics(REGISTRY)
CONSUMER_METRICS = ConsumerMetrics(REGISTRY)
OUTBOX_METRICS = OutboxMetrics(REGISTRY)
