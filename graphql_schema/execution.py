"""Execution with a short path for plain leaf fields (an attribute read and a scalar's output).

A page of 50 tasks with tags and reminders is about 700 fields, and some 540 of them are
scalars or enums read straight off an object (Task.title, Reminder.state, Tag.name). For each,
graphql-core builds a resolve info, a Strawberry resolver wrapper fetches the attribute, and
`complete_value` walks the type wrappers: most of a page's CPU. The short path reads the
attribute and coerces it as `complete_leaf_value` would, and falls back to the full path for
anything else: a missing value of a non-null field, a value the scalar refuses, an error, a
field with arguments, or a schema run with resolver middleware, so errors and their paths come
out exactly as before. It sits in `execute_fields`, graphql-core's loop over an object's fields
(copied, awaitables handled as there), so that a plain leaf costs no path either, and the
fields are sorted into plain and other once per selection and execution, not per object.

An object whose selected fields are all plain leaves (a task's tags { id name }, its reminders)
is completed in one step as well: its dict built straight from the attributes, for a single
object or each object of a list, without graphql-core's per-item and per-field completion.
Anything the short path would not answer exactly as the full path (a null, an object of the
wrong type, a leaf that takes the full path) completes the whole value by the full path again,
which reads the same attributes: they are plain reads, so doing it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    """How to read one plain leaf field: the attribute, its scalar or enum, and its shape."""

    read: Callable[[Any, str], Any]
    attribute: str
    leaf: GraphQLLeafType
    nullable: bool
    # A list of non-null leaves ([Channel!]!): every item is coerced, none may be null.
    listed: bool

    def output(self, source: Any) -> Any:
        """The field's output value, or Undefined when only the full path may answer."""
        value = self.read(source, self.attribute)
        if value is None:
            return None if self.nullable else Undefined
        coerce = self.leaf.coerce_output_value
        if not self.listed:
            coerced = coerce(value)
            return Undefined if coerced is None else coerced
        if not isinstance(value, list | tuple):
            return Undefined
        items = [coerce(item) for item in value]
        return Undefined if None in items or Undefined in items else items


# What graphql-core passes to resolvers and type checks (the context is Strawberry's).
Info = GraphQLResolveInfo[Any]

# type name -> field name -> how to read it
PlainLeaves = dict[str, dict[str, PlainLeaf]]

_PLAIN_LEAVES: WeakKeyDictionary[GraphQLSchema, PlainLeaves] = WeakKeyDictionary()


def plain_leaves(schema: GraphQLSchema) -> PlainLeaves:
    """The fields of `schema` that only read an attribute and output a scalar or enum."""
    found = _PLAIN_LEAVES.get(schema)
    if found is not None:
        return found
    found = {}
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for name, field in graphql_type.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            nullable = not isinstance(field.type, GraphQLNonNull)
            leaf = field.type if nullable else field.type.of_type
            listed = isinstance(leaf, GraphQLList) and isinstance(leaf.of_type, GraphQLNonNull)
            if listed:
                leaf = leaf.of_type.of_type
            # is_basic_field: no resolver, no permission or other field extension.
            if (
                isinstance(definition, StrawberryField)
                and definition.is_basic_field
                and not field.args
                and getattr(field.resolve, "_is_default", False)
                and is_leaf_type(leaf)
            ):
                found.setdefault(graphql_type.name, {})[name] = PlainLeaf(
                    definition.default_resolver, definition.python_name, leaf, nullable, listed
                )
    _PLAIN_LEAVES[schema] = found
    return found


@dataclass(frozen=True, slots=True)
class PlainObjects:
    """How to complete an object, or a list of objects, whose selected fields are plain leaves."""

    # The object type's check that a value is one of it (Strawberry's isinstance), if any.
    is_type_of: Callable[[Any, Info], Any] | None
    # response name -> how to read it, in the selection's order
    fields: tuple[tuple[str, PlainLeaf], ...]
    listed: bool

    def complete(self, result: Any, info: Info) -> Any:
        """The completed value, or Undefined when only the full path may answer."""
        if not self.listed:
            return self.object(result, info)
        if not isinstance(result, list | tuple):
            return Undefined
        completed = []
        for item in result:
            value = self.object(item, info)
            if value is Undefined:
                return Undefined
            completed.append(value)
        return completed

    def object(self, source: Any, info: Info) -> Any:
        """One object's fields, or Undefined when only the full path may answer."""
        if source is None:
            return Undefined
        # Only a plain True: an awaitable or a refusal takes the full path, which says why.
        if self.is_type_of is not None and self.is_type_of(source, info) is not True:
            return Undefined
        values: dict[str, Any] = {}
        for name, leaf in self.fields:
            value = leaf.output(source)
            if value is Undefined:
                return Undefined
            values[name] = value
        return values


