"""Saved filter type, query and mutations; the saved JSON is checked against the API's own
TaskFilter and TaskOrder input types, so a saved filter always replays."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import strawberry
from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    coerce_input_value,
)
from graphql.utilities.validate_input_value import validate_input_value

from gateway_core.domain.saved_filters import FILTER_BYTES_MAX, ORDER_BYTES_MAX, check_size
from gateway_core.persistence import reads
from gateway_core.persistence import saved_filters as store
from gateway_core.persistence.saved_filters import SavedFilterRecord
from gateway_core.services import saved_filters as service
from graphql_schema.context import Info
from graphql_schema.cost import LIST_CAPS
from graphql_schema.ids import parse_id
from graphql_schema.node import Node
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import JSON
from graphql_schema.tasks.inputs import TaskFilter
from taskstream.errors import InvalidInput, NotFound

SavedFilterId = Annotated[
    strawberry.ID, strawberry.argument(description="The id of one of the caller's saved filters.")
]


@strawberry.type(
    name="SavedFilter", description="A named task filter and ordering the caller saved."
)
class SavedFilter(Node):
    """A named task filter and ordering."""

    id: strawberry.ID = strawberry.field(description="The saved filter's id.")
    name: str = strawberry.field(description="1 to 100 characters; unique per user.")
    filter: JSON = strawberry.field(description="The TaskFilter input as saved, as a JSON object.")
    order_by: JSON | None = strawberry.field(
        description="The orderBy list as saved, as a JSON array, or null."
    )

    @classmethod
    def of(cls, record: SavedFilterRecord) -> SavedFilter:
        """The GraphQL view of a saved filter."""
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            filter=cast(JSON, record.filter),
            order_by=cast(JSON | None, record.order_by),
        )


_UNKNOWN = re.compile(r"unknown field '(\w+)'")


def _capped(value: Any, key: str, where: str) -> None:
    """InvalidInput when a list is longer than a request may give (graphql_schema/cost.py)."""
    maximum = LIST_CAPS[key].maximum
    if isinstance(value, list) and len(value) > maximum:
        raise InvalidInput(where, f"may have at most {maximum} entries")


def _snake(name: str) -> str:
    """A TaskFilter field's Python name from its GraphQL one (dueFrom -> due_from)."""
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def _path(field: str, path: list[str | int]) -> str:
    return field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _coerce(value: Any, type_: GraphQLInputType, field: str) -> Any:
    """The value as the API would take it for `type_`; InvalidInput naming the first key (or
    index) that is unknown or has a bad value."""
    problems: list[tuple[str, str]] = []

    def on_error(error: GraphQLError, path: Any) -> None:
        where = list(path)
        unknown = _UNKNOWN.search(error.message)
        if unknown is not None:
            where.append(unknown.group(1))
        problems.append((_path(field, where), error.message))

    validate_input_value(value, type_, on_error, hide_suggestions=True)
    if problems:
        where, message = problems[0]
        raise InvalidInput(where, message)
    return coerce_input_value(value, type_)


def check_saved_filter(
    schema: GraphQLSchema, filter: Any, order_by: Any | None, now: datetime
) -> None:
    """InvalidInput unless `filter` is a TaskFilter and `orderBy` a [TaskOrder!] the `tasks`
    query accepts: unknown keys, wrong types, bad enum values, and the filter's own rules
    (text length, tag names, dueFrom after dueTo) are refused naming the key."""
    if not isinstance(filter, dict):
        raise InvalidInput("filter", "must be a JSON object with TaskFilter's fields")
    # Sizes first: nothing larger than the limits is walked.
    check_size(filter, "filter", FILTER_BYTES_MAX)
    if order_by is not None:
        check_size(order_by, "orderBy", ORDER_BYTES_MAX)
    task_filter = schema.get_type("TaskFilter")
    task_order = schema.get_type("TaskOrder")
    assert isinstance(task_filter, GraphQLInputObjectType)
    assert isinstance(task_order, GraphQLInputObjectType)
    coerced = _coerce(filter, task_filter, "filter")
    for key, value in coerced.items():
        if f"TaskFilter.{key}" in LIST_CAPS:
            _capped(value, f"TaskFilter.{key}", f"filter.{key}")
    if order_by is not None:
        if not isinstance(order_by, list):
            raise InvalidInput("orderBy", "must be a JSON array of TaskOrder objects, or null")
        _capped(order_by, "Query.tasks(orderBy)", "orderBy")
        _coerce(order_by, GraphQLList(GraphQLNonNull(task_order)), "orderBy")
    # The rules the tasks query checks when it runs, checked now so a saved filter replays.
    try:
        query = TaskFilter(**{_snake(k): v for k, v in coerced.items()}).to_query()
    except NotFound as error:
        raise InvalidInput("filter.projectId", "must be the id of a project") from error
    reads.filter_conditions(uuid.UUID(int=0), query, now=now)


@strawberry.type
class SavedFilterQueries:
    """The caller's saved filters."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The caller's saved filters (at most 50), by name.",
    )
    async def saved_filters(self, info: Info) -> list[SavedFilter]:
        """The caller's saved filters."""
        async with info.context.services.engine.connect() as connection:
            records = await store.saved_filters_of(connection, info.context.require_user())
        return [SavedFilter.of(r) for r in records]


@strawberry.type
class SavedFilterMutations:
    """Saving and deleting filters."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Saves a TaskFilter (as JSON) and an optional orderBy list under a name; a saved "
            "filter of the same name (case-insensitively) is saved over, keeping its id. Unknown "
            "keys or bad values are BAD_USER_INPUT naming the key; at most 4 KB of filter, 50 "
            "saved filters per user."
        ),
    )
    async def save_filter(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="1 to 100 characters.")],
        filter: Annotated[JSON, strawberry.argument(description="A TaskFilter as JSON.")],
        order_by: Annotated[
            JSON | None, strawberry.argument(description="A [TaskOrder!] as JSON, or null.")
        ] = None,
    ) -> SavedFilter:
        """Save a filter under a name."""
        now = info.context.now
        check_saved_filter(info.schema._schema, filter, order_by, now.astimezone(UTC))
        record = await service.save_filter(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            name=name,
            filter=cast(dict[str, Any], filter),
            order_by=cast(list[Any] | None, order_by),
            now=now,
        )
        return SavedFilter.of(record)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Deletes one of the caller's saved filters; returns its id.",
    )
    async def delete_saved_filter(self, info: Info, id: SavedFilterId) -> strawberry.ID:
        """Delete a saved filter."""
        deleted = await service.delete_saved_filter(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            filter_id=parse_id(id, "savedFilter"),
        )
        return strawberry.ID(str(deleted))
