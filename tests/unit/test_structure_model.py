"""The structure in the domain and the cost model: a move's one event, nested subtasks priced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from graphql import GraphQLSchema, parse

from gateway_core.domain.model import Place, Task, TaskUpdated
from gateway_core.domain.sections import SECTIONS_MAX, SUBTASKS_MAX, clean_section_name
from graphql_schema.cost import operation_cost
from graphql_schema.schema import build_schema
from taskstream.errors import Conflict, InvalidInput
from taskstream.settings import Settings

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(Settings())._schema


def cost(schema: GraphQLSchema, query: str) -> int:
    return operation_cost(schema, parse(query), {}).requested


def test_nested_subtasks_multiply_by_the_subtask_limit(schema: GraphQLSchema) -> None:
    one = "{ tasks(first: 10) { edges { node { subtasks { id } } } } }"
    assert cost(schema, one) == 2 + 10 * (2 + SUBTASKS_MAX)
    two = "{ tasks(first: 2) { edges { node { subtasks { subtasks { id } } } } } }"
    assert cost(schema, two) == 2 + 2 * (2 + SUBTASKS_MAX * (1 + SUBTASKS_MAX))
    # Three levels under a page are beyond any budget: refused before running.
    three = "{ tasks(first: 5) { edges { node { subtasks { subtasks { subtasks { id } } } } } } }"
    assert cost(schema, three) > Settings().graphql_max_cost


def test_sections_are_priced_by_their_limit(schema: GraphQLSchema) -> None:
    assert cost(schema, "{ projects { sections { id } } }") == 200 * (1 + SECTIONS_MAX)


def _task() -> Task:
    task = Task.create(user_id=uuid.uuid4(), title="t", now=NOW, position="a0")
    task.events.clear()
    return task


def test_a_move_raises_one_update_with_the_old_and_new_place() -> None:
    task = _task()
    project, section = uuid.uuid4(), uuid.uuid4()
    task.move_to(Place(task.user_id, project, section, None, "a1"), now=NOW, expected_version=1)
    assert len(task.events) == 1 and isinstance(task.events[0], TaskUpdated)
    assert task.events[0].changes == {
        "project_id": (None, project),
        "section_id": (None, section),
        "position": ("a0", "a1"),
    }
    assert task.version == 2


def test_staying_in_place_raises_nothing_and_a_stale_version_conflicts() -> None:
    task = _task()
    task.move_to(Place(task.user_id, None, None, None, "a0"), now=NOW)
    assert task.events == [] and task.version == 1
    with pytest.raises(Conflict, match="expectedVersion"):
        task.move_to(Place(task.user_id, None, None, None, "a1"), now=NOW, expected_version=7)
    assert task.position == "a0"


def test_changing_only_the_owner_is_a_change() -> None:
    task = _task()
    other = uuid.uuid4()
    task.move_to(Place(other, None, None, None, "a0"), now=NOW)
    assert task.user_id == other and len(task.events) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_section_names_are_bounded(name: str) -> None:
    with pytest.raises(InvalidInput, match=r"^name:"):
        clean_section_name(name)
    assert clean_section_name("  a   b ") == "a b"
