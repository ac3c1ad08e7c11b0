"""Execution with a short path for plain leaf fields (an attribute read and a scalar's output).

A page of 50 tasks with tags and reminders is about 700 fields, and some 540 of them are
scalars or enums read straight off an object (Task.title, Reminder.state, Tag.name). For each,
graphql-core builds a resolve info, a Strawberry resolver wrapper fetches the attribute, and
`complete_value` walks the type wrappers: most of a page's CPU. The short path reads the
attribute and coerces it as `complete_leaf_value` would, and falls back to the full path for
anything else: a missing value of a non-null field, a value the scalar refuses, an error, a
field with arguments, or a schema run with resolver middleware, so errors and their paths come
out exactly as before.
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
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
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


class PlainLeafExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with the short path for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        # Resolver middleware must see every field: then every field takes the full path.
        self.plain_leaves = (
            {} if middleware and middleware.middlewares else plain_leaves(self.schema)
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        """The attribute's output value when that is all there is to it; else the full path."""
        fields = self.plain_leaves.get(parent_type.name)
        if fields is not None:
            node = field_details_list[0].node
            plain = fields.get(node.name.value)
            if plain is not None and not node.arguments:
                try:
                    value = plain.output(source)
                except Exception:  # the full path raises it again, with its location
                    value = Undefined
                if value is not Undefined:
                    return value
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
