"""The consumer framework every service uses: decode, dispatch, idempotency, explicit outcomes.

A handler receives the CloudEvent and the open transaction in which the framework has already
recorded the event id as processed; its database effects commit with that record or not at
all, so a redelivered event is recognised and skipped, never applied twice.

Transports that receive several messages at once (a Kafka fetch, a Dapr bulk delivery, an
outbox batch in memory) hand the run to `handle_batch` when every event type of the topic has
a `batch` form: one transaction records every event id and applies every effect. It is all or
nothing; when it fails the transport handles the messages one by one (see `settle_batch`), so
a batch form must have no effect outside that transaction (an email sent for one event would be
sent again when another event of its batch fails). Handlers without one stay one by one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    bindparam,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream import telemetry
from taskstream.errors import InvalidInput
from taskstream.messaging.bus import Message, Outcome, Subscription
from taskstream.messaging.cloudevents import validate
from taskstream.messaging.metrics import CONSUMER_METRICS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A decoded, validated CloudEvent as handlers see it."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: dict[str, Any]
    topic: str
    raw: dict[str, Any]

    @classmethod
    def decode(cls, message: Message) -> CloudEvent:
        """The event in a message; InvalidInput when it is not a usable CloudEvent."""
        body = validate(message.body)
        try:
            at = datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
        except ValueError as error:
            raise InvalidInput("cloudevent.time", "must be an RFC 3339 time") from error
        return cls(
            id=str(body["id"]),
            type=str(body["type"]),
            source=str(body["source"]),
            subject=str(body["subject"]),
            time=at,
            data=body["data"],
            topic=message.topic,
            raw=body,
        )


EventHandler = Callable[[CloudEvent, AsyncConnection], Awaitable[Outcome]]
# The same effects as the EventHandler applied to each event in order, in one go, and only in
# the given transaction; anything but SUCCESS undoes the whole batch (its events are then
# handled one by one).
BatchEventHandler = Callable[[Sequence[CloudEvent], AsyncConnection], Awaitable[Outcome]]


def processed_events_table(metadata: MetaData) -> Table:
    """The table recording which events a service's consumers have applied."""
    return Table(
        "processed_events",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Text, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # Old ids are pruned by this time (taskstream/service.py); each branch's migration
        # creates this index.
        Index("processed_events_processed_at", "processed_at"),
    )


