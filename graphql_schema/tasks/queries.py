"""Task queries: one task by id, and pages of tasks."""

from __future__ import annotations

import strawberry

from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.tasks.inputs import SortDirection, TaskFilter, TaskOrder
from graphql_schema.tasks.types import Task, TaskConnection
from taskstream.domain.errors import NotFound
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
