"""Who an event assigns a task to (the "assigned to you" notice), and who a reminder reaches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.events import TaskCompleted, TaskCreated, TaskUpdated
from contracts.task import Task, TaskChanges
from workers.notifications.assignments import new_assignee, notice_id, subject
from workers.notifications.schedule import recipient

OWNER, BOB, CAROL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
NOW = datetime(2030, 1, 1, tzinfo=UTC).isoformat()


def task(assignee: uuid.UUID | None, owner: uuid.UUID = OWNER) -> Task:
    """A project task as events carry it."""
    return Task.model_validate(
        {
            "id": str(uuid.uuid4()),
            "userId": str(owner),
            "title": "Plan",
            "notes": "",
            "status": "OPEN",
            "priority": "NONE",
            "tags": [],
            "dueAt": None,
            "completedAt": None,
            "recurrence": None,
            "seriesId": None,
            "instanceNumber": 1,
            "reminders": [],
            "createdAt": NOW,
            "updatedAt": NOW,
            "version": 2,
            "projectId": str(uuid.uuid4()),
            "assigneeId": None if assignee is None else str(assignee),
        }
    )


def updated(changes: dict[str, Any], assignee: uuid.UUID | None, actor: uuid.UUID) -> TaskUpdated:
    """An update by `actor` with these changes."""
    return TaskUpdated.of(
        task(assignee), changes=TaskChanges.model_validate(changes), actor_id=actor
    )


def test_a_task_created_for_someone_else_notifies_them_only() -> None:
    assert new_assignee(TaskCreated.of(task(BOB), actor_id=OWNER)) == BOB
    assert new_assignee(TaskCreated.of(task(BOB), actor_id=BOB)) is None
    assert new_assignee(TaskCreated.of(task(None), actor_id=OWNER)) is None
    # A personal task's events have no actor: its owner assigning themselves is no news.
    assert new_assignee(TaskCreated.of(task(OWNER))) is None


def test_only_an_update_that_changes_the_assignee_notifies() -> None:
    change = {"assigneeId": {"before": str(BOB), "after": str(CAROL)}}
    assert new_assignee(updated(change, CAROL, actor=OWNER)) == CAROL
    assert new_assignee(updated(change, CAROL, actor=CAROL)) is None
    unassigned = {"assigneeId": {"before": str(BOB), "after": None}}
    assert new_assignee(updated(unassigned, None, actor=OWNER)) is None
    # A title change of an assigned task: no new assignment, no notice.
    title = {"title": {"before": "a", "after": "b"}}
    assert new_assignee(updated(title, BOB, actor=OWNER)) is None
    assert new_assignee(TaskCompleted.of(task(BOB), actor_id=OWNER)) is None


def test_reminders_reach_the_assignee_else_the_owner() -> None:
    assert recipient(task(BOB)) == BOB
    assert recipient(task(None)) == OWNER


def test_notice_ids_are_one_per_event_and_recipient_and_subjects_one_line() -> None:
    assert notice_id("e1", BOB) == notice_id("e1", BOB)
    assert len({notice_id("e1", BOB), notice_id("e1", CAROL), notice_id("e2", BOB)}) == 3
    assert subject("a\r\nBcc: x@example.com") == "Assigned to you: a Bcc: x@example.com"
    assert len(subject("x" * 500)) == len("Assigned to you: ") + 100
