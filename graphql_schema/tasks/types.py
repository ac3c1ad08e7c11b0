"""Task, Recurrence, Reminder and connection types."""

from __future__ import annotations

from asyncio import Future
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import strawberry

from gateway_core.domain.model import Reminder as DomainReminder
from gateway_core.persistence import reads
from gateway_core.persistence.reads import TaskPage, TaskRecord
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
from graphql_schema.projects.types import Project, PublicUser, Section
from graphql_schema.scalars import DateTime
from graphql_schema.tags.types import Tag
from taskstream.errors import InvalidInput
from taskstream.offload import off_loop
from taskstream.recurrence import Recurrence as DomainRecurrence

UPCOMING_MAX = 100
_Record = TypeVar("_Record")
_View = TypeVar("_View")


@strawberry.type(name="Recurrence", description="How a recurring task repeats.")
class Recurrence:
    """How a task repeats."""

    rule: str = strawberry.field(
        description=(
            "RFC 5545 RRULE value without the 'RRULE:' prefix, e.g. FREQ=WEEKLY;BYDAY=MO,WE."
        )
    )
    repeat_from: RepeatFrom = strawberry.field(
        description="Whether the next due date follows the series' dates or the completion."
    )
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
    async def upcoming(
        self, limit: Annotated[int, strawberry.argument(description="How many, 0 to 100.")] = 5
    ) -> list[DateTime]:
        """Occurrences after this instance's due date."""
        if not 0 <= limit <= UPCOMING_MAX:
            raise InvalidInput("limit", f"must be 0 to {UPCOMING_MAX}")
        after = self._due_at or self._value.dtstart
        if limit == 0:
            return []
        # Bounded by the expansion's work budget, but that is up to ~0.1 s: off the event loop.
        return list(await off_loop(self._value.upcoming, after, limit))

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


@strawberry.type(
    name="Reminder", description="When and how a task reminds its owner; it fires once."
)
class Reminder(Node):
    """When and how a task reminds its owner."""

    id: strawberry.ID = strawberry.field(description="The reminder's id.")
    remind_at: DateTime = strawberry.field(description="When the reminder fires.")
    before_due: int | None = strawberry.field(
        description="Minutes before the task's due date, when the reminder is relative to it."
    )
    channels: list[Channel] = strawberry.field(description="Where it is delivered.")
    state: ReminderState = strawberry.field(description="Where the reminder is in its life.")
    sent_at: DateTime | None = strawberry.field(description="When it was sent; null until SENT.")

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


