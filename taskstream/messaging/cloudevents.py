"""CloudEvents 1.0 (structured JSON): the envelope, and encoding and decoding of typed events.

An event type is an `EventModel`: a pydantic model of its `data` that knows its CloudEvent
`type`, topic, subject and partition key (the concrete types are in contracts/events.py).
`encode` wraps one in an envelope for the outbox; `decode` checks an envelope and validates its
`data` into the model. Both ends go through here and nowhere else.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from taskstream.errors import InvalidInput

TASK_EVENTS_TOPIC = "task-events"
REMINDERS_TOPIC = "reminders"
NOTIFICATIONS_TOPIC = "notifications"

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "data")
# `taskstream.task.completed.v1` -> (`taskstream.task.completed`, 1)
_VERSIONED = re.compile(r"^(?P<name>.+)\.v(?P<version>[0-9]+)$")
# A decoding error quoted in a dead letter stays readable and bounded.
REASON_MAX = 500


def _iso(value: datetime) -> str:
    return value.isoformat()


# An instant as the events spell it: RFC 3339 with an explicit offset, written by isoformat()
# (pydantic would write `Z` for UTC, and events already on the bus say `+00:00`).
Instant = Annotated[AwareDatetime, PlainSerializer(_iso, return_type=str, when_used="json")]


class WireModel(BaseModel):
    """A part of an event on the wire: camelCase names there, snake_case attributes here.

    Reading is tolerant (unknown fields are ignored, so additive changes keep the version);
    the JSON Schemas say `additionalProperties: false` so that a producer adding a field
    without documenting it fails the docs test.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
        json_schema_extra={"additionalProperties": False},
    )

    def wire(self) -> dict[str, Any]:
        """This part as JSON-ready values, in field order."""
        return self.model_dump(mode="json")


class EventModel(WireModel):
    """The `data` of one CloudEvent type and version, and where such an event goes."""

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]

    def subject(self) -> str:
        """The CloudEvent `subject`: the id of the entity the event is about."""
        raise NotImplementedError

    def partition_key(self) -> str:
        """The partition key (and Kafka record key): the user id, for per-user order."""
        raise NotImplementedError


E = TypeVar("E", bound=EventModel)
# Covariant: a handler of any event (CloudEvent[EventModel]) handles a CloudEvent[TaskCreated].
E_co = TypeVar("E_co", bound=EventModel, covariant=True)


def type_name(event_type: str) -> tuple[str, int | None]:
    """`taskstream.task.completed.v1` -> (`taskstream.task.completed`, 1); no version: None."""
    match = _VERSIONED.match(event_type)
    if match is None:
        return event_type, None
    return match["name"], int(match["version"])


@dataclass(frozen=True, slots=True)
class Envelope:
    """One CloudEvent ready for the outbox: where it goes and what it says."""

    id: uuid.UUID
    topic: str
    partition_key: str
    type: str
    body: dict[str, Any]


def envelope(
    *,
    topic: str,
    type_: str,
    source: str,
    subject: str,
    partition_key: str,
    time: datetime,
    data: dict[str, Any],
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """A structured-mode CloudEvent; a fresh id unless the event already has one."""
    event_id = event_id or uuid.uuid4()
    body = {
        "specversion": SPEC_VERSION,
        "id": str(event_id),
        "source": source,
        "type": type_,
        "subject": subject,
        "time": time.isoformat(),
        "datacontenttype": "application/json",
        "partitionkey": partition_key,
        "data": data,
    }
    return Envelope(event_id, topic, partition_key, type_, body)


def encode(
    event: EventModel, *, source: str, time: datetime, event_id: uuid.UUID | None = None
) -> Envelope:
    """The CloudEvent of a typed event: its type, topic, subject and key come from the model."""
    return envelope(
        topic=event.TOPIC,
        type_=event.TYPE,
        source=source,
        subject=event.subject(),
        partition_key=event.partition_key(),
        time=time,
        data=event.wire(),
        event_id=event_id,
    )


def with_traceparent(body: dict[str, Any], traceparent: str | None) -> dict[str, Any]:
    """The event with the W3C `traceparent` extension attribute (distributed tracing)."""
    return body if traceparent is None else {**body, "traceparent": traceparent}


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """The event when it is a CloudEvent 1.0 with every attribute Taskstream relies on."""
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in body]
    if missing:
        raise InvalidInput("cloudevent", f"missing attributes: {', '.join(missing)}")
    if body["specversion"] != SPEC_VERSION:
        raise InvalidInput("cloudevent", f"specversion must be {SPEC_VERSION}")
    if not isinstance(body["data"], dict):
        raise InvalidInput("cloudevent", "data must be a JSON object")
    return body


@dataclass(frozen=True, slots=True)
class CloudEvent(Generic[E_co]):
    """A decoded CloudEvent as handlers see it: the envelope's attributes and the typed data."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: E_co
    topic: str
    raw: dict[str, Any]


def event_time(body: dict[str, Any]) -> datetime:
    """The `time` attribute of a validated envelope; InvalidInput when it is not RFC 3339."""
    try:
        return datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput("cloudevent.time", "must be an RFC 3339 time") from error


def decode(body: dict[str, Any], model: type[E], *, topic: str) -> CloudEvent[E]:
    """The typed event in a CloudEvent body; InvalidInput naming what is wrong when it is not."""
    validate(body)
    at = event_time(body)
    try:
        data = model.model_validate(body["data"])
    except ValidationError as error:
        raise InvalidInput("cloudevent.data", describe(error)) from error
    return CloudEvent(
        id=str(body["id"]),
        type=str(body["type"]),
        source=str(body["source"]),
        subject=str(body["subject"]),
        time=at,
        data=data,
        topic=topic,
        raw=body,
    )


def describe(error: ValidationError) -> str:
    """A validation error in one bounded line: each failing field and what it needs."""
    parts = [
        f"{'.'.join(str(p) for p in problem['loc']) or 'data'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    ]
    text = "; ".join(parts)
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"
