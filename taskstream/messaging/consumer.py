"""The consumer framework every service uses: decode, dispatch, idempotency, explicit outcomes.

A handler receives the typed CloudEvent (its `data` validated into the model it was registered
with) and the open transaction in which the framework has already recorded the event id as
processed; its database effects commit with that record or not at all, so a redelivered event
is recognised and skipped, never applied twice.

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
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
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
from taskstream.messaging.bus import DeadLetter, Message, Outcome, Subscription, Verdict
from taskstream.messaging.cloudevents import (
    CloudEvent,
    EventModel,
    decode,
    type_name,
    validate,
)
from taskstream.messaging.metrics import CONSUMER_METRICS

log = logging.getLogger(__name__)

E = TypeVar("E", bound=EventModel)

# A handler of one event type: its effects in the given transaction, and what to do next.
EventHandler = Callable[[CloudEvent[E], AsyncConnection], Awaitable[Outcome]]
# The same effects as the EventHandler applied to each event in order, in one go, and only in
# the given transaction; anything but SUCCESS undoes the whole batch (its events are then
# handled one by one).
BatchEventHandler = Callable[[Sequence[CloudEvent[E]], AsyncConnection], Awaitable[Outcome]]


def in_turn(handler: EventHandler[E]) -> BatchEventHandler[E]:
    """The batch form of a handler whose every effect is in the given transaction: each event
    in order, stopping at the first outcome that is not SUCCESS (the batch is then undone)."""

    async def each(events: Sequence[CloudEvent[E]], connection: AsyncConnection) -> Outcome:
        for event in events:
            outcome = await handler(event, connection)
            if outcome is not Outcome.SUCCESS:
                return outcome
        return Outcome.SUCCESS

    return each


@dataclass(frozen=True, slots=True)
class _Route:
    """What a consumer does with one event type on one topic."""

    model: type[EventModel]
    handler: Callable[[Any, AsyncConnection], Awaitable[Outcome]]
    batch: Callable[[Any, AsyncConnection], Awaitable[Outcome]] | None


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


def handling_span(group: str, message: Message, *, batch: Span | None = None) -> Span:
    """The CONSUMER span of one message's handling by `group`, continuing the event's trace.

    Every consumer of the bus starts one (this module's Consumer, the gateway's live consumer),
    so each handling is a child of the publish whatever transport delivered it; handled in a
    `batch`, it links to the batch's span, where the work is.
    """
    return telemetry.start_span(
        f"handle {message.body.get('type')}",
        kind=SpanKind.CONSUMER,
        traceparent=message.body.get("traceparent"),
        attributes=_span_attributes(group, message.topic, [message]),
        links=() if batch is None else (batch,),
    )


def _span_attributes(group: str, topic: str, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "messaging.system": "taskstream",
        "messaging.consumer.group.name": group,
        "messaging.destination.name": topic,
        "messaging.batch.message_count": len(messages),
        "messaging.message.id": messages[0].id,
    }


class Consumer:
    """A named consumer group with handlers registered per event model (and so type and topic).

    A type it has no handler for is acknowledged and ignored, unless it is another version of
    a type it handles (it cannot be read as the version it knows): that one, and any event
    that fails validation, goes to the dead-letter topic with the reason.
    """

    def __init__(self, *, name: str, engine: AsyncEngine, processed: Table) -> None:
        self.name = name
        self.engine = engine
        self.processed = processed
        self._routes: dict[tuple[str, str], _Route] = {}
        # (topic, type without its version) -> the versions handled, for unknown versions.
        self._versions: dict[tuple[str, str], set[int | None]] = {}

    def on(
        self,
        model: type[E],
        handler: EventHandler[E],
        *,
        topic: str | None = None,
        batch: BatchEventHandler[E] | None = None,
    ) -> None:
        """Handle `model`'s events (on its topic, or `topic`) with `handler` (or `batch`)."""
        topic = topic or model.TOPIC
        key = (topic, model.TYPE)
        if key in self._routes:
            raise ValueError(f"{self.name} already handles {model.TYPE} on {topic}")
        self._routes[key] = _Route(model, handler, batch)
        name, version = type_name(model.TYPE)
        self._versions.setdefault((topic, name), set()).add(version)

    @property
    def topics(self) -> list[str]:
        """The topics this consumer needs, in registration order."""
        return list(dict.fromkeys(topic for topic, _ in self._routes))

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
        return all(route.batch is not None for (t, _), route in self._routes.items() if t == topic)

    async def handle(self, message: Message) -> Verdict:
        """Apply one message once; SUCCESS, RETRY, DROP as the handler decides, or DeadLetter."""
        span = handling_span(self.name, message)
        with trace.use_span(span, end_on_exit=True):
            verdict = await self._handle(message)
            outcome = verdict.value if isinstance(verdict, Outcome) else "DEAD_LETTER"
            span.set_attribute("taskstream.outcome", outcome)
            return verdict

    def _route(self, message: Message) -> tuple[_Route | None, CloudEvent[Any] | None]:
        """The route and typed event of a message; (None, None) when no handler wants it.

        InvalidInput when the message is not a CloudEvent, or is another version of a type
        handled here, or its data fails the model's validation.
        """
        body = validate(message.body)
        event_type = str(body["type"])
        route = self._routes.get((message.topic, event_type))
        if route is None:
            name, _ = type_name(event_type)
            known = self._versions.get((message.topic, name))
            if known is None:
                return None, None
            spelled = ", ".join(f"v{v}" for v in sorted(v for v in known if v is not None))
            raise InvalidInput(
                "cloudevent.type",
                f"unknown version {event_type}: {self.name} knows {name} {spelled}",
            )
        return route, decode(body, route.model, topic=message.topic)

    async def _handle(self, message: Message) -> Verdict:
        labels = (self.name, message.topic)
        try:
            route, event = self._route(message)
        except InvalidInput as error:
            return self._poison(message, error)
        if route is None or event is None:
            return Outcome.SUCCESS
        started = time.perf_counter()
        try:
            outcome = await self._apply_once(route.handler, event)
        except Exception:
            CONSUMER_METRICS.failed.labels(*labels).inc()
            raise
        finally:
            elapsed = time.perf_counter() - started
            # The handling's span is current: the bucket keeps its trace id as an exemplar.
            CONSUMER_METRICS.handling.labels(*labels).observe(elapsed, telemetry.exemplar())
        if outcome is Outcome.SUCCESS:
            CONSUMER_METRICS.processed.labels(*labels).inc()
        elif outcome is Outcome.DROP:
            log.warning(
                "handler dropped an event",
                extra={"consumer": self.name, "type": event.type, "event_id": event.id},
            )
            CONSUMER_METRICS.dropped.labels(*labels).inc()
        return outcome

    def _poison(self, message: Message, error: InvalidInput) -> DeadLetter:
        # It can never succeed: not retried, but kept, with the reason, in the dead-letter topic.
        reason = error.message
        log.warning(
            "dead-lettering an event that cannot be read",
            extra={
                "consumer": self.name,
                "topic": message.topic,
                "event_id": message.id,
                "reason": reason,
            },
        )
        return DeadLetter(reason)

    async def handle_batch(self, messages: Sequence[Message]) -> list[Verdict] | None:
        """Apply a run of messages once, in one transaction; None when nothing was applied.

        Poison events are dead-lettered and events nobody handles succeed, as in `handle`; every
        other event is recorded and applied in order, or the whole run is undone (a handler
        answered RETRY or DROP, or crashed) and None tells the transport to go one by one. An
        event whose handler has no batch form is never batched: None at once.
        """
        # One span for the run: the first event's trace is its parent, the others are links.
        span = telemetry.start_span(
            f"handle {len(messages)} messages",
            kind=SpanKind.CONSUMER,
            traceparent=messages[0].body.get("traceparent") if messages else None,
            attributes=_span_attributes(self.name, messages[0].topic, messages)
            if messages
            else None,
            links=[message.body.get("traceparent") for message in messages[1:]],
        )
        with trace.use_span(span, end_on_exit=True):
            # Each event's own trace shows its handling too, linked to the run's span.
            handlings = [handling_span(self.name, message, batch=span) for message in messages]
            try:
                return await self._handle_batch(messages)
            finally:
                for handling in handlings:
                    handling.end()

    async def _handle_batch(self, messages: Sequence[Message]) -> list[Verdict] | None:
        outcomes: list[Verdict] = [Outcome.SUCCESS] * len(messages)
        work: list[CloudEvent[Any]] = []
        seen: set[str] = set()
        for index, message in enumerate(messages):
            try:
                route, event = self._route(message)
            except InvalidInput as error:
                outcomes[index] = self._poison(message, error)
                continue
            if route is None or event is None:
                continue
            if event.id in seen:
                CONSUMER_METRICS.duplicates.labels(self.name, event.topic).inc()
                continue
            seen.add(event.id)
            work.append(event)
        if not work:
            return outcomes
        if any(self._routes[(event.topic, event.type)].batch is None for event in work):
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
            CONSUMER_METRICS.handling.labels(self.name, topic).observe(
                elapsed, telemetry.exemplar()
            )
        return outcomes

    def _runs(
        self, events: list[CloudEvent[Any]]
    ) -> list[tuple[Callable[[Any, AsyncConnection], Awaitable[Outcome]], list[CloudEvent[Any]]]]:
        """Consecutive events sharing a batch handler, together and in order."""
        runs: list[
            tuple[Callable[[Any, AsyncConnection], Awaitable[Outcome]], list[CloudEvent[Any]]]
        ] = []
        for event in events:
            batch = self._routes[(event.topic, event.type)].batch
            assert batch is not None
            if runs and runs[-1][0] == batch:
                runs[-1][1].append(event)
            else:
                runs.append((batch, [event]))
        return runs

    async def _apply_once(
        self,
        handler: Callable[[Any, AsyncConnection], Awaitable[Outcome]],
        event: CloudEvent[Any],
    ) -> Outcome:
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
