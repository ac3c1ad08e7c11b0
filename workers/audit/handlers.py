"""Handlers of the audit service: every audited event becomes one entry of its user's chain,
and every change in a shared project one entry of the project's chain besides."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import Event as AnyEvent
from contracts.events import (
    NotificationFailed,
    NotificationSent,
    ProjectCreated,
    ProjectDeleted,
    ProjectEvent,
    ProjectInvitationAnswered,
    ProjectInvitationCreated,
    ProjectInvitationRevoked,
    ProjectMemberAdded,
    ProjectMemberChanged,
    ProjectMemberRemoved,
    ProjectUpdated,
    ReminderDue,
    TagDeleted,
    TagRenamed,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskEvent,
    TaskReopened,
    TaskRestored,
    TaskUpdated,
    WebhookDeleted,
    WebhookRegistered,
)
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import (
    NOTIFICATIONS_TOPIC,
    TASK_EVENTS_TOPIC,
    CloudEvent,
    type_name,
)
from taskstream.messaging.consumer import Consumer
from workers.audit import trail

log = logging.getLogger(__name__)

TYPE_PREFIX = "taskstream."
WEBHOOK_EVENTS: tuple[type[AnyEvent], ...] = (WebhookRegistered, WebhookDeleted)
# Every successful mutation of tasks, tags, reminders (task updates) and webhooks, and every
# notification sent (or given up on), by topic. Webhooks are kept by the notifications service,
# which may announce their changes on either topic: both are heard.
AUDITED: dict[str, tuple[type[AnyEvent], ...]] = {
    TASK_EVENTS_TOPIC: (
        TaskCreated,
        TaskUpdated,
        TaskCompleted,
        TaskReopened,
        TaskDeleted,
        TaskRestored,
        TagRenamed,
        TagDeleted,
        *WEBHOOK_EVENTS,
    ),
    NOTIFICATIONS_TOPIC: (NotificationSent, NotificationFailed, *WEBHOOK_EVENTS),
}
# Changes to a shared project itself (settings, members, invitations): its chain only, since
# they are no one user's data. Changes to its tasks are in the AUDITED task events.
PROJECT_EVENTS: tuple[type[AnyEvent], ...] = (
    ProjectCreated,
    ProjectUpdated,
    ProjectDeleted,
    ProjectMemberAdded,
    ProjectMemberChanged,
    ProjectMemberRemoved,
    ProjectInvitationCreated,
    ProjectInvitationAnswered,
    ProjectInvitationRevoked,
)
# Changes a user asks for that a service other than the gateway carries out.
USER_ACTIONS = frozenset({"webhook.registered", "webhook.deleted"})
# Fields of `data` that identify rather than describe the change.
IDENTIFYING = frozenset({"userId", "taskId", "version", "task", "actorId", "projectId"})


def action_of(event_type: str) -> str:
    """`taskstream.task.created.v1` -> `task.created`."""
    return type_name(event_type)[0].removeprefix(TYPE_PREFIX)


def actor_of(event: CloudEvent[AnyEvent]) -> str:
    """The user for what they asked for, else the service that did it on its own.

    A project task's event names the member who made the change (`actorId`), its `userId`
    being the task's owner; a project event's `userId` is the member who made it.
    """
    data = event.data
    if event.source == "gateway" or action_of(event.type) in USER_ACTIONS:
        if isinstance(data, TaskEvent) and data.actor_id is not None:
            return str(data.actor_id)
        return str(data.user_id)
    return event.source


def changes_of(event: CloudEvent[AnyEvent]) -> dict[str, Any]:
    """What changed, as the trail records it (in the events' wire spelling)."""
    data = event.data
    if isinstance(data, TaskCreated | TaskDeleted | TaskRestored):
        return {"task": data.task.wire()}
    if isinstance(data, TaskUpdated):
        return data.changes.wire()
    if isinstance(data, TaskCompleted | TaskReopened):
        before = "OPEN" if isinstance(data, TaskCompleted) else "DONE"
        completed = data.task.completed_at
        return {
            "status": {"before": before, "after": data.task.status},
            "completedAt": None if completed is None else completed.isoformat(),
        }
    # Tag, webhook and notification events: what they say besides whose and which.
    wire = data.wire()
    described = {k: v for k, v in wire.items() if k not in IDENTIFYING and k != "changes"}
    described.update(wire.get("changes") or {})
    return described


def task_of(event: AnyEvent) -> uuid.UUID | None:
    """The task an event is about, when it is about one."""
    if isinstance(event, TaskEvent | NotificationSent | ReminderDue):
        return event.task_id
    return None


def project_of(event: AnyEvent) -> uuid.UUID | None:
    """The shared project an event's change happened in, when it happened in one."""
    if isinstance(event, ProjectEvent):
        return event.project_id
    if isinstance(event, TaskEvent):
        return event.task.project_id
    return None


def entry_of(event: CloudEvent[AnyEvent]) -> trail.NewEntry:
    """The entry an event adds to its user's trail."""
    return trail.NewEntry(
        user_id=event.data.user_id,
        event_id=event.id,
        at=event.time if event.time.tzinfo else event.time.replace(tzinfo=UTC),
        actor=actor_of(event),
        action=action_of(event.type),
        task_id=task_of(event.data),
        changes=changes_of(event),
        project_id=project_of(event.data),
    )


def entries_of(event: CloudEvent[AnyEvent]) -> list[trail.NewEntry]:
    """The entries an event adds: to its user's chain (project events aside) and, for a change
    in a shared project, to the project's chain (same fields, its own entry id)."""
    entry = entry_of(event)
    found = [] if isinstance(event.data, ProjectEvent) else [entry]
    if entry.project_id is not None:
        found.append(
            replace(
                entry,
                user_id=trail.project_chain(entry.project_id),
                event_id=event.id + trail.PROJECT_EVENT_SUFFIX,
            )
        )
    return found


class AuditHandlers:
    """Turns events into chained entries, signing the chain heads with `key`."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    async def record(self, event: CloudEvent[AnyEvent], connection: AsyncConnection) -> Outcome:
        """Append the event to its user's chain (the consumer makes this happen once)."""
        await trail.append_many(connection, entries_of(event), key=self._key)
        return Outcome.SUCCESS

    async def record_batch(
        self, events: Sequence[CloudEvent[AnyEvent]], connection: AsyncConnection
    ) -> Outcome:
        """Append a run of events in order: one head read per user, one multi-row insert."""
        new = [entry for event in events for entry in entries_of(event)]
        await trail.append_many(connection, new, key=self._key)
        return Outcome.SUCCESS

    def register(self, consumer: Consumer) -> None:
        """Subscribe `record` (and its batch form) to every audited event type."""
        for topic, models in AUDITED.items():
            for model in models:
                consumer.on(model, self.record, topic=topic, batch=self.record_batch)
        for model in PROJECT_EVENTS:
            consumer.on(model, self.record, batch=self.record_batch)
