"""Input types of the task slice and their conversion to domain requests."""

from __future__ import annotations

import enum
import uuid

import strawberry

from gateway_core.domain.model import RecurrenceRequest, ReminderSpec, TaskChange
from gateway_core.persistence.reads import SortField, TaskQuery
from gateway_core.services.access import ASSIGNEE_RULE
from graphql_schema.ids import parse_id
from graphql_schema.node import Channel, Priority, RepeatFrom, TaskStatus
from graphql_schema.scalars import DateTime
from taskstream.errors import InvalidInput

TaskSortField = SortField
strawberry.enum(
    SortField,
    name="TaskSortField",
    description=(
        "A key tasks can be ordered by; RELEVANCE needs filter.text. Undated tasks sort last "
        "by DUE_AT. MANUAL orders by position, which orders siblings: filter to one list "
        "(projectId or inbox, sectionId, parentId or topLevel) for the manual order."
    ),
)


@strawberry.enum(name="SortDirection", description="Ascending or descending.")
class SortDirection(enum.Enum):
    """Ascending or descending."""

    ASC = "ASC"
    DESC = "DESC"


@strawberry.input(name="TaskFilter", description="Filters of a task list; they combine with AND.")
class TaskFilter:
    """Filters combine with AND."""

    text: str | None = strawberry.field(
        default=None, description="Full-text search over title and notes; tolerant of small typos."
    )
    status: TaskStatus | None = strawberry.field(
        default=None, description="Only tasks in this status."
    )
    priorities: list[Priority] | None = strawberry.field(
        default=None, description="Only tasks with one of these priorities; at most 20 entries."
    )
    any_tags: list[str] | None = strawberry.field(
        default=None,
        description=(
            "Tasks carrying at least one of these tag names; at most 20, each 1 to 50 characters."
        ),
    )
    all_tags: list[str] | None = strawberry.field(
        default=None,
        description="Tasks carrying all of these tag names; at most 20, each 1 to 50 characters.",
    )
    due_from: DateTime | None = strawberry.field(
        default=None, description="Only tasks due at or after this time."
    )
    due_to: DateTime | None = strawberry.field(
        default=None, description="Only tasks due at or before this time."
    )
    overdue: bool | None = strawberry.field(
        default=None, description="Open tasks whose due date has passed."
    )
    recurring: bool | None = strawberry.field(
        default=None, description="true: only recurring tasks; false: only one-off tasks."
    )
    series_id: strawberry.ID | None = strawberry.field(
        default=None, description="Instances of one recurring series."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only the tasks of this project (NOT_FOUND unless the caller is a member).",
    )
    inbox: bool | None = strawberry.field(
        default=None,
        description="true: only tasks of the personal space; false: only tasks of projects.",
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the tasks assigned to this user."
    )
    assigned_to_me: bool | None = strawberry.field(
        default=None,
        description="true: only the tasks assigned to the caller; false: only the others.",
    )
    # Structure filters: an id the caller cannot see matches nothing (an empty page).
    section_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the tasks of this section (subtasks included)."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only the direct subtasks of this task."
    )
    top_level: bool | None = strawberry.field(
        default=None, description="true: only tasks with no parent; false: only subtasks."
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
            project_id=None if self.project_id is None else parse_id(self.project_id, "project"),
            inbox=self.inbox,
            assignee_id=None if self.assignee_id is None else _series_id(self.assignee_id),
            assigned_to_me=self.assigned_to_me,
            section_id=None if self.section_id is None else _series_id(self.section_id),
            parent_id=None if self.parent_id is None else _series_id(self.parent_id),
            top_level=self.top_level,
        )


def assignee_id(value: str) -> uuid.UUID:
    """The assignee an input names; a malformed id is answered as one of a non-member."""
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise InvalidInput("assigneeId", ASSIGNEE_RULE) from error


# Series ids are random UUIDs, so no series has the nil UUID: filtering by it matches nothing.
NO_SERIES = uuid.UUID(int=0)


def _series_id(value: str) -> uuid.UUID:
    """The series (section, parent) to filter by; an id that cannot be one matches nothing,
    like a missing one."""
    # Answering NOT_FOUND here would tell malformed ids apart from missing or foreign ones,
    # which a filter answers with an empty page.
    try:
        return uuid.UUID(value)
    except ValueError:
        return NO_SERIES


