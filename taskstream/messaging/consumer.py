"""The consumer framework every service uses: decode, dispatch, idempotency, explicit outcomes.

A handler receives the CloudEvent and the open transaction in which the framework has already
recorded the event id as processed; its database effects commit with that record or not at
all, so a redelivered event is recognised and skipped, never applied twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream.domain.errors import InvalidInput
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


def processed_events_table(metadata: MetaData) -> Table:
    """The table recording which events a service's consumers have applied."""
    return Table(
        "processed_events",
        metadata,
        Column("consumer", Text, primary_key=True),
        Column("event_id", Text, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Consumer:
    """A named consumer group with handlers registered per topic and event type."""

    def __init__(self, *, name: str, engine: AsyncEngine, processed: Table) -> None:
        self.name = name
        self.engine = engine
        self.processed = processed
        self._handlers: dict[tuple[str, str], EventHandler] = {}

    def on(self, topic: str, event_type: str, handler: EventHandler) -> None:
        """Handle events of this type on this topic with `handler`."""
        key = (topic, event_type)
        if key in self._handlers:
            raise ValueError(f"{self.name} already handles {event_type} on {topic}")
        self._handlers[key] = handler

    @property
    def topics(self) -> list[str]:
        """The topics this consumer needs, in registration order."""
        return list(dict.fromkeys(topic for topic, _ in self._handlers))

    def subscriptions(self) -> list[Subscription]:
        """One subscription per topic, all in this consumer's group."""
        return [Subscription(topic, self.name, self.handle) for topic in self.topics]

    async def handle(self, message: Message) -> Outcome:
        """Apply one message once; SUCCESS, RETRY or DROP, as the handler decides."""
        labels = (self.name, message.topic)
        try:
            event = CloudEvent.decode(message)
        except InvalidInput as error:
            # A malformed event can never succeed: drop it loudly rather than retry forever.
            log.warning(
                "dropping malformed event",
                extra={"consumer": self.name, "topic": message.topic, "reason": error.message},
            )
            CONSUMER_METRICS.dropped.labels(*labels).inc()
            return Outcome.DROP
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