def _object_type(return_type: GraphQLOutputType) -> tuple[GraphQLObjectType | None, bool]:
    """The object type a field returns (itself or as the items of a list), and whether listed."""
    shape: Any = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    listed = isinstance(shape, GraphQLList)
    if listed:
        shape = shape.of_type
        if isinstance(shape, GraphQLNonNull):
            shape = shape.of_type
    return (shape if isinstance(shape, GraphQLObjectType) else None), listed


class PlainLeafExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # Resolver middleware must see every field: then every field takes the full path.
        self.plain_leaves = (
            {} if middleware and middleware.middlewares else plain_leaves(self.schema)
        )
        # (return type, id of the field list) -> (the list, kept alive so that its id is not
        # reused, and its plan or None); per execution, as graphql-core's collected subfields.
        self.plain_objects: dict[
            tuple[GraphQLOutputType, int], tuple[FieldDetailsList, PlainObjects | None]
        ] = {}
        # id of a grouped field set -> (the set, kept alive likewise, and how to read each).
        self.field_plans: dict[
            int, tuple[GroupedFieldSet, tuple[tuple[str, FieldDetailsList, PlainLeaf | None], ...]]
        ] = {}

    def plain_objects_of(
        self, return_type: GraphQLOutputType, field_details_list: FieldDetailsList
    ) -> PlainObjects | None:
        """The one-step completion of this field's objects, if all their fields are plain."""
        key = (return_type, id(field_details_list))
        cached = self.plain_objects.get(key)
        if cached is not None:
            return cached[1]
        plan = None
        object_type, listed = _object_type(return_type)
        leaves = self.plain_leaves.get(object_type.name) if object_type is not None else None
        if object_type is not None and leaves:
            grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
            fields = []
            for name, details in grouped.items():
                node = details[0].node
                leaf = leaves.get(node.name.value)
                if leaf is None or node.arguments:
                    break
                fields.append((name, leaf))
            else:
                if not deferred and fields:
                    plan = PlainObjects(object_type.is_type_of, tuple(fields), listed)
        self.plain_objects[key] = (field_details_list, plan)
        return plan

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: Info,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """Objects of plain leaves in one step when that is all there is to it; else the full
        path."""
        if self.plain_leaves and not isinstance(result, Exception):
            plan = self.plain_objects_of(return_type, field_details_list)
            if plan is not None:
                try:
                    completed = plan.complete(result, info)
                except Exception:  # the full path raises it again, with its location
                    completed = Undefined
                if completed is not Undefined:
                    return completed
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_fields`, with each plain leaf's value read in place: no
        path, resolve info or completion for it unless its value needs the full path."""
        leaves = self.plain_leaves.get(parent_type.name)
        if not leaves:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        cached = self.field_plans.get(id(grouped_field_set))
        if cached is None:
            cached = (grouped_field_set, _field_plan(leaves, grouped_field_set))
            self.field_plans[id(grouped_field_set)] = cached
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf in cached[1]:
                if leaf is not None:
                    try:
                        value = leaf.output(source_value)
                    except Exception:  # the full path raises it again, with its location
                        value = Undefined
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
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


def _field_plan(
    leaves: dict[str, PlainLeaf], grouped_field_set: GroupedFieldSet
) -> tuple[tuple[str, FieldDetailsList, PlainLeaf | None], ...]:
    """Each selected field with how to read it when it is a plain leaf without arguments."""
    plan = []
    for response_name, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        leaf = None if node.arguments else leaves.get(node.name.value)
        plan.append((response_name, field_details_list, leaf))
    return tuple(plan)


async def _awaited(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """The fields' results with their awaitables awaited together (as graphql-core does)."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results
