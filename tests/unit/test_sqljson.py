"""Which operations the page compiler takes (graphql_schema/sqljson.py), and how the HTTP
view sends the JSON text PostgreSQL built. What the compiled statements answer is compared
with the general engine on real PostgreSQL in tests/e2e/test_compiled_pages.py."""

from __future__ import annotations

import json

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from pydantic import SecretStr

from bench.page_peers import GATEWAY_PAGE
from bench.shared_projects import PROJECT_PAGE
from gateway.graphql_http import graphql_response
from graphql_schema.persisted import DEFAULT_MANIFEST
from graphql_schema.schema import build_schema
from graphql_schema.sqljson import CompiledPlans, PagePlan, RawJSON, compile_operation
from taskstream.settings import Settings

SCHEMA = build_schema(
    Settings(database_url="postgresql://unused/unused", jwt_secret=SecretStr("k" * 40))
)._schema
NODE = "edges { node { id title } }"


def _compiled(text: str) -> PagePlan | None:
    document = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return compile_operation(SCHEMA, operation, fragments)


def _web_task_lists() -> list[str]:
    manifest: dict[str, str] = json.loads(DEFAULT_MANIFEST.read_text())
    return [text for text in manifest.values() if text.startswith("query Tasks(")]


@pytest.mark.parametrize(
    "text",
    [
        GATEWAY_PAGE,
        PROJECT_PAGE,
        *_web_task_lists(),
        f"{{ a: tasks(first: 2) {{ {NODE} }} b: tasks {{ totalCount }} __typename }}",
        "{ tasks { edges { node { ...F ... on Task { id } } } } } fragment F on Task { id title }",
    ],
)
def test_page_documents_compile(text: str) -> None:
    assert _compiled(text) is not None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"mutation {{ deleteTask(id: 1) {{ {NODE} }} }}", "not a query"),
        (f"{{ tasks {{ {NODE} }} me {{ id }} }}", "another root field"),
        ("{ tasks { edges { node { createdBy { id } } } } }", "a field it does not know"),
        ("{ tasks { edges { node { id @include(if: true) } } } }", "a directive"),
        ("{ tasks { edges { node { ...F } } } } fragment F on Tag { id }", "another type"),
        ("{ tasks { edges { node { tags { id } tags { name } } } } }", "a key twice, differing"),
        ("{ __x: tasks { totalCount } }", "a reserved response name"),
        ("{ tasks { edges { node { recurrence { upcoming } } } } }", "a resolver with work"),
    ],
)
def test_anything_else_is_left_to_the_general_engine(text: str, why: str) -> None:
    assert _compiled(text) is None, why


def test_plans_are_kept_per_operation_and_bounded() -> None:
    plans = CompiledPlans(size=2)
    documents = [parse(f"{{ tasks(first: {n}) {{ totalCount }} }}") for n in (1, 2, 3)]
    operations = [d.definitions[0] for d in documents]
    assert all(isinstance(o, OperationDefinitionNode) for o in operations)
    first = plans.plan(SCHEMA, operations[0], {})  # type: ignore[arg-type]
    assert first is not None
    assert plans.plan(SCHEMA, operations[0], {}) is first  # type: ignore[arg-type]
    for operation in operations[1:]:
        plans.plan(SCHEMA, operation, {})  # type: ignore[arg-type]
    assert len(plans._plans) == 2


def test_the_view_splices_the_json_text_beside_the_other_members() -> None:
    text = '{"tasks" : {"edges" : [{"node" : {"title" : "é \\"q\\""}}]}}'
    response = graphql_response(
        {"data": RawJSON(text), "extensions": {"cost": {"requested": 3, "budget": 9}}},
        media_type="application/json",
        status=200,
    )
    body = json.loads(bytes(response.body))
    assert list(body) == ["data", "extensions"]
    assert body["data"] == json.loads(text)
    assert body["extensions"] == {"cost": {"requested": 3, "budget": 9}}
    alone = json.loads(
        bytes(
            graphql_response(
                {"data": RawJSON("{}")}, media_type="application/json", status=200
            ).body
        )
    )
    assert alone == {"data": {}}
