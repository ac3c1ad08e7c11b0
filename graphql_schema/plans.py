"""What the execution's short paths know of a schema and a selection, compiled before any value.

graphql_schema/execution.py runs these plans. Three kinds of field step:

- a plain leaf (`PlainLeaf`): an attribute read and a scalar's or enum's output, no resolver;
- a field without a resolver whose value is an object or a list (`PlainAttribute`): its
  attribute read as Strawberry's basic resolver reads it, then completed as graphql-core does;
- a plain resolver (`PlainResolver`): a sync Strawberry resolver with no arguments from the
  document and no field extension, permission or exception handler, called straight (with the
  `self`, root and info parameters Strawberry would give it) instead of through Strawberry's
  resolver wrapper, which builds an empty argument list and chains no extension for it;
- anything else, run by graphql-core's `execute_field` as ever.

And a shape (`Shape`) for a value of an object type, or a list of them, whose completion can
skip graphql-core's per-object `complete_value` levels, `complete_object_value` and the
collection of subfields: the object type must be concrete, its `is_type_of` absent or
Strawberry's own isinstance check (which reads no info), the field without directives (no
@stream) and its selection without @defer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLField,
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
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# What graphql-core passes to resolvers and type checks (the context is Strawberry's).
Info = GraphQLResolveInfo[Any]

# The qualified names of the functions Strawberry's converter makes: a field's resolver
# wrapper (nothing wrapped it since, e.g. the root guards) and an object's isinstance check.
STRAWBERRY_RESOLVER = "GraphQLCoreConverter.from_resolver.<locals>._resolver"
STRAWBERRY_BASIC_RESOLVER = "GraphQLCoreConverter.from_resolver.<locals>._get_basic_result"
STRAWBERRY_IS_TYPE_OF = (
    "GraphQLCoreConverter.from_object.<locals>._get_is_type_of.<locals>.is_type_of"
)


# A value of this exact type is its own output (a str for String and ID, a bool for Boolean).
AS_IS = object()


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    """How to read one plain leaf field: the attribute, its scalar or enum, and its shape."""

    read: Callable[[Any, str], Any]
    attribute: str
    leaf: GraphQLLeafType
    nullable: bool
    # A list of non-null leaves ([Channel!]!): every item is coerced, none may be null.
    listed: bool
    # Exact Python type -> AS_IS, or each member's output (an enum's members, computed once
    # by its own coerce_output_value): what the leaf's coercion answers, without calling it.
    known: dict[type, Any]

    def output(self, source: Any) -> Any:
        """The field's output value, or Undefined when only the full path may answer."""
        value = self.read(source, self.attribute)
        if value is None:
            return None if self.nullable else Undefined
        if not self.listed:
            return self.coerce(value)
        if not isinstance(value, list | tuple):
            return Undefined
        items = [self.coerce(item) for item in value]
        return Undefined if None in items or Undefined in items else items

    def coerce(self, value: Any) -> Any:
        """The leaf's output of one value; Undefined for a null, which needs the full path."""
        known = self.known.get(value.__class__)
        if known is AS_IS:
            return value
        if known is not None:
            return known[value]
        coerced = self.leaf.coerce_output_value(value)
        return Undefined if coerced is None else coerced


