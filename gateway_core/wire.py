"""The gateway's edge to the wire: its domain Task and events mapped to the contracts' models.

The domain knows nothing of the wire format; this module is the one place that maps it, and
every instant on the wire is written in UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts import events as wire_events
from contracts.task import Recurrence, Reminder, Task, TaskChanges
from gateway_core.domain import events, projects, sections
from gateway_core.domain import model as domain
from taskstream.messaging.cloudevents import Envelope, encode
from taskstream.recurrence import Recurrence as RecurrenceRule

_EVENT_MODELS: dict[type[events.Event], type[wire_events.TaskEvent]] = {
    events.TaskCreated: wire_events.TaskCreated,
    events.TaskUpdated: wire_events.TaskUpdated,
    events.TaskCompleted: wire_events.TaskCompleted,
    events.TaskReopened: wire_events.TaskReopened,
    events.TaskDeleted: wire_events.TaskDeleted,
    events.TaskRestored: wire_events.TaskRestored,
}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def reminder_wire(reminder: domain.Reminder) -> Reminder:
    """A reminder as the events (and the internal API) spell it."""
    return Reminder(
        id=reminder.id,
        remind_at=_utc(reminder.remind_at),
        before_due=reminder.before_due,
        channels=[channel.value for channel in reminder.channels],
        state=reminder.state.value,
        sent_at=_utc_or_none(reminder.sent_at),
    )


def recurrence_wire(rule: RecurrenceRule | None) -> Recurrence | None:
    """A recurrence as the events spell it (instants in UTC)."""
    if rule is None:
        return None
    return Recurrence.of(rule, in_utc=True)


def task_wire(task: domain.Task) -> Task:
    """A task as the events (and the internal API) spell it."""
    return Task(
        id=task.id,
        user_id=task.user_id,
        title=task.title,
        notes=task.notes,
        status=task.status.value,
        priority=task.priority.name,
        tags=list(task.tags),
        due_at=_utc_or_none(task.due_at),
        completed_at=_utc_or_none(task.completed_at),
        recurrence=recurrence_wire(task.recurrence),
        series_id=task.series_id,
        instance_number=task.instance_number,
        reminders=[reminder_wire(r) for r in task.reminders],
        created_at=_utc(task.created_at),
        updated_at=_utc(task.updated_at),
        version=task.version,
        project_id=task.project_id,
        assignee_id=task.assignee_id,
        section_id=task.section_id,
        parent_id=task.parent_id,
        position=task.position or None,
    )


def _field_wire(name: str, value: Any) -> Any:
    """One diffed Task attribute's value in its wire form."""
    if name == "priority":
        return value.name
    if name == "tags":
        return list(value)
    if name == "due_at":
        return _utc_or_none(value)
    if name == "recurrence":
        return recurrence_wire(value)
    if name == "reminders":
        return [reminder_wire(r) for r in value]
    return value


def changes_wire(changes: dict[str, tuple[Any, Any]]) -> TaskChanges:
    """An update's (before, after) per Task attribute, as the wire's `changes`."""
    return TaskChanges.model_validate(
        {
            name: {"before": _field_wire(name, before), "after": _field_wire(name, after)}
            for name, (before, after) in changes.items()
        }
    )


def task_event(event: events.Event, *, actor_id: uuid.UUID | None = None) -> wire_events.TaskEvent:
    """The wire model of a task's domain event (`actor_id`: who made it, for project tasks)."""
    task = task_wire(event.task)
    if isinstance(event, events.TaskUpdated):
        return wire_events.TaskUpdated.of(
            task, changes=changes_wire(event.changes), actor_id=actor_id
        )
    return _EVENT_MODELS[type(event)].of(task, actor_id=actor_id)


def task_envelope(event: events.Event, *, actor_id: uuid.UUID | None = None) -> Envelope:
    """The CloudEvent of a task's domain event, keyed by its user for per-user order."""
    return encode(
        task_event(event, actor_id=actor_id), source=event.source, time=event.at, event_id=event.id
    )


def project_event(change: projects.ProjectChange) -> wire_events.ProjectEvent:
    """The wire model of a project's domain event."""
    common: dict[str, Any] = {
        "user_id": change.actor_id,
        "project_id": change.project_id,
        "version": change.version,
    }
    match change:
        case sections.SectionChanged():
            return _section_event(change, common)
        case projects.ProjectCreated(name=name, color=color):
            return wire_events.ProjectCreated(**common, name=name, color=color)
        case projects.ProjectUpdated(name=name, color=color, archived=archived):
            return wire_events.ProjectUpdated(**common, name=name, color=color, archived=archived)
        case projects.ProjectDeleted(member_ids=member_ids):
            return wire_events.ProjectDeleted(**common, member_ids=list(member_ids))
        case projects.MemberAdded(member_id=member_id, role=role):
            return wire_events.ProjectMemberAdded(**common, member_id=member_id, role=role.value)
        case projects.MemberChanged(member_id=member_id, role=role, previous_role=previous):
            return wire_events.ProjectMemberChanged(
                **common, member_id=member_id, role=role.value, previous_role=previous.value
            )
        case projects.MemberRemoved(member_id=member_id, role=role):
            return wire_events.ProjectMemberRemoved(**common, member_id=member_id, role=role.value)
        case projects.InvitationChanged() if change.created:
            return wire_events.ProjectInvitationCreated(
                **common,
                invitation_id=change.invitation_id,
                role=change.role.value,
                state=change.state.value,
                invitee_id=change.invitee_id,
            )
        case projects.InvitationChanged(state=projects.InvitationState.REVOKED):
            return wire_events.ProjectInvitationRevoked(
                **common,
                invitation_id=change.invitation_id,
                role=change.role.value,
                state=change.state.value,
            )
        case projects.InvitationChanged():
            return wire_events.ProjectInvitationAnswered(
                **common,
                invitation_id=change.invitation_id,
                role=change.role.value,
                state=change.state.value,
            )
    raise TypeError(f"no wire model for {type(change).__name__}")


def _section_event(
    change: sections.SectionChanged, common: dict[str, Any]
) -> wire_events.ProjectSectionEvent:
    """The wire model of a section's change."""
    fields = {
        **common,
        "section_id": change.section_id,
        "name": change.name,
        "position": change.position,
    }
    if change.what == "created":
        return wire_events.ProjectSectionCreated(**fields)
    if change.what == "renamed":
        return wire_events.ProjectSectionRenamed(**fields)
    return wire_events.ProjectSectionDeleted(**fields, moved_task_count=change.moved_tasks)


def project_envelope(change: projects.ProjectChange) -> Envelope:
    """The CloudEvent of a project's domain event, keyed by the project."""
    return encode(project_event(change), source="gateway", time=change.at)
