"""Rules of the Task aggregate, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.domain import events
from gateway_core.domain.model import (
    Channel,
    Priority,
    RecurrenceRequest,
    ReminderSpec,
    ReminderState,
    Task,
    TaskChange,
    TaskStatus,
    clean_tags,
)
from taskstream.errors import Conflict, InvalidInput, NotFound
from taskstream.recurrence import RepeatFrom

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DUE = datetime(2030, 1, 10, 9, 0, tzinfo=UTC)


def make(**fields: object) -> Task:
    """A task created now for a random user."""
    return Task.create(user_id=uuid.uuid4(), now=NOW, **fields)  # type: ignore[arg-type]


def test_create_raises_created_with_a_copy_of_the_task() -> None:
    task = make(title=" Buy milk ", tags=["Food", "food", "Home"], priority=Priority.LOW)
    assert task.title == "Buy milk" and task.tags == ("Food", "Home") and task.version == 1
    [event] = task.events
    assert isinstance(event, events.TaskCreated)
    assert event.task.title == "Buy milk" and event.task.version == 1
    # A copy: later changes to the task do not rewrite what the event says.
    task.update(TaskChange(title="Buy bread"), now=NOW)
    assert event.task.title == "Buy milk" and event.task is not task


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "x", "notes": "n" * 20_001}, "notes"),
        ({"title": "x", "tags": [str(i) for i in range(21)]}, "tags"),
        ({"title": "x", "due_at": datetime(2030, 1, 1)}, "dueAt"),
        (
            {"title": "x", "reminders": [ReminderSpec(None, 5, (Channel.IN_APP,))]},
            "reminders[0].beforeDue",
        ),
        (
            {"title": "x", "reminders": [ReminderSpec(None, None, (Channel.IN_APP,))]},
            "reminders[0]",
        ),
        ({"title": "x", "reminders": [ReminderSpec(DUE, None, ())]}, "reminders[0].channels"),
    ],
)
def test_create_refuses_bad_input(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        make(**fields)
    assert raised.value.field == field


def test_exactly_twenty_tags_are_allowed() -> None:
    assert len(clean_tags([f"t{i}" for i in range(20)])) == 20


def test_update_diffs_before_and_after_and_follows_relative_reminders() -> None:
    task = make(
        title="a",
        due_at=DUE,
        reminders=[
            ReminderSpec(None, 60, (Channel.EMAIL,)),
            ReminderSpec(DUE, None, (Channel.IN_APP,)),
        ],
    )
    task.events.clear()
    later = DUE + timedelta(days=1)
    task.update(TaskChange(title="b", due_at=later), now=NOW)
    [event] = task.events
    assert isinstance(event, events.TaskUpdated)
    assert event.changes["title"] == ("a", "b")
    assert set(event.changes) == {"title", "due_at", "reminders"}
    assert task.reminders[0].remind_at == later - timedelta(minutes=60)
    assert task.reminders[1].remind_at == DUE  # absolute ones stay
    assert task.version == 2


def test_update_with_a_stale_version_conflicts_and_changes_nothing() -> None:
    task = make(title="a")
    with pytest.raises(Conflict):
        task.update(TaskChange(title="b", expected_version=7), now=NOW)
    assert task.title == "a" and task.version == 1


def test_clearing_the_due_date_of_a_task_with_relative_reminders_is_refused() -> None:
    task = make(title="a", due_at=DUE, reminders=[ReminderSpec(None, 5, (Channel.IN_APP,))])
    with pytest.raises(InvalidInput) as raised:
        task.update(TaskChange(clear_due_at=True), now=NOW)
    assert raised.value.field == "dueAt"
    assert task.due_at == DUE


def test_complete_cancels_scheduled_reminders_once() -> None:
    task = make(title="a", due_at=DUE, reminders=[ReminderSpec(None, 5, (Channel.IN_APP,))])
    task.complete(now=NOW)
    task.complete(now=NOW)
    assert task.status is TaskStatus.DONE and task.version == 2
    assert task.reminders[0].state is ReminderState.CANCELLED
    assert [type(e) for e in task.events] == [events.TaskCreated, events.TaskCompleted]


def test_recurring_task_keeps_its_series_and_skips_in_place() -> None:
    task = make(
        title="daily",
        due_at=DUE,
        recurrence=RecurrenceRequest("FREQ=DAILY", RepeatFrom.DUE_DATE, "UTC"),
    )
    assert task.series_id is not None and task.recurrence is not None
    task.skip_occurrence(now=NOW)
    assert task.due_at == DUE + timedelta(days=1)
    assert task.recurrence.skipped == (DUE,)


def test_snooze_keeps_a_relative_reminder_relative() -> None:
    task = make(title="a", due_at=DUE, reminders=[ReminderSpec(None, 5, (Channel.IN_APP,))])
    reminder = task.snooze_reminder(task.reminders[0].id, minutes=10, now=NOW)
    assert reminder.state is ReminderState.SCHEDULED
    assert reminder.remind_at == NOW + timedelta(minutes=10) and reminder.before_due == 5
    # An edit that leaves the due date keeps the snoozed time...
    task.update(TaskChange(title="b"), now=NOW)
    assert task.reminders[0].remind_at == NOW + timedelta(minutes=10)
    # ...and a moved due date brings it back to 5 minutes before the (new) due date.
    task.update(TaskChange(due_at=DUE + timedelta(days=1)), now=NOW)
    assert task.reminders[0].remind_at == DUE + timedelta(days=1, minutes=-5)
    assert task.reminders[0].before_due == 5
    with pytest.raises(NotFound):
        task.snooze_reminder(uuid.uuid4(), minutes=10, now=NOW)
    with pytest.raises(InvalidInput):
        task.snooze_reminder(reminder.id, minutes=0, now=NOW)
