"""Handlers of the audit service: every audited event becomes one entry of its user's chain."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import NOTIFICATIONS_TOPIC, TASK_EVENTS_TOPIC
from taskstream.messaging.consumer import CloudEvent, Consumer
from workers.audit import trail

log = logging.getLogger(__name__)

TYPE_PREFIX = "taskstream."
TYPE_SUFFIX = ".v1"
WEBHOOK_TYPES = ("taskstream.webhook.registered.v1", "taskstream.webhook.deleted.v1")
# Every successful mutation of tasks, tags, reminders (task updates) and webhooks, and every
# notification sent (or given up on), by topic. Webhooks are kept by the notifications service,
# which may announce their changes on either topic: both are heard.
AUDITED: dict[str, tuple[str, ...]] = {
    TASK_EVENTS_TOPIC: (
        "taskstream.task.created.v1",
        "taskstream.task.updated.v1",
        "taskstream.task.completed.v1",
        "taskstream.task.reopened.v1",
        "taskstream.task.deleted.v1",
        "taskstream.tag.renamed.v1",
        "taskstream.tag.deleted.v1",
        *WEBHOOK_TYPES,
    ),
    NOTIFICATIONS_TOPIC: (
        "taskstream.notification.sent.v1",
        "taskstream.notification.failed.v1",
        *WEBHOOK_TYPES,
    ),
}
# Changes a user asks for that a service other than the gateway carries out.
USER_ACTIONS = frozenset({"webhook.registered", "webhook.deleted"})
# Fields of `data` that identify rather than describe the change.
IDENTIFYING = frozenset({"userId", "taskId", "version", "task"})


def action_of(event_type: str) -> str:
    """`taskstream.task.created.v1` -> `task.created`."""
    return event_type.removeprefix(TYPE_PREFIX).removesuffix(TYPE_SUFFIX)


def actor_of(event: CloudEvent, user_id: str) -> str:
    """The user for what they asked for, else the service that did it on its own."""
    if event.source == "gateway" or action_of(event.type) in USER_ACTIONS:
        return user_id
    return event.source


def changes_of(event: CloudEvent) -> dict[str, Any]:
    """What changed, as the trail records it."""
    data = event.data
    action = action_of(event.type)
    task = data.get("task")
    if action in ("task.created", "task.deleted") and isinstance(task, dict):
        return {"task": task}
    if action == "task.updated":
        return dict(data.get("changes") or {})
    if action in ("task.completed", "task.reopened") and isinstance(task, dict):
        before = "OPEN" if action == "task.completed" else "DONE"
        return {
            "status": {"before": before, "after": task.get("status")},
            "completedAt": task.get("completedAt"),
        }
    described = {k: v for k, v in data.items() if k not in IDENTIFYING and k != "changes"}
    described.update(data.get("changes") or {})
    return described


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def entry_of(event: CloudEvent) -> trail.NewEntry | None:
    """The entry an event adds to its user's trail; None when it names no user."""
    user_id = _uuid(event.data.get("userId"))
    if user_id is None:
        log.warning("audited event without a user", extra={"event_id": event.id})
        return None
    task_id = event.data.get("taskId")
    if task_id is None and isinstance(event.data.get("task"), dict):
        task_id = event.data["task"].get("id")
    return trail.NewEntry(
        user_id=user_id,
        event_id=event.id,
        at=event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC),
        actor=actor_of(event, str(user_id)),
        action=action_of(event.type),
        task_id=None if task_id is None else _uuid(task_id),
        changes=changes_of(event),
    )


class AuditHandlers:
    """Turns events into chained entries, signing the chain heads with `key`."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    async def record(self, event: CloudEvent, connection: AsyncConnection) -> Outcome:
        """Append the event to its user's chain (the consumer makes this happen once)."""
        entry = entry_of(event)
        if entry is None:
            return Outcome.DROP
        await trail.append_many(connection, [entry], key=self._key)
        return Outcome.SUCCESS

    async def record_batch(
        self, events: Sequence[CloudEvent], connection: AsyncConnection
    ) -> Outcome:
        """Append a run of events in order: one head read per user, one multi-row insert."""
        new = [entry_of(event) for event in events]
        if any(entry is None for entry in new):
            # Undo the batch: one by one, only the event without a user is dropped.
            return Outcome.DROP
        await trail.append_many(
            connection, [entry for entry in new if entry is not None], key=self._key
        )
        return Outcome.SUCCESS

    def register(self, consumer: Consumer) -> None:
        """Subscribe `record` (and its batch form) to every audited event type."""
        batch = self.record_batch
        for topic, types in AUDITED.items():
            for event_type in types:
                consumer.on(topic, event_type, self.record, batch=batch)
