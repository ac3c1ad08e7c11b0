"""What the audit service records of project events and of project tasks' events (pure logic),
and the actor the gateway names on the events of project tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.events import ProjectMemberChanged, TaskCompleted, TaskUpdated
from contracts.task import TaskChanges
from gateway_core.domain.model import Task
from gateway_core.persistence.uow import from_task_event
from taskstream.messaging.cloudevents import CloudEvent, decode, encode
from tests.event_factories import wire_task
from workers.audit import trail
from workers.audit.handlers import entries_of

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def received(model: Any, *, source: str = "gateway") -> CloudEvent[Any]:
    """An event as the audit consumer receives it, after the wire."""
    envelope = encode(model, source=source, time=NOW)
    return decode(envelope.body, type(model), topic=envelope.topic)


def updated(project: uuid.UUID | None, actor: uuid.UUID | None) -> TaskUpdated:
    """A title change of a task (in `project`, by `actor` when given)."""
    task = wire_task(version=2, title="After", **({"projectId": str(project)} if project else {}))
    changes = TaskChanges.model_validate({"title": {"before": "Before", "after": "After"}})
    return TaskUpdated.of(task, changes=changes, actor_id=actor)


def test_a_personal_tasks_event_is_one_entry_of_its_owners_chain() -> None:
    event = received(updated(None, None))
    (entry,) = entries_of(event)
    assert entry.user_id == event.data.user_id
    assert entry.project_id is None
    assert entry.actor == str(event.data.user_id)


def test_a_project_tasks_event_is_an_entry_of_the_owners_and_of_the_projects_chain() -> None:
    project, editor = uuid.uuid4(), uuid.uuid4()
    event = received(updated(project, editor))
    personal, shared = entries_of(event)
    assert personal.user_id == event.data.user_id
    assert shared.user_id == trail.project_chain(project)
    # Same change, same actor (the editor, not the task's owner), distinct entry ids.
    assert personal.actor == shared.actor == str(editor)
    assert personal.changes == shared.changes == {"title": {"before": "Before", "after": "After"}}
    assert personal.project_id == shared.project_id == project
    assert trail.entry_id(personal.event_id) != trail.entry_id(shared.event_id)


def test_a_service_acting_on_a_project_task_is_named_as_the_service() -> None:
    project = uuid.uuid4()
    task = wire_task(version=2, status="DONE", projectId=str(project), completedAt=NOW.isoformat())
    event = received(TaskCompleted.of(task), source="recurrence")
    assert [entry.actor for entry in entries_of(event)] == ["recurrence", "recurrence"]


def test_a_project_event_is_an_entry_of_the_projects_chain_only() -> None:
    project, owner, member = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    change = ProjectMemberChanged(
        user_id=owner,
        project_id=project,
        version=3,
        member_id=member,
        role="VIEWER",
        previous_role="EDITOR",
    )
    (entry,) = entries_of(received(change))
    assert entry.user_id == trail.project_chain(project)
    assert (entry.actor, entry.action, entry.task_id) == (
        str(owner),
        "project.member.changed",
        None,
    )
    assert entry.changes == {
        "memberId": str(member),
        "role": "VIEWER",
        "previousRole": "EDITOR",
    }


def test_project_chains_cannot_be_named_by_the_project_id_itself() -> None:
    project = uuid.uuid4()
    assert trail.project_chain(project) != project
    assert trail.project_chain(project) == trail.project_chain(uuid.UUID(str(project)))


def _task(project: uuid.UUID | None) -> Task:
    return Task.create(user_id=uuid.uuid4(), title="Plan", now=NOW, project_id=project)


def test_the_gateway_names_the_actor_on_project_tasks_events_only() -> None:
    actor = uuid.uuid4()
    (shared,) = _task(uuid.uuid4()).events
    (personal,) = _task(None).events
    assert from_task_event(shared, actor_id=actor).body["data"]["actorId"] == str(actor)
    # A personal task's events read as before projects existed: no actorId at all.
    assert "actorId" not in from_task_event(personal, actor_id=actor).body["data"]
