"""Prometheus metrics of publishing and consuming, shared by every transport."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


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
    """Dead letters still waiting for a replay, by original topic (set when they are measured)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.depth = Gauge(
            "taskstream_dlq_depth",
            "Dead-lettered messages not replayed yet, by original topic.",
            ["topic"],
            registry=registry,
        )


DLQ_METRICS = DeadLetterMetrics(REGISTRY)
CONSUMER_METRICS = ConsumerMetrics(REGISTRY)
OUTBOX_METRICS = OutboxMetrics(REGISTRY)
