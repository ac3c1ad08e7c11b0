"""Planned input conversion (graphql_schema/input_plans.py) builds what Strawberry's walk builds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryObjectDefinition, get_object_definition

from graphql_schema.input_plans import plan_inputs
from graphql_schema.node import Channel, Priority, RepeatFrom
from graphql_schema.schema import build_schema
from graphql_schema.tasks.inputs import (
    CreateTaskInput,
    RecurrenceInput,
    ReminderInput,
    TaskFilter,
    UpdateTaskInput,
)
from taskstream.settings import Settings

SCHEMA = build_schema(Settings(env="development", jwt_secret=SecretStr("k" * 40)))
DUE = datetime(2030, 1, 1, 9, tzinfo=UTC)
CASES: list[tuple[type, dict[str, Any]]] = [
    (CreateTaskInput, {"title": "t"}),
    (
        CreateTaskInput,
        {
            "title": "t",
            "notes": None,
            "priority": Priority.HIGH,
            "tags": ["a", "b"],
            "dueAt": DUE,
            "recurrence": {"rule": "FREQ=DAILY", "repeatFrom": RepeatFrom.COMPLETION},
            "reminders": [{"beforeDue": 10}, {"remindAt": DUE, "channels": [Channel.EMAIL]}],
            "projectId": "p1",
            "sectionId": None,
        },
    ),
    (UpdateTaskInput, {"title": "u", "tags": []}),
    (UpdateTaskInput, {"dueAt": None, "reminders": None, "recurrence": None}),
    (TaskFilter, {"tags": ["x"], "priorities": [Priority.LOW, Priority.HIGH]}),
    (ReminderInput, {"beforeDue": 5}),
]


@contextlib.contextmanager
def strawberrys_walk() -> Iterator[None]:
    """Strawberry's own conversion for the block: every planned hook taken off, then put back."""
    definitions = [
        concrete.definition
        for concrete in SCHEMA.schema_converter.type_map.values()
        if isinstance(concrete.definition, StrawberryObjectDefinition)
        and concrete.definition.is_input
    ]
    hooks = [definition.from_input for definition in definitions]
    for definition in definitions:
        definition.from_input = None
    try:
        yield
    finally:
        for definition, hook in zip(definitions, hooks, strict=True):
            definition.from_input = hook


def convert(value: dict[str, Any], type_: type) -> Any:
    """The input value converted as a resolver receives it."""
    return convert_argument(value, type_, SCHEMA.schema_converter.scalar_registry, SCHEMA.config)


def test_every_input_type_of_the_schema_is_planned() -> None:
    planned = set(plan_inputs(SCHEMA))
    for type_ in (CreateTaskInput, UpdateTaskInput, TaskFilter, RecurrenceInput, ReminderInput):
        assert get_object_definition(type_, strict=True).name in planned


@pytest.mark.parametrize(("type_", "value"), CASES)
def test_a_planned_input_equals_strawberrys_conversion(type_: type, value: dict[str, Any]) -> None:
    planned = convert(dict(value), type_)
    with strawberrys_walk():
        walked = convert(dict(value), type_)
    assert type(planned) is type(walked)
    assert vars(planned) == vars(walked)


def test_a_list_given_is_copied_not_shared() -> None:
    tags = ["a"]
    built = convert({"title": "t", "tags": tags}, CreateTaskInput)
    assert built.tags == tags
    assert built.tags is not tags
