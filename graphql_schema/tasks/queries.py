"""Task queries: one task by id, and pages of tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types.nodes import SelectedField, Selection

from gateway_core.domain.model import RecurrenceRequest
from gateway_core.persistence import projects as project_reads
from gateway_core.persistence import reads
from graphql_schema.context import Info
from graphql_schema.ids import TaskId, parse_id
from graphql_schema.node import After, PageSize, RepeatFrom
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from graphql_schema.tasks.inputs import SortDirection, TaskFilter, TaskOrder
from graphql_schema.tasks.types import UPCOMING_MAX, Task, TaskConnection
from taskstream.errors import InvalidInput, NotFound
from taskstream.offload import off_loop


@strawberry.type
class TaskQueries:
    """Reads of the caller's tasks."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The caller's task with this id, or null (also for another user's task).",
    )
    async def task(self, info: Info, id: TaskId) -> Task | None:
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
        rule: Annotated[
            str, strawberry.argument(description="RFC 5545 RRULE without the 'RRULE:' prefix.")
        ],
        start: Annotated[
            DateTime | None, strawberry.argument(description="The first occurrence (DTSTART).")
        ] = None,
        timezone: Annotated[
            str | None, strawberry.argument(description="IANA zone to evaluate the rule in.")
        ] = None,
        repeat_from: Annotated[
            RepeatFrom, strawberry.argument(description="As in RecurrenceInput.")
        ] = RepeatFrom.DUE_DATE,
        limit: Annotated[
            int, strawberry.argument(description="How many occurrences, 1 to 100.")
        ] = 5,
    ) -> list[DateTime]:
        """Occurrences the rule would produce, the first one included."""
        if not 1 <= limit <= UPCOMING_MAX:
            raise InvalidInput("limit", f"must be 1 to {UPCOMING_MAX}")
        zone = timezone if timezone is not None else (await info.context.current_user()).timezone
        request = RecurrenceRequest(rule=rule, repeat_from=repeat_from, timezone=zone)
        # Validation and expansion are bounded by their work budget, not instant: off the loop.
        return await off_loop(_preview, request, start, info.context.now, limit)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "A page of the caller's tasks, filtered and ordered (by default DUE_AT ascending, "
            "undated last, then CREATED_AT), after a keyset cursor."
        ),
    )
    async def tasks(
        self,
        info: Info,
        filter: Annotated[
            TaskFilter | None,
            strawberry.argument(description="Which tasks; all of the caller's when omitted."),
        ] = None,
        order_by: Annotated[
            list[TaskOrder] | None,
            strawberry.argument(
                description="Ordering keys, the first most significant; at most 6."
            ),
        ] = None,
        first: PageSize = 50,
        after: After = None,
    ) -> TaskConnection:
        """A page of the caller's tasks, filtered and ordered, after a cursor."""
        query, order, first = page_arguments(filter, order_by, first)
        # The request's shared connection: the page's loaders take their turns on it after.
        async with info.context.reads.connection() as connection:
            if query.project_id is not None:
                # A project the caller is not in does not exist for them: NOT_FOUND, not [].
                await project_reads.project_of(
                    connection, info.context.require_user(), query.project_id
                )
            page = await reads.task_page(
                connection,
                user_id=info.context.require_user(),
                query=query,
                order=order,
                first=first,
                after=after,
                now=info.context.now,
            )
            await _prefetch_relations(info, connection, [r.id for r in page.records])
        return TaskConnection.of(page)


def page_arguments(
    filter: TaskFilter | None, order_by: list[TaskOrder] | None, first: int | None
) -> tuple[reads.TaskQuery, list[tuple[reads.SortField, bool]] | None, int]:
    """The read-side query, ordering and page size of `tasks`' arguments (the resolver's and
    the compiled reads' one translation, graphql_schema/sqljson.py)."""
    order = [(o.field, o.direction is SortDirection.DESC) for o in order_by] if order_by else None
    query = filter.to_query() if filter else reads.TaskQuery()
    return query, order, 50 if first is None else first


def _selects(selections: Sequence[Selection], path: tuple[str, ...]) -> bool:
    """Whether the selection set asks for the field at `path` (fragments included)."""
    for selection in selections:
        if not isinstance(selection, SelectedField):
            if _selects(selection.selections, path):
                return True
        elif selection.name == path[0] and (
            len(path) == 1 or _selects(selection.selections, path[1:])
        ):
            return True
    return False


async def _prefetch_relations(
    info: Info, connection: AsyncConnection, task_ids: list[uuid.UUID]
) -> None:
    """Load the page's tags and reminders now, on the page's connection, when selected.

    The DataLoaders are primed with them, so `Task.tags`/`Task.reminders` answer from memory:
    the page costs one connection checkout and three statements instead of three checkouts.
    """
    if not task_ids:
        return
    loaders, selected = info.context.loaders, info.selected_fields
    if _selects(selected, ("tasks", "edges", "node", "tags")):
        tags = await reads.tags_of_tasks(connection, task_ids)
        loaders.tags_by_task.prime_many({i: tags.get(i, []) for i in task_ids})
    if _selects(selected, ("tasks", "edges", "node", "reminders")):
        reminders = await reads.reminders_of_tasks(connection, task_ids)
        loaders.reminders_by_task.prime_many({i: reminders.get(i, []) for i in task_ids})


def _preview(
    request: RecurrenceRequest, start: datetime | None, now: datetime, limit: int
) -> list[datetime]:
    """The first ``limit`` occurrences of a rule not saved yet, its first one included."""
    recurrence = request.parse(dtstart=start, now=now, start_field="start")
    first = recurrence.dtstart
    return [first, *recurrence.upcoming(first, limit - 1)]
