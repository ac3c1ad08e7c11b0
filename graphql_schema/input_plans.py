"""Input objects built from a plan made once per input type, not by Strawberry's walk per value.

Strawberry converts an input value field by field on every request, resolving each field's
annotation again on the way (about 7 % of the gateway's CPU per createTask, bench/results/
issue19-perf.md, ninth session). Most fields need nothing done: graphql-core has already
coerced scalars and enums to the values Strawberry keeps, and a list of them is only copied.
A plan per input type tells those fields apart once; the others (nested inputs, IDs of the
relay kind, anything else) still go through Strawberry's own conversion
(`InputContext.convert`), so they convert exactly as before.

The plan is installed as the type's `from_input`, the hook Strawberry calls instead of its
walk. A type with a `Maybe` field keeps Strawberry's walk: a type with the hook is left out of
Strawberry's validation of nulls given for `Maybe` fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from strawberry.relay import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema import Schema
from strawberry.types.arguments import InputContext
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryObjectDefinition,
    StrawberryOptional,
    StrawberryType,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition

# What a field's value needs: nothing, a copy of its list, or Strawberry's conversion.
AS_IS, COPY_LIST, CONVERT = "as is", "copy list", "convert"
# The `from_input` functions made here (a schema built later finds its types planned).
_PLANS: set[Callable[..., Any]] = set()


@dataclasses.dataclass(frozen=True, slots=True)
class _FieldPlan:
    graphql_name: str
    python_name: str
    treatment: str
    type_: StrawberryType | type


def _without_optional(type_: StrawberryType | type) -> StrawberryType | type:
    return type_.of_type if isinstance(type_, StrawberryOptional) else type_


def _treatment(type_: StrawberryType | type, scalars: Mapping[object, Any]) -> str:
    """How a field of this (resolved) type is converted; nullable or not, as null stays null."""

    def plain(of: StrawberryType | type) -> bool:
        return of is not GlobalID and (
            isinstance(of, StrawberryEnumDefinition)
            or has_enum_definition(of)
            or is_scalar(of, scalars)
        )

    inner = _without_optional(type_)
    if plain(inner):
        return AS_IS
    if isinstance(inner, StrawberryList) and plain(_without_optional(inner.of_type)):
        return COPY_LIST
    return CONVERT


def _plan(definition: StrawberryObjectDefinition, schema: Schema) -> Callable[..., Any] | None:
    """The type's `from_input`, or None when a field needs Strawberry's own handling."""
    scalars = schema.schema_converter.scalar_registry
    names = schema.config.name_converter
    fields: list[_FieldPlan] = []
    for field in definition.fields:
        type_ = field.resolve_type(type_definition=definition)
        # A field without a Python name (none of ours) is left to Strawberry's walk too.
        if isinstance(type_, StrawberryMaybe) or field.python_name is None:
            return None
        fields.append(
            _FieldPlan(
                names.from_field(field), field.python_name, _treatment(type_, scalars), type_
            )
        )
    # As Strawberry's walk does: a field without a default is None unless given.
    unset: dict[str, Any] = {
        field.python_name: None
        for field in definition.fields
        if field.default_value is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    }

    def from_input(cls: type, value: Mapping[str, Any], context: InputContext) -> Any:
        """An instance of `cls` from its GraphQL input value."""
        kwargs: dict[str, Any] = dict(unset)
        for field in fields:
            if field.graphql_name not in value:
                continue
            given = value[field.graphql_name]
            if given is None or field.treatment == AS_IS:
                kwargs[field.python_name] = given
            elif field.treatment == COPY_LIST:
                # A copy: graphql-core gives every request that omits a value the same default.
                kwargs[field.python_name] = list(given)
            else:
                kwargs[field.python_name] = context.convert(given, field.type_, field.graphql_name)
        return cls(**kwargs)

    _PLANS.add(from_input)
    return from_input


def plan_inputs(schema: Schema) -> list[str]:
    """Give every input type of the schema that has none a planned `from_input`; their names.

    The definitions belong to the classes, so schemas built later in the process share them.
    """
    planned = []
    for concrete in schema.schema_converter.type_map.values():
        definition = concrete.definition
        if not isinstance(definition, StrawberryObjectDefinition) or not definition.is_input:
            continue
        if definition.from_input is not None:
            if definition.from_input in _PLANS:
                planned.append(definition.name)
            continue
        built = _plan(definition, schema)
        if built is not None:
            definition.from_input = built
            planned.append(definition.name)
    return planned
