"""Task, Recurrence, Reminder and connection types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_schema.context import Info
from graphql_schema.node import (
    Channel,
    Node,
    PageInfo,
    Priority,
    ReminderState,
    RepeatFrom,
    TaskStatus,
)
from graphql_schema.scalars import DateTime
from graphql_schema.tags.types import Tag
from taskstream.domain.errors import InvalidInput
from taskstream.domain.model import Reminder as DomainReminder
from taskstream.domain.recurrence import Recurrence as DomainRecurrence
from taskstream.persistence import reads
from taskstream.persistence.reads import TaskPage, TaskRecord

UPCOMING_MAX = 100


@strawberry.type(name="Recurrence")
class Recurrence:
    """How a task repeats."""

    rule: str = strawberry.field(
        description=(
            "RFC 5545 RRULE value without the 'RRULE:' prefix, e.g. FREQ=WEEKLY;BYDAY=MO,WE."
        )
    )
    repeat_from: RepeatFrom
    timezone: str = strawberry.field(
        description="IANA zone the rule is evaluated in; wall-clock times survive DST changes."
    )
    skipped: list[DateTime] = strawberry.field(
        description="Occurrences that were skipped (EXDATE)."
    )
    _value: strawberry.Private[DomainRecurrence]
    _due_at: strawberry.Private[datetime | None]

    @strawberry.field(
        description="The next occurrences after this instance's due date, at most `limit`."
    )
    def upcoming(self, limit: int = 5) -> list[DateTime]:
        """Occurrences after this instance's due date."""
        if not 0 <= limit <= UPCOMING_MAX:
            raise InvalidInput("limit", f"must be 0 to {UPCOMING_MAX}")
        after = self._due_at or self._value.dtstart
        return list(self._value.upcoming(after, limit))

    @classmethod
    def of(cls, value: DomainRecurrence, due_at: datetime | None) -> Recurrence:
        """The GraphQL view of a recurrence of the instance due at `due_at`."""
        return cls(
            rule=value.rule,
            repeat_from=value.repeat_from,
            timezone=value.timezone,
            skipped=list(value.skipped),
            _value=value,
            _due_at=due_at,
        )


@strawberry.type(name="Reminder")
class Reminder(Node):
    """When and how a task reminds its owner."""

    id: strawberry.ID
    remind_at: DateTime
    before_due: int | None = strawberry.field(
        description="Minutes before the task's due date, when the reminder is relative to it."
    )
    channels: list[Channel]
    state: ReminderState
    sent_at: DateTime | None

    @classmethod
    def of(cls, reminder: DomainReminder) -> Reminder:
        """The GraphQL view of a reminder."""
        return cls(
            id=strawberry.ID(str(reminder.id)),
            remind_at=reminder.remind_at,
            before_due=reminder.before_due,
            channels=list(reminder.channels),
            state=reminder.state,
            sent_at=reminder.sent_at,
        )


@strawberry.type(name="Task")
class Task(Node):
    """Something to do, with its tags, due date, recurrence and reminders."""

    id: strawberry.ID
    title: str
    notes: str
    status: TaskStatus
    priority: Priority
    due_at: DateTime | None
    completed_at: DateTime | None
    recurrence: Recurrence | None
    series_id: strawberry.ID | None = strawberry.field(
        description="Shared by every instance of one recurring series; null for one-off tasks."
    )
    created_at: DateTime
    updated_at: DateTime
    version: int = strawberry.field(
        description="Increases by one on every change; used for optimistic concurrency."
    )
    _record: strawberry.Private[TaskRecord]

    @strawberry.field
    async def tags(self, info: Info) -> list[Tag]:
        """The task's tags in the order given."""
        records = await info.context.loaders.tags_by_task.load(self._record.id)
        return [Tag.from_record(r) for r in records]

    @strawberry.field
    async def reminders(self, info: Info) -> list[Reminder]:
        """The task's reminders in the order given."""
        found = await info.context.loaders.reminders_by_task.load(self._record.id)
        return [Reminder.of(r) for r in found]

    @classmethod
    def of(cls, record: TaskRecord) -> Task:
        """The GraphQL view of a task record."""
        return cls(
            id=strawberry.ID(str(record.id)),
            title=record.title,
            notes=record.notes,
            status=record.status,
            priority=record.priority,
            due_at=record.due_at,
            completed_at=record.completed_at,
            recurrence=Recurrence.of(record.recurrence, record.due_at)
            if record.recurrence is not None
            else None,
            series_id=strawberry.ID(str(record.series_id)) if record.series_id else None,
            created_at=record.created_at,
            updated_at=record.updated_at,
            version=record.version,
            _record=record,
        )


@strawberry.type(name="TaskEdge")
class TaskEdge:
    """A task and its cursor."""

    cursor: str
    node: Task


@strawberry.type(name="TaskConnection")
class TaskConnection:
    """A page of tasks."""

    edges: list[TaskEdge]
    page_info: PageInfo
    _page: strawberry.Private[TaskPage]

    @strawberry.field
    async def total_count(self, info: Info) -> int:
        """How many tasks match the filter, exactly."""
        async with info.context.services.engine.connect() as connection:
            return await reads.count_tasks(
                connection,
                user_id=info.context.require_user(),
                query=self._page.query,
                now=info.context.now,
            )

    @classmethod
    def of(cls, page: TaskPage) -> TaskConnection:
        """The GraphQL view of a page."""
        edges = [
            TaskEdge(cursor=c, node=Task.of(r))
            for r, c in zip(page.records, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            _page=page,
        )
