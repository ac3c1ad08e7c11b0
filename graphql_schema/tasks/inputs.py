"""Input types of the task slice and their conversion to domain requests."""

from __future__ import annotations

import enum
import uuid

import strawberry

from graphql_schema.node import Channel, Priority, RepeatFrom, TaskStatus
from graphql_schema.scalars import DateTime
from taskstream.domain.model import RecurrenceRequest, ReminderSpec, TaskChange
from taskstream.persistence.reads import SortField, TaskQuery

TaskSortField = SortField
strawberry.enum(SortField, name="TaskSortField")


@strawberry.enum(name="SortDirection")
class SortDirection(enum.Enum):
    """Ascending or descending."""

    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(name="TaskFilter")
class TaskFilter:
    """Filters combine with AND."""

    text: str | None = strawberry.field(
        default=None, description="Full-text search over title and notes; tolerant of small typos."
    )
    status: TaskStatus | None = None
    priorities: list[Priority] | None = None
    any_tags: list[str] | None = strawberry.field(
        default=None, description="Tasks carrying at least one of these tag names."
    )
    all_tags: list[str] | None = strawberry.field(
        default=None, description="Tasks carrying all of these tag names."
    )
    due_from: DateTime | None = None
    due_to: DateTime | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="Open tasks whose due date has passed."
    )
    recurring: bool | None = None
    series_id: strawberry.ID | None = strawberry.field(
        default=None, description="Instances of one recurring series."
    )

    def to_query(self) -> TaskQuery:
        """The read-side query of this filter."""
        return TaskQuery(
            text=self.text,
            status=self.status,
            priorities=self.priorities,
            any_tags=self.any_tags,
            all_tags=self.all_tags,
            due_from=self.due_from,
            due_to=self.due_to,
            overdue=self.overdue,
            recurring=self.recurring,
            series_id=None if self.series_id is None else _series_id(self.series_id),
        )


# Series ids are random UUIDs, so no series has the nil UUID: filtering by it matches nothing.
NO_SERIES = uuid.UUID(int=0)


def _series_id(value: str) -> uuid.UUID:
    """The series to filter by; an id that cannot be one matches nothing, like a missing one."""
    # Answering NOT_FOUND here would tell malformed ids apart from missing or foreign ones,
    # which a filter answers with an empty page.
    try:
        return uuid.UUID(value)
    except ValueError:
        return NO_SERIES


@strawberry.input(name="TaskOrder")
class TaskOrder:
    """One key of a task ordering."""

    field: TaskSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(name="RecurrenceInput")
class RecurrenceInput:
    """How a task repeats."""

    rule: str
    repeat_from: RepeatFrom = RepeatFrom.DUE_DATE
    timezone: str | None = strawberry.field(
        default=None, description="Defaults to the user's time zone."
    )

    def to_request(self, user_timezone: str) -> RecurrenceRequest:
        """The domain request, in the user's zone unless one is given."""
        return RecurrenceRequest(
            rule=self.rule,
            repeat_from=self.repeat_from,
            timezone=self.timezone if self.timezone is not None else user_timezone,
        )


@strawberry.input(
    name="ReminderInput", description="Exactly one of remindAt and beforeDue must be given."
)
class ReminderInput:
    """A reminder at a time, or some minutes before the due date."""

    remind_at: DateTime | None = None
    before_due: int | None = None
    channels: list[Channel] = strawberry.field(default_factory=lambda: [Channel.IN_APP])

    def to_spec(self) -> ReminderSpec:
        """The domain spec of this reminder."""
        return ReminderSpec(self.remind_at, self.before_due, tuple(self.channels))


@strawberry.input(name="CreateTaskInput")
class CreateTaskInput:
    """A new task."""

    title: str
    notes: str | None = None
    priority: Priority | None = Priority.NONE
    tags: list[str] | None = strawberry.field(
        default=None, description="Tag names; unknown names are created."
    )
    due_at: DateTime | None = None
    recurrence: RecurrenceInput | None = None
    reminders: list[ReminderInput] | None = None


@strawberry.input(
    name="UpdateTaskInput",
    description="Omitted fields are left unchanged. A given list replaces the whole list.",
)
class UpdateTaskInput:
    """Changes to a task."""

    title: str | None = None
    notes: str | None = None
    priority: Priority | None = None
    tags: list[str] | None = None
    due_at: DateTime | None = None
    clear_due_at: bool | None = None
    recurrence: RecurrenceInput | None = None
    clear_recurrence: bool | None = None
    reminders: list[ReminderInput] | None = None
    expected_version: int | None = strawberry.field(
        default=None,
        description=(
            "When given and not equal to the task's version, the update fails with CONFLICT."
        ),
    )

    def to_change(self, user_timezone: str) -> TaskChange:
        """The domain change of this input."""
        return TaskChange(
            title=self.title,
            notes=self.notes,
            priority=self.priority,
            tags=self.tags,
            due_at=self.due_at,
            clear_due_at=bool(self.clear_due_at),
            recurrence=self.recurrence.to_request(user_timezone) if self.recurrence else None,
            clear_recurrence=bool(self.clear_recurrence),
            reminders=[r.to_spec() for r in self.reminders] if self.reminders is not None else None,
            expected_version=self.expected_version,
        )