def _known_outputs(leaf: GraphQLLeafType) -> dict[type, Any]:
    """The Python types whose output the leaf's coercion is known to answer (see PlainLeaf)."""
    coerce = leaf.coerce_output_value
    if coerce is serialize_string or coerce is serialize_id:
        return {str: AS_IS}
    if coerce is serialize_boolean:
        return {bool: AS_IS}
    wrapped = getattr(leaf, "wrapped_cls", None)  # Strawberry's enum type
    if (
        isinstance(leaf, GraphQLEnumType)
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        try:
            return {wrapped: {member: coerce(member) for member in wrapped}}
        except Exception:  # the full path says why
            return {}
    return {}


@dataclass(frozen=True, slots=True)
class PlainResolver:
    """How to call a sync resolver without arguments as Strawberry's wrapper would."""

    function: Callable[..., Any]
    definition: StrawberryField
    info_class: Callable[..., Any]
    # Whether it takes the source as `self`; the names of its root/parent and info parameters.
    takes_self: bool
    source_names: tuple[str, ...]
    info_name: str | None

    def call(self, source: Any, info: Info) -> Any:
        """The resolver's result (or awaitable) for `source`."""
        kwargs: dict[str, Any] = dict.fromkeys(self.source_names, source)
        if self.info_name is not None:
            kwargs[self.info_name] = self.info_class(_raw_info=info, _field=self.definition)
        if self.takes_self:
            return self.function(source, **kwargs)
        return self.function(**kwargs)


@dataclass(frozen=True, slots=True)
class PlainAttribute:
    """How to read a field with no resolver whose value is not a leaf (an edge's node)."""

    read: Callable[[Any, str], Any]
    attribute: str

    def call(self, source: Any, info: Info) -> Any:
        """The attribute's value, as Strawberry's basic-field resolver reads it."""
        return self.read(source, self.attribute)


@dataclass(frozen=True, slots=True)
class Step:
    """One selected field of an object: how the short path runs it."""

    response_name: str
    field_details_list: FieldDetailsList
    # Set for a plain leaf, else for a plain resolver, else neither (graphql-core runs it).
    leaf: PlainLeaf | None
    resolver: PlainResolver | PlainAttribute | None
    field: GraphQLField | None
    nodes: list[FieldNode]


@dataclass(frozen=True, slots=True)
class Shape:
    """A value of `object_type`, or a list of them, completed without graphql-core's levels."""

    object_type: GraphQLObjectType
    # Strawberry's isinstance check (it ignores the info), if the type has one.
    is_type_of: Callable[[Any, Any], Any] | None
    steps: tuple[Step, ...]
    listed: bool
    # The list's item type as declared (Label or Label!), for the full path of one item.
    item_type: GraphQLOutputType | None
    # When every step is a plain leaf (a task's tags, its reminders): response name -> leaf.
    leaves: tuple[tuple[str, PlainLeaf], ...] | None

    def leaf_values(self, source: Any) -> Any:
        """An object of plain leaves only, or Undefined when a leaf needs its full path."""
        if self.leaves is None:
            raise RuntimeError("leaf values asked of a shape that is not all leaves")
        values: dict[str, Any] = {}
        try:
            for response_name, leaf in self.leaves:
                value = leaf.output(source)
                if value is Undefined:
                    return Undefined
                values[response_name] = value
        except Exception:  # the full path raises it again, with its location
            return Undefined
        return values

    def accepts(self, value: Any) -> bool:
        """Whether `value` is an object this shape completes (not null, of the type)."""
        if value is None:
            return False
        return self.is_type_of is None or self.is_type_of(value, None) is True


@dataclass(frozen=True, slots=True)
class SchemaPlans:
    """What the short paths know of one schema's types and fields."""

    # type name -> field name -> how to read it
    leaves: dict[str, dict[str, PlainLeaf]]
    # type name -> field name -> how to call it
    resolvers: dict[str, dict[str, PlainResolver | PlainAttribute]]


_SCHEMA_PLANS: WeakKeyDictionary[GraphQLSchema, SchemaPlans] = WeakKeyDictionary()


def schema_plans(schema: GraphQLSchema) -> SchemaPlans:
    """The plain leaves and plain resolvers of `schema` (found once per schema)."""
    found = _SCHEMA_PLANS.get(schema)
    if found is None:
        found = SchemaPlans(plain_leaves(schema), _plain_resolvers(schema))
        _SCHEMA_PLANS[schema] = found
    return found


def plain_leaves(schema: GraphQLSchema) -> dict[str, dict[str, PlainLeaf]]:
    """The fields of `schema` that only read an attribute and output a scalar or enum."""
    found: dict[str, dict[str, PlainLeaf]] = {}
    for graphql_type in _object_types(schema):
        for name, field in graphql_type.fields.items():
            definition = _definition(field)
            nullable = not isinstance(field.type, GraphQLNonNull)
            leaf = field.type if nullable else field.type.of_type
            listed = isinstance(leaf, GraphQLList) and isinstance(leaf.of_type, GraphQLNonNull)
            if listed:
                leaf = leaf.of_type.of_type
            # is_basic_field: no resolver, no permission or other field extension.
            if (
                definition is not None
                and definition.is_basic_field
                and not field.args
                and getattr(field.resolve, "_is_default", False)
                and is_leaf_type(leaf)
            ):
                found.setdefault(graphql_type.name, {})[name] = PlainLeaf(
                    definition.default_resolver,
                    definition.python_name,
                    leaf,
                    nullable,
                    listed,
                    _known_outputs(leaf),
                )
    return found


def _plain_resolvers(
    schema: GraphQLSchema,
) -> dict[str, dict[str, PlainResolver | PlainAttribute]]:
    """The fields of `schema` whose resolver may be called without Strawberry's wrapper, and
    those without a resolver (their attribute is read as Strawberry's basic resolver reads it)."""
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if strawberry_schema is None or strawberry_schema.schema_converter.exception_handlers:
        return {}  # exception handlers wrap every resolver: the wrapper must run
    info_class = strawberry_schema.config.info_class
    found: dict[str, dict[str, PlainResolver | PlainAttribute]] = {}
    for graphql_type in _object_types(schema):
        for name, field in graphql_type.fields.items():
            definition = _definition(field)
            if (
                definition is not None
                and definition.is_basic_field
                and not field.args
                and getattr(field.resolve, "__qualname__", None) == STRAWBERRY_BASIC_RESOLVER
            ):
                found.setdefault(graphql_type.name, {})[name] = PlainAttribute(
                    definition.default_resolver, definition.python_name
                )
                continue
            if (
                definition is None
                or definition.base_resolver is None
                or definition.extensions
                or definition.arguments
                or definition.is_async
                or field.args
                or getattr(field.resolve, "__qualname__", None) != STRAWBERRY_RESOLVER
            ):
                continue
            resolver = definition.base_resolver
            function = resolver.wrapped_func
            if not callable(function):
                continue  # Strawberry's wrapper raises its own error for it
            sources = (resolver.parent_parameter, resolver.root_parameter)
            info = resolver.info_parameter
            found.setdefault(graphql_type.name, {})[name] = PlainResolver(
                function,
                definition,
                info_class,
                resolver.self_parameter is not None,
                tuple(parameter.name for parameter in sources if parameter is not None),
                info.name if info is not None else None,
            )
    return found


def _object_types(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    return [
        graphql_type
        for graphql_type in schema.type_map.values()
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__")
    ]


def _definition(field: GraphQLField) -> StrawberryField | None:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return definition if isinstance(definition, StrawberryField) else None


def steps_of(
    plans: SchemaPlans, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
) -> tuple[Step, ...]:
    """Each selected field of `parent_type` with how the short path runs it."""
    leaves = plans.leaves.get(parent_type.name, {})
    resolvers = plans.resolvers.get(parent_type.name, {})
    steps = []
    for response_name, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        name = node.name.value
        plain = not node.arguments and not any(
            d.fragment_variable_values for d in field_details_list
        )
        leaf = leaves.get(name) if plain else None
        resolver = resolvers.get(name) if plain and leaf is None else None
        steps.append(
            Step(
                response_name,
                field_details_list,
                leaf,
                resolver,
                parent_type.fields.get(name),
                [details.node for details in field_details_list],
            )
        )
    return tuple(steps)


def object_type_of(return_type: GraphQLOutputType) -> tuple[GraphQLObjectType | None, bool, Any]:
    """The concrete object type a field returns (itself or as a list's items), whether listed,
    and the list's item type as declared."""
    shape: Any = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    listed = isinstance(shape, GraphQLList)
    item_type = None
    if listed:
        shape = item_type = shape.of_type
        if isinstance(shape, GraphQLNonNull):
            shape = shape.of_type
    if not isinstance(shape, GraphQLObjectType):
        return None, listed, item_type
    is_type_of = shape.is_type_of
    if (
        is_type_of is not None
        and getattr(is_type_of, "__qualname__", None) != STRAWBERRY_IS_TYPE_OF
    ):
        return None, listed, item_type  # it may read the info or answer an awaitable
    return shape, listed, item_type


def has_directives(field_details_list: FieldDetailsList) -> bool:
    """Whether any node of the field carries a directive (@stream and the like)."""
    return any(details.node.directives for details in field_details_list)
