"""Execution with short paths for plain fields and for trees of plain objects.

A page of 50 tasks with tags and reminders is about 700 fields. graphql-core completes every
object through several `complete_value` levels, `complete_object_value`, the type's
`is_type_of` and the collection of its subfields, then runs each field through
`execute_field` (a resolve info, the resolver through Strawberry's wrapper, `complete_value`
again): most of a page's CPU. What each selection needs is compiled once per execution and
selection (graphql_schema/plans.py: graphql-core's own field collection decides the selection,
so @skip/@include are already applied) and reused for every object of it:

- a plain leaf (an attribute read and a scalar's or enum's output) is read in place, in
  `execute_fields` (graphql-core's loop over an object's fields, copied, awaitables handled as
  there): no path, resolve info or completion for it;
- a plain resolver (sync, no arguments from the document, no extension) is called straight
  with what Strawberry's wrapper would give it, then completed as graphql-core does;
- a value of an object type, or a list of them (edges, an edge's node, a task's tags), is
  completed by running its fields' steps on each object, without graphql-core's per-object
  levels; its `is_type_of` (Strawberry's isinstance) is still asked.

Anything the short paths would not answer exactly takes graphql-core's path for that value
alone, at the point where it is met, so no resolver ever runs twice: a null or a refused item
in a list goes through `complete_list_item_value`, an object `is_type_of` refuses or a null
through `complete_value`, a leaf the short path refuses through `execute_field` (which reads the
same attribute again: a plain read), and the errors raised are caught with the same paths and
nullability as graphql-core's `execute_field` and list completion catch them. With resolver
middleware installed (Strawberry's extensions with a `resolve` hook) every field takes the
full path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLOutputType, Undefined, located_error
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graphql_schema.plans import (
    Info,
    PlainLeaf,
    SchemaPlans,
    Shape,
    Step,
    has_directives,
    object_type_of,
    plain_leaves,
    schema_plans,
    steps_of,
)
from graphql_schema.sqljson import (
    COMPILED_READS,
    CompiledRead,
    PagePlan,
    PageRequest,
    RawJSON,
    TasksField,
    compiled_read,
    converter,
    page_request,
    plans_of,
)

__all__ = ["PlainLeaf", "PlainLeafExecution", "plain_leaves"]


class PlainLeafExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short paths for plain fields and objects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # Resolver middleware must see every field: then every field takes the full path.
        self.plans: SchemaPlans | None = (
            None if middleware and middleware.middlewares else schema_plans(self.schema)
        )
        # (return type, id of the field list) -> (the list, kept alive so that its id is not
        # reused, and its shape or None); per execution, as graphql-core's collected subfields.
        self.shapes: dict[tuple[GraphQLOutputType, int], tuple[FieldDetailsList, Shape | None]] = {}
        # id of a grouped field set -> (the set, kept alive likewise, and its steps).
        self.steps: dict[int, tuple[GroupedFieldSet, tuple[Step, ...]]] = {}

    def execute_root_grouped_field_set(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        position_context: Any,
    ) -> Any:
        """A registered page document's answer as one SQL statement's JSON (a RawJSON, see
        graphql_schema/sqljson.py) when the compiler understands it; else the fields."""

        def general() -> Any:
            return super(PlainLeafExecution, self).execute_root_grouped_field_set(
                root_type, root_value, grouped_field_set, serially, position_context
            )

        plan = self.compiled_plan()
        return general() if plan is None else self.execute_compiled(plan, general)

    def compiled_plan(self) -> PagePlan | None:
        """The operation's compiled plan, when this request may answer by one (the HTTP view
        allows it for registered documents), the caller is signed in and no resolver
        middleware must see each field."""
        context = self.context_value
        request = getattr(context, "request", None)
        scope = getattr(request, "scope", None)
        if (
            self.plans is None
            or not isinstance(scope, dict)
            or not scope.get(COMPILED_READS)
            or getattr(context, "user_id", None) is None
        ):
            return None
        return plans_of(self.schema).plan(self.schema, self.operation, self.fragment_definitions)

    async def execute_compiled(self, plan: PagePlan, general: Callable[[], Any]) -> Any:
        """The plan's statement run on the request's read connection; the general engine when
        the request's arguments are anything but plain (it answers refusals as ever)."""
        context = self.context_value
        read = self.compiled_statement(plan)
        if read is None:
            result = general()
            return await result if self.is_awaitable(result) else result
        try:
            async with context.services.engine.connect() as connection:
                # The whole answer is one statement: autocommit spares the BEGIN and ROLLBACK
                # round trips of the request's shared read connection (whose transaction-local
                # settings the searches need, and a compiled read never runs).
                single = await connection.execution_options(isolation_level="AUTOCOMMIT")
                text = (await single.exec_driver_sql(read.sql, read.parameters)).scalar()
        except Exception as error:
            # As a failing `tasks` resolver: located at the first root field, whose non-null
            # type makes the whole data null.
            first = next(root for root in plan.fields if isinstance(root, TasksField))
            raise located_error(error, [first.node], [first.key]) from error
        if text is None and read.projects:
            # NOT_FOUND for a project the reader is not in: the general engine says it.
            result = general()
            return await result if self.is_awaitable(result) else result
        if not isinstance(text, str):
            raise RuntimeError("the compiled statement answered no JSON text")
        return RawJSON(text)

    def compiled_statement(self, plan: PagePlan) -> CompiledRead | None:
        """This request's statement (SQL and parameters), or None (general engine)."""
        context = self.context_value
        query_type = self.schema.query_type
        if query_type is None:
            return None
        definition = query_type.fields["tasks"]

        def arguments() -> dict[str, PageRequest] | None:
            convert = converter(self.schema._strawberry_schema)  # type: ignore[attr-defined]
            requests = {}
            for root in plan.fields:
                if isinstance(root, TasksField):
                    request = page_request(root, definition, self.variable_values, convert)
                    if request is None:
                        return None
                    requests[root.key] = request
            return requests

        plans = plans_of(self.schema)
        requests = plans.requests(plan, self.variable_values, arguments)
        if requests is None:
            return None
        return compiled_read(
            plans,
            plan,
            requests,
            user_id=context.user_id,
            now=context.now,
            dialect=context.services.engine.dialect,
        )

    def shape_of(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> Shape | None:
        """How this field's objects are completed by their steps, if they may be."""
        key = (return_type, id(field_details_list))
        cached = self.shapes.get(key)
        if cached is not None:
            return cached[1]
        shape = None
        object_type, listed, item_type = object_type_of(return_type)
        if object_type is not None and not has_directives(field_details_list):
            grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
            if not deferred:
                steps = self.steps_for(object_type, grouped)
                leaves = tuple((step.response_name, step.leaf) for step in steps if step.leaf)
                shape = Shape(
                    object_type,
                    object_type.is_type_of,
                    steps,
                    listed,
                    item_type,
                    leaves if leaves and len(leaves) == len(steps) else None,
                )
        self.shapes[key] = (field_details_list, shape)
        return shape

    def steps_for(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> tuple[Step, ...]:
        """The steps of a selection, made once per execution."""
        cached = self.steps.get(id(grouped_field_set))
        if cached is None:
            if self.plans is None:
                raise RuntimeError("a selection's steps asked for before the plans were made")
            cached = (grouped_field_set, steps_of(self.plans, parent_type, grouped_field_set))
            self.steps[id(grouped_field_set)] = cached
        return cached[1]

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Info,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Objects, and lists of them, by their steps when that is all there is to it; else
        graphql-core's completion."""
        if self.plans is not None and result is not None and not isinstance(result, Exception):
            shape = self.shape_of(return_type, field_details_list)
            if shape is not None:
                if not shape.listed:
                    if shape.accepts(result):
                        return self.run_steps(shape.object_type, result, path, shape.steps)
                elif isinstance(result, list | tuple):
                    return self.complete_shaped_list(shape, field_details_list, info, path, result)
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def complete_shaped_list(
        self,
        shape: Shape,
        field_details_list: FieldDetailsList,
        info: Info,
        path: Path,
        items: list[Any] | tuple[Any, ...],
    ) -> Any:
        """graphql-core's `complete_iterable_value` (without @stream, which has no shape), each
        item that is an object of the shape completed by its steps."""
        item_type = shape.item_type
        if item_type is None:
            raise RuntimeError("a list shape without its item type")
        is_awaitable = self.is_awaitable
        object_type, steps = shape.object_type, shape.steps
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        try:
            for index, item in enumerate(items):
                if is_awaitable(item):
                    item_path = path.add_key(index, None)
                    completed.append(
                        self.complete_awaitable_list_item_value(
                            item, item_type, field_details_list, info, item_path, None
                        )
                    )
                    awaitable_indices.append(index)
                elif not shape.accepts(item):
                    item_path = path.add_key(index, None)
                    if self.complete_list_item_value(
                        item, completed, item_type, field_details_list, info, item_path, None
                    ):
                        awaitable_indices.append(index)
                else:
                    # Plain leaves only: read in one go; run by the steps if one needs more.
                    if shape.leaves is not None:
                        value = shape.leaf_values(item)
                        if value is not Undefined:
                            completed.append(value)
                            continue
                    item_path = path.add_key(index, None)
                    try:
                        value = self.run_steps(object_type, item, item_path, steps)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                        value = None
                    else:
                        if is_awaitable(value):
                            value = self.awaited_item(
                                value, item_type, field_details_list, item_path
                            )
                            awaitable_indices.append(index)
                    completed.append(value)
        except Exception:
            if awaitable_indices:
                # As graphql-core: the other items' awaitables are settled, they may fail too.
                self.settle_in_background([completed[index] for index in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return _awaited_items(completed, awaitable_indices)

    async def awaited_item(
        self,
        value: Awaitable[Any],
        item_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        item_path: Path,
    ) -> Any:
        """An item's awaited fields, its error handled as graphql-core's list items."""
        try:
            return await value
        except Exception as raw_error:
            self.handle_field_error(raw_error, item_type, field_details_list, item_path)
            return None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_fields`, by the selection's steps."""
        if self.plans is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        steps = self.steps_for(parent_type, grouped_field_set)
        return self.run_steps(parent_type, source_value, path, steps, position_context)

    def run_steps(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        steps: tuple[Step, ...],
        position_context: Any = None,
    ) -> Any:
        """An object's fields: plain leaves read in place, plain resolvers called straight,
        the others by `execute_field`; awaitables gathered as graphql-core does."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for step in steps:
                response_name = step.response_name
                leaf = step.leaf
                if leaf is not None:
                    try:
                        value = leaf.output(source_value)
                    except Exception:  # the full path raises it again, with its location
                        value = Undefined
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                field_path = Path(path, response_name, type_name)
                if step.resolver is not None:
                    result = self.execute_plain_resolver(
                        parent_type, source_value, step, field_path
                    )
                else:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        step.field_details_list,
                        field_path,
                        position_context,
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                # As graphql-core: the other fields' awaitables are settled, they may fail too.
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _awaited(results, awaitable_fields)

    def execute_plain_resolver(
        self, parent_type: GraphQLObjectType, source: Any, step: Step, path: Path
    ) -> Any:
        """graphql-core's `execute_field` for a plain resolver or attribute: no argument values
        to read and no Strawberry wrapper; errors handled as there."""
        field = step.field
        resolver = step.resolver
        if field is None or resolver is None:
            raise RuntimeError("a resolver step without its field or resolver")
        return_type = field.type
        field_details_list = step.field_details_list
        info = self.build_resolve_info(field, step.nodes, parent_type, path)
        try:
            result = resolver.call(source, info)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, None
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, None
            )
            if self.is_awaitable(completed):
                return self.awaited_field(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    async def awaited_field(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        """A field's awaited completion, its error handled as graphql-core's `execute_field`."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None


async def _awaited(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """The fields' results with their awaitables awaited together (as graphql-core does)."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results


async def _awaited_items(completed: list[Any], awaitable_indices: list[int]) -> list[Any]:
    """The items with their awaitables awaited together (as graphql-core does)."""
    if len(awaitable_indices) == 1:
        index = awaitable_indices[0]
        completed[index] = await completed[index]
    else:
        awaited = await gather_with_cancel(*(completed[index] for index in awaitable_indices))
        for index, value in zip(awaitable_indices, awaited, strict=True):
            completed[index] = value
    return completed
