"""CloudEvents 1.0 (structured JSON) envelopes for the events on the wire."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskstream.errors import InvalidInput

TASK_EVENTS_TOPIC = "task-events"
REMINDERS_TOPIC = "reminders"
NOTIFICATIONS_TOPIC = "notifications"

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "data")


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


USER_DELETED = "taskstream.user.deleted.v1"


def user_deleted(user_id: uuid.UUID, *, time: datetime) -> Envelope:
    """The event that tells every service to erase an account's data (see docs/compliance.md)."""
    return envelope(
        topic=TASK_EVENTS_TOPIC,
        type_=USER_DELETED,
        source="gateway",
        subject=str(user_id),
        partition_key=str(user_id),
        time=time,
        data={"userId": str(user_id)},
    )
