"""The one wire shape of a task (with its reminders and recurrence), as events carry it.

The gateway maps its domain Task to `Task` at its edge (gateway_core/wire.py); consumers read
these typed fields. `Recurrence` is also how a recurrence is stored in a task row's JSON column:
one serialisation of a recurrence, whoever writes it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from taskstream.messaging.cloudevents import Instant, WireModel
from taskstream.recurrence import Recurrence as RecurrenceRule
from taskstream.recurrence import RepeatFrom

Channel = Literal["IN_APP", "EMAIL", "WEBHOOK", "PUSH"]
ReminderState = Literal["SCHEDULED", "SENT", "FAILED", "CANCELLED"]
TaskStatus = Literal["OPEN", "DONE"]
Priority = Literal["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"]

TITLE_MAX = 500
NOTES_MAX = 20_000
TAGS_MAX = 20
TAG_NAME_MAX = 50
REMINDERS_MAX = 10
# Longest fractional-index key (gateway_core/domain/positions.py keeps to it).
POSITION_MAX = 255

TagName = Annotated[str, Field(min_length=1, max_length=TAG_NAME_MAX)]


class Reminder(WireModel):
    """A reminder of a task as the gateway sees it (relative ones already follow the due date)."""

    id: uuid.UUID
    remind_at: Instant
    before_due: int | None = Field(ge=0)
    channels: list[Channel] = Field(min_length=1)
    state: ReminderState
    sent_at: Instant | None


class Recurrence(WireModel):
    """A task's recurrence: the normalised RRULE, what it repeats from, its zone and start."""

    rule: str = Field(min_length=1)
    repeat_from: Literal["DUE_DATE", "COMPLETION"]
    timezone: str = Field(min_length=1)
    dtstart: Instant
    skipped: list[Instant]

    @classmethod
    def of(cls, rule: RecurrenceRule, *, in_utc: bool = False) -> Recurrence:
        """The wire form of a recurrence: instants in UTC (events) or as they are (offsets kept,
        as a task row stores them so that the API shows skipped dates in the series' zone)."""

        def instant(value: datetime) -> datetime:
            return value.astimezone(UTC) if in_utc else value

        return cls(
            rule=rule.rule,
            repeat_from=rule.repeat_from.value,
            timezone=rule.timezone,
            dtstart=instant(rule.dtstart),
            skipped=[instant(moment) for moment in rule.skipped],
        )

    def to_rule(self) -> RecurrenceRule:
        """The recurrence engine's value of this wire form."""
        return RecurrenceRule(
            rule=self.rule,
            repeat_from=RepeatFrom(self.repeat_from),
            timezone=self.timezone,
            dtstart=self.dtstart,
            skipped=tuple(self.skipped),
        )


def recurrence_from_json(value: dict[str, Any] | None) -> RecurrenceRule | None:
    """The recurrence in a JSON column or payload (None stays None)."""
    return None if value is None else Recurrence.model_validate(value).to_rule()


def recurrence_to_json(rule: RecurrenceRule | None) -> dict[str, Any] | None:
    """The JSON column value of a recurrence (None stays None)."""
    return None if rule is None else Recurrence.of(rule).wire()


class Task(WireModel):
    """A task as it is after a change (its last state for deletions)."""

    id: uuid.UUID
    user_id: uuid.UUID
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    notes: str = Field(max_length=NOTES_MAX)
    status: TaskStatus
    priority: Priority
    tags: list[TagName] = Field(max_length=TAGS_MAX)
    due_at: Instant | None
    completed_at: Instant | None
    recurrence: Recurrence | None
    series_id: uuid.UUID | None
    instance_number: int = Field(ge=1)
    reminders: list[Reminder] = Field(max_length=REMINDERS_MAX)
    created_at: Instant
    updated_at: Instant
    version: int = Field(ge=1)
    project_id: uuid.UUID | None = Field(
        default=None,
        description="The shared project holding the task; absent for the owner's personal space.",
    )
    assignee_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The user the task is assigned to (who a reminder should reach); absent when "
            "unassigned."
        ),
    )
    # Structure (sections, subtasks, manual order): absent when none, as before they existed.
    section_id: uuid.UUID | None = Field(
        default=None, description="The project's section holding the task; absent for none."
    )
    parent_id: uuid.UUID | None = Field(
        default=None, description="The parent task of a subtask; absent for a top-level task."
    )
    position: str | None = Field(
        default=None,
        max_length=POSITION_MAX,
        description="Fractional-index key ordering the task among its siblings (by code point).",
    )

    @model_serializer(mode="wrap")
    def _project_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent rather than null in the personal space: events read as before projects existed.
        dumped: dict[str, Any] = handler(self)
        for optional in _ABSENT_WHEN_NULL:
            if dumped.get(optional, "") is None:
                del dumped[optional]
        return dumped


_ABSENT_WHEN_NULL = ("projectId", "assigneeId", "sectionId", "parentId", "position")


T = TypeVar("T")


class Change(WireModel, Generic[T]):
    """One changed field: its value before and after."""

    before: T
    after: T


class TextChange(Change[str]):
    """A title or notes before and after."""


class PriorityChange(Change[Priority]):
    """A priority before and after."""


class TagsChange(Change[list[TagName]]):
    """The tag names before and after."""


class InstantChange(Change[Instant | None]):
    """A due date before and after (null: none)."""


class RecurrenceChange(Change[Recurrence | None]):
    """A recurrence before and after (null: none)."""


class IdChange(Change[uuid.UUID | None]):
    """A series, project, section or parent id before and after (null: none)."""


class RemindersChange(Change[list[Reminder]]):
    """The reminders before and after."""


class TaskChanges(WireModel):
    """The fields an update changed, each with before and after; only those are on the wire."""

    title: TextChange | None = None
    notes: TextChange | None = None
    priority: PriorityChange | None = None
    tags: TagsChange | None = None
    due_at: InstantChange | None = None
    recurrence: RecurrenceChange | None = None
    series_id: IdChange | None = None
    reminders: RemindersChange | None = None
    assignee_id: IdChange | None = None
    # The owner the task is stored under, handed to a project owner when its creator's
    # account is deleted (the task stays in the shared project).
    user_id: IdChange | None = None
    # A move (moveTask, deleteSection): the old and new place.
    project_id: IdChange | None = None
    section_id: IdChange | None = None
    parent_id: IdChange | None = None
    position: TextChange | None = None

    @model_serializer(mode="wrap")
    def _only_changed(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A field that did not change is absent, not null (a null `before` inside stays).
        dumped: dict[str, Any] = handler(self)
        return {name: value for name, value in dumped.items() if value is not None}

    def names(self) -> list[str]:
        """The wire names of the changed fields."""
        return list(self.wire())