class Consumer:
    """A named consumer group with handlers registered per topic and event type."""

    def __init__(self, *, name: str, engine: AsyncEngine, processed: Table) -> None:
        self.name = name
        self.engine = engine
        self.processed = processed
        self._handlers: dict[tuple[str, str], EventHandler] = {}
        self._batches: dict[tuple[str, str], BatchEventHandler] = {}

    def on(
        self,
        topic: str,
        event_type: str,
        handler: EventHandler,
        *,
        batch: BatchEventHandler | None = None,
    ) -> None:
        """Handle events of this type on this topic with `handler` (or `batch`, several at once)."""
        key = (topic, event_type)
        if key in self._handlers:
            raise ValueError(f"{self.name} already handles {event_type} on {topic}")
        self._handlers[key] = handler
        if batch is not None:
            self._batches[key] = batch

    @property
    def topics(self) -> list[str]:
        """The topics this consumer needs, in registration order."""
        return list(dict.fromkeys(topic for topic, _ in self._handlers))

    def subscriptions(self) -> list[Subscription]:
        """One subscription per topic, all in this consumer's group (batched where it can)."""
        return [
            Subscription(
                topic,
                self.name,
                self.handle,
                self.handle_batch if self._batches_everything(topic) else None,
            )
            for topic in self.topics
        ]

    def _batches_everything(self, topic: str) -> bool:
        return all(key in self._batches for key in self._handlers if key[0] == topic)

    async def handle(self, message: Message) -> Outcome:
        """Apply one message once; SUCCESS, RETRY or DROP, as the handler decides."""
        # The handling continues the trace the event carries (taskstream/telemetry.py).
        span = telemetry.start_span(
            f"handle {message.body.get('type')}",
            kind=SpanKind.CONSUMER,
            traceparent=message.body.get("traceparent"),
            attributes=self._span_attributes(message.topic, [message]),
        )
        with trace.use_span(span, end_on_exit=True):
            outcome = await self._handle(message)
            span.set_attribute("taskstream.outcome", outcome.value)
            return outcome

    def _span_attributes(self, topic: str, messages: Sequence[Message]) -> dict[str, Any]:
        return {
            "messaging.system": "taskstream",
            "messaging.consumer.group.name": self.name,
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(messages),
            "messaging.message.id": messages[0].id,
        }

    async def _handle(self, message: Message) -> Outcome:
        labels = (self.name, message.topic)
        try:
            event = CloudEvent.decode(message)
        except InvalidInput as error:
            return self._malformed(message, error)
        handler = self._handlers.get((message.topic, event.type))
        if handler is None:
            return Outcome.SUCCESS
        started = time.perf_counter()
        try:
            outcome = await self._apply_once(handler, event)
        except Exception:
            CONSUMER_METRICS.failed.labels(*labels).inc()
            raise
        finally:
            CONSUMER_METRICS.handling.labels(*labels).observe(time.perf_counter() - started)
        if outcome is Outcome.SUCCESS:
            CONSUMER_METRICS.processed.labels(*labels).inc()
        elif outcome is Outcome.DROP:
            log.warning(
                "handler dropped an event",
                extra={"consumer": self.name, "type": event.type, "event_id": event.id},
            )
            CONSUMER_METRICS.dropped.labels(*labels).inc()
        return outcome

    def _malformed(self, message: Message, error: InvalidInput) -> Outcome:
        # A malformed event can never succeed: drop it loudly rather than retry forever.
        log.warning(
            "dropping malformed event",
            extra={"consumer": self.name, "topic": message.topic, "reason": error.message},
        )
        CONSUMER_METRICS.dropped.labels(self.name, message.topic).inc()
        return Outcome.DROP

    async def handle_batch(self, messages: Sequence[Message]) -> list[Outcome] | None:
        """Apply a run of messages once, in one transaction; None when nothing was applied."""
        # One span for the run: the first event's trace is its parent, the others are links.
        span = telemetry.start_span(
            f"handle {len(messages)} messages",
            kind=SpanKind.CONSUMER,
            traceparent=messages[0].body.get("traceparent") if messages else None,
            attributes=self._span_attributes(messages[0].topic, messages) if messages else None,
            links=[message.body.get("traceparent") for message in messages[1:]],
        )
        with trace.use_span(span, end_on_exit=True):
            return await self._handle_batch(messages)

    async def _handle_batch(self, messages: Sequence[Message]) -> list[Outcome] | None:
        """Apply a run of messages once, in one transaction; None when nothing was applied.

        Malformed events are dropped and events nobody handles succeed, as in `handle`; every
        other event is recorded and applied in order, or the whole run is undone (a handler
        answered RETRY or DROP, or crashed) and None tells the transport to go one by one. An
        event whose handler has no batch form is never batched: None at once.
        """
        outcomes = [Outcome.SUCCESS] * len(messages)
        work: list[CloudEvent] = []
        seen: set[str] = set()
        for index, message in enumerate(messages):
            try:
                event = CloudEvent.decode(message)
            except InvalidInput as error:
                outcomes[index] = self._malformed(message, error)
                continue
            if (message.topic, event.type) not in self._handlers:
                continue
            if event.id in seen:
                CONSUMER_METRICS.duplicates.labels(self.name, event.topic).inc()
                continue
            seen.add(event.id)
            work.append(event)
        if not work:
            return outcomes
        if any((event.topic, event.type) not in self._batches for event in work):
            return None
        started = time.perf_counter()
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            # One statement over an array of ids, whatever their number; RETURNING names the
            # ids that were new (the others were applied before: duplicates).
            recorded = await connection.execute(
                pg_insert(self.processed)
                .from_select(
                    ["consumer", "event_id"],
                    select(
                        literal(self.name, Text),
                        func.unnest(bindparam("ids", type_=ARRAY(Text))),
                    ),
                )
                .on_conflict_do_nothing()
                .returning(self.processed.c.event_id),
                {"ids": [event.id for event in work]},
            )
            fresh_ids = set(recorded.scalars().all())
            fresh = [event for event in work if event.id in fresh_ids]
            for event in work:
                if event.id not in fresh_ids:
                    CONSUMER_METRICS.duplicates.labels(self.name, event.topic).inc()
            for batch, run in self._runs(fresh):
                if await batch(run, connection) is not Outcome.SUCCESS:
                    await transaction.rollback()
                    return None
            await transaction.commit()
        elapsed = time.perf_counter() - started
        for topic, count in Counter(event.topic for event in fresh).items():
            CONSUMER_METRICS.processed.labels(self.name, topic).inc(count)
            CONSUMER_METRICS.handling.labels(self.name, topic).observe(elapsed)
        return outcomes

    def _runs(self, events: list[CloudEvent]) -> list[tuple[BatchEventHandler, list[CloudEvent]]]:
        """Consecutive events sharing a batch handler, together and in order."""
        runs: list[tuple[BatchEventHandler, list[CloudEvent]]] = []
        for event in events:
            batch = self._batches[(event.topic, event.type)]
            if runs and runs[-1][0] == batch:
                runs[-1][1].append(event)
            else:
                runs.append((batch, [event]))
        return runs

    async def _apply_once(self, handler: EventHandler, event: CloudEvent) -> Outcome:
        async with self.engine.connect() as connection:
            transaction = await connection.begin()
            recorded = await connection.execute(
                pg_insert(self.processed)
                .values(consumer=self.name, event_id=event.id)
                .on_conflict_do_nothing()
            )
            if recorded.rowcount == 0:
                await transaction.rollback()
                CONSUMER_METRICS.duplicates.labels(self.name, event.topic).inc()
                return Outcome.SUCCESS
            outcome = await handler(event, connection)
            if outcome is Outcome.SUCCESS:
                await transaction.commit()
            else:
                await transaction.rollback()
            return outcome