@strawberry.input(name="TaskOrder", description="One key of a task ordering.")
class TaskOrder:
    """One key of a task ordering."""

    field: TaskSortField = strawberry.field(description="What to order by.")
    direction: SortDirection = strawberry.field(
        default=SortDirection.ASC, description="Ascending unless DESC."
    )


@strawberry.input(name="RecurrenceInput", description="How a task repeats.")
class RecurrenceInput:
    """How a task repeats."""

    rule: str = strawberry.field(
        description=(
            "RFC 5545 RRULE without the 'RRULE:' prefix, at most hourly, yielding at least one "
            "occurrence, e.g. FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=0."
        )
    )
    repeat_from: RepeatFrom = strawberry.field(
        default=RepeatFrom.DUE_DATE,
        description="DUE_DATE: next after the due date; COMPLETION: next after completion.",
    )
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

    remind_at: DateTime | None = strawberry.field(
        default=None, description="An absolute time to fire at."
    )
    before_due: int | None = strawberry.field(
        default=None,
        description="Minutes before the due date (the task needs one); follows the due date.",
    )
    channels: list[Channel] = strawberry.field(
        default_factory=lambda: [Channel.IN_APP],
        description="Where to deliver it; at most 4 entries (one per channel).",
    )

    def to_spec(self) -> ReminderSpec:
        """The domain spec of this reminder."""
        return ReminderSpec(self.remind_at, self.before_due, tuple(self.channels))


@strawberry.input(name="CreateTaskInput", description="A new task.")
class CreateTaskInput:
    """A new task."""

    title: str = strawberry.field(description="1 to 500 characters after trimming.")
    notes: str | None = strawberry.field(default=None, description="Up to 20,000 characters.")
    priority: Priority | None = strawberry.field(default=Priority.NONE, description="How urgent.")
    tags: list[str] | None = strawberry.field(
        default=None,
        description="Up to 20 tag names of 1 to 50 characters; unknown names are created.",
    )
    due_at: DateTime | None = strawberry.field(
        default=None,
        description="When it is due; a recurring task without one gets its first occurrence.",
    )
    recurrence: RecurrenceInput | None = strawberry.field(
        default=None, description="Makes the task the first instance of a recurring series."
    )
    reminders: list[ReminderInput] | None = strawberry.field(
        default=None, description="Up to 10 reminders."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Creates the task in this project (EDITOR or OWNER); the personal space when omitted."
        ),
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Assigns the task to an EDITOR or OWNER of its project (in the personal space: the "
            "caller only)."
        ),
    )
    # Structure: where in the project the task goes (at the end of that list).
    section_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Creates the task in this section, and so in the section's project.",
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Creates the task as a subtask of this task, in its project and section (at most "
            "4 levels, 50 subtasks a task, 250 tasks a tree)."
        ),
    )


@strawberry.input(
    name="UpdateTaskInput",
    description="Omitted fields are left unchanged. A given list replaces the whole list.",
)
class UpdateTaskInput:
    """Changes to a task."""

    title: str | None = strawberry.field(default=None, description="A new title.")
    notes: str | None = strawberry.field(default=None, description="New notes.")
    priority: Priority | None = strawberry.field(default=None, description="A new priority.")
    tags: list[str] | None = strawberry.field(
        default=None,
        description=(
            "The new tag names (all of them), up to 20 of 1 to 50 characters; unknown names "
            "are created."
        ),
    )
    due_at: DateTime | None = strawberry.field(
        default=None, description="A new due date; relative reminders follow it."
    )
    clear_due_at: bool | None = strawberry.field(
        default=None, description="true removes the due date."
    )
    recurrence: RecurrenceInput | None = strawberry.field(
        default=None, description="A new recurrence, for the series from this instance on."
    )
    clear_recurrence: bool | None = strawberry.field(
        default=None, description="true makes the task a one-off."
    )
    reminders: list[ReminderInput] | None = strawberry.field(
        default=None, description="The new reminders (all of them), up to 10."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description=(
            "When given and not equal to the task's version, the update fails with CONFLICT."
        ),
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Assigns the task to an EDITOR or OWNER of its project (in the personal space: the "
            "caller only)."
        ),
    )
    clear_assignee: bool | None = strawberry.field(
        default=None, description="true unassigns the task."
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
            assignee_id=None if self.assignee_id is None else assignee_id(self.assignee_id),
            clear_assignee=bool(self.clear_assignee),
        )
