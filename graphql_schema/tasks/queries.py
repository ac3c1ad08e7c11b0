"""Task queries: one task by id, and pages of tasks."""

from __future__ import annotations

import strawberry

from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.node import RepeatFrom
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from graphql_schema.tasks.inputs import SortDirection, TaskFilter, TaskOrder
from graphql_schema.tasks.types import UPCOMING_MAX, Task, TaskConnection
from taskstream.domain.errors import InvalidInput, NotFound
from taskstream.domain.model import RecurrenceRequest
from taskstream.persistence import reads


@strawberry.type
class TaskQueries:
    """Reads of the caller's tasks."""

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        """The caller's task with this id, or null."""
        try:
            task_id = parse_id(id, "task")
        except NotFound:
            return None
        async with info.context.services.engine.connect() as connection:
            found = await reads.tasks_by_id(connection, info.context.require_user(), [task_id])
        record = found.get(task_id)
        return Task.of(record) if record else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "The first occurrences of a rule not saved yet: from `start` (its first occurrence "
            "after now when omitted), in `timezone` (the caller's by default)."
        ),
    )
    async def preview_recurrence(
        self,
        info: Info,
        rule: str,
        start: DateTime | None = None,
        timezone: str | None = None,
        repeat_from: RepeatFrom = RepeatFrom.DUE_DATE,
        limit: int = 5,
    ) -> list[DateTime]:
        """Occurrences the rule would produce, the first one included."""
        if not 1 <= limit <= UPCOMING_MAX:
            raise InvalidInput("limit", f"must be 1 to {UPCOMING_MAX}")
        zone = timezone if timezone is not None else (await info.context.current_user()).timezone
        request = RecurrenceRequest(rule=rule, repeat_from=repeat_from, timezone=zone)
        recurrence = request.parse(dtstart=start, now=info.context.now)
        first = recurrence.dtstart
        return [first, *recurrence.upcoming(first, limit - 1)]

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def tasks(
        self,
        info: Info,
        filter: TaskFilter | None = None,
        order_by: list[TaskOrder] | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> TaskConnection:
        """A page of the caller's tasks, filtered and ordered, after a cursor."""
        order = (
            [(o.field, o.direction is SortDirection.DESC) for o in order_by] if order_by else None
        )
        async with info.context.services.engine.connect() as connection:
            page = await reads.task_page(
                connection,
                user_id=info.context.require_user(),
                query=filter.to_query() if filter else reads.TaskQuery(),
                order=order,
                first=50 if first is None else first,
                after=after,
                now=info.context.now,
            )
        return TaskConnection.of(page)