@strawberry.type(
    name="Task",
    description="Something to do, with its tags, due date, recurrence and reminders.",
)
class Task(Node):
    """Something to do, with its tags, due date, recurrence and reminders."""

    id: strawberry.ID = strawberry.field(description="The task's id.")
    title: str = strawberry.field(description="1 to 500 characters, trimmed.")
    notes: str = strawberry.field(description="Free text up to 20,000 characters; empty if none.")
    status: TaskStatus = strawberry.field(description="OPEN or DONE.")
    priority: Priority = strawberry.field(description="How urgent the task is.")
    due_at: DateTime | None = strawberry.field(description="When the task is due; null if never.")
    completed_at: DateTime | None = strawberry.field(
        description="When the task was completed; null while OPEN."
    )
    recurrence: Recurrence | None = strawberry.field(
        description="How the task repeats; null for a one-off task."
    )
    series_id: strawberry.ID | None = strawberry.field(
        description="Shared by every instance of one recurring series; null for one-off tasks."
    )
    created_at: DateTime = strawberry.field(description="When the task was created.")
    updated_at: DateTime = strawberry.field(description="When the task last changed.")
    version: int = strawberry.field(
        description="Increases by one on every change; used for optimistic concurrency."
    )
    _record: strawberry.Private[TaskRecord]

    # Sync resolvers that return an awaitable only when they must: a page primes the loaders
    # (queries.tasks), and a sync answer spares a coroutine per task and field.
    @strawberry.field(
        description="The task's tags, at most 20, in the order given.", graphql_type=list[Tag]
    )
    def tags(self, info: Info) -> list[Tag] | Awaitable[list[Tag]]:
        """The task's tags in the order given."""
        loaded = info.context.loaders.tags_by_task.load(self._record.id)
        if isinstance(loaded, Future) and loaded.done():
            return [Tag.from_record(r) for r in loaded.result()]
        return _converted(loaded, Tag.from_record)

    @strawberry.field(
        description="The task's reminders, at most 10, in the order given.",
        graphql_type=list[Reminder],
    )
    def reminders(self, info: Info) -> list[Reminder] | Awaitable[list[Reminder]]:
        """The task's reminders in the order given."""
        loaded = info.context.loaders.reminders_by_task.load(self._record.id)
        if isinstance(loaded, Future) and loaded.done():
            return [Reminder.of(r) for r in loaded.result()]
        return _converted(loaded, Reminder.of)

    @strawberry.field(
        description=(
            "The shared project holding the task; null for a task in the caller's personal "
            "space (the inbox)."
        )
    )
    async def project(self, info: Info) -> Project | None:
        """The task's project as the caller sees it, or null."""
        if self._record.project_id is None:
            return None
        record = await info.context.loaders.project_by_id.load(self._record.project_id)
        return None if record is None else Project.from_record(record)

    @strawberry.field(description="Who the task is assigned to; null when unassigned.")
    async def assignee(self, info: Info) -> PublicUser | None:
        """The task's assignee, or null."""
        if self._record.assignee_id is None:
            return None
        return _public(await info.context.loaders.user_by_id.load(self._record.assignee_id))

    @strawberry.field(description="Who created the task (its owner).")
    async def created_by(self, info: Info) -> PublicUser:
        """The task's creator."""
        found = _public(await info.context.loaders.user_by_id.load(self._record.user_id))
        if found is None:
            # The owner's account is gone while the task is still being read (deleteAccount
            # deletes the tasks it owns in the same transaction): the id alone stays true.
            return PublicUser(id=strawberry.ID(str(self._record.user_id)), email="")
        return found

    # Structure: section, parent, subtasks and position.
    @strawberry.field(
        description="The project's section holding the task; null for none (and in the inbox)."
    )
    async def section(self, info: Info) -> Section | None:
        """The task's section, or null."""
        if self._record.section_id is None:
            return None
        found = await info.context.loaders.section_by_id.load(self._record.section_id)
        return None if found is None else Section.of(found)

    @strawberry.field(description="The task this one is a subtask of; null for a top-level task.")
    async def parent(self, info: Info) -> Task | None:
        """The parent task, or null."""
        if self._record.parent_id is None:
            return None
        found = await info.context.loaders.visible_task_by_id.load(self._record.parent_id)
        return None if found is None else Task.of(found)

    @strawberry.field(
        description=(
            "The direct subtasks (at most 50) in manual order (by position). Tasks nest at most "
            "4 levels; completing a task completes its open subtasks, deleting it deletes them "
            "(each with its own event); moving it moves them along."
        )
    )
    async def subtasks(self, info: Info) -> list[Task]:
        """The direct subtasks in manual order (batched per request)."""
        found = await info.context.loaders.subtasks_by_parent.load(self._record.id)
        return [Task.of(r) for r in found]

    @strawberry.field(
        description=(
            "Fractional index: orders siblings (same project or inbox, section and parent) when "
            "orderBy is MANUAL; compare by code point."
        )
    )
    def position(self) -> str:
        """The task's position among its siblings."""
        return self._record.position

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


def _public(record: reads.UserRecord | None) -> PublicUser | None:
    return (
        None if record is None else PublicUser(id=strawberry.ID(str(record.id)), email=record.email)
    )


async def _converted(
    loaded: Awaitable[list[_Record]], view: Callable[[_Record], _View]
) -> list[_View]:
    """The views of records a DataLoader is still loading."""
    return [view(r) for r in await loaded]


@strawberry.type(name="TaskEdge", description="A task and its cursor.")
class TaskEdge:
    """A task and its cursor."""

    cursor: str = strawberry.field(description="Opaque keyset cursor of this task, for `after`.")
    node: Task = strawberry.field(description="The task.")


@strawberry.type(name="TaskConnection", description="A page of tasks.")
class TaskConnection:
    """A page of tasks."""

    edges: list[TaskEdge] = strawberry.field(description="The tasks of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Whether and where the list goes on.")
    _page: strawberry.Private[TaskPage]

    @strawberry.field(description="How many tasks match the filter in all pages, exactly.")
    async def total_count(self, info: Info) -> int:
        """How many tasks match the filter, exactly."""
        async with info.context.reads.connection() as connection:
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
