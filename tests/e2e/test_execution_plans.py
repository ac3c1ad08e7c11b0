"""Every registered web query answers the same JSON text with the execution plans as with
Strawberry's own execution (graphql_schema/execution.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.graphql_app import GraphQLApp
from graphql_schema.execution import PlainLeafExecution
from graphql_schema.persisted import DEFAULT_MANIFEST
from graphql_schema.sqljson import PagePlan
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }"


class GeneralOnly(PlainLeafExecution):
    """The gateway's execution without the compiled reads (graphql_schema/sqljson.py), whose
    JSON is PostgreSQL's text (same values, other spacing): the plans are compared here."""

    def compiled_plan(self) -> PagePlan | None:
        """Never compiled."""
        return None


def _schema(app: Starlette) -> Any:
    """The Strawberry schema the app's /graphql route serves."""
    for route in app.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, GraphQLApp):
            return route.endpoint.schema
    raise AssertionError("no GraphQL route")


def _queries(texts: list[str] | None = None) -> list[tuple[str, OperationDefinitionNode]]:
    """The query documents (the manifest's by default) with their operation (subscriptions
    and mutations change or wait on state: they are not run twice here)."""
    if texts is None:
        manifest: dict[str, str] = json.loads(DEFAULT_MANIFEST.read_text())
        texts = list(manifest.values())
    found = []
    for text in texts:
        for definition in parse(text).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation is OperationType.QUERY
            ):
                found.append((text, definition))
    return found


async def _seed(alice: GraphQLClient) -> dict[str, Any]:
    """A project with a section, tasks with tags, reminders, a recurrence and a subtask."""
    project = (await alice.data('mutation { createProject(name: "Plans") { id } }'))[
        "createProject"
    ]["id"]
    section = (
        await alice.data(
            'mutation($p: ID!) { createSection(projectId: $p, name: "Doing") { id } }',
            {"p": project},
        )
    )["createSection"]["id"]
    full = {
        "title": "Everything",
        "notes": "with notes",
        "priority": "HIGH",
        "tags": ["home", "work"],
        "dueAt": "2030-01-02T09:00:00+00:00",
        "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO", "timezone": "Europe/Paris"},
        "reminders": [
            {"beforeDue": 30, "channels": ["IN_APP", "EMAIL"]},
            {"remindAt": "2030-01-01T08:00:00+00:00"},
        ],
    }
    task = (await alice.data(CREATE, {"input": full}))["createTask"]["id"]
    await alice.data(CREATE, {"input": {"title": "Sub", "parentId": task}})
    await alice.data(CREATE, {"input": {"title": "In project", "projectId": project}})
    await alice.data(CREATE, {"input": {"title": "Sectioned", "sectionId": section}})
    for number in range(5):
        await alice.data(CREATE, {"input": {"title": f"Plain {number}", "tags": ["home"]}})
    return {"task": task, "project": project}


def _variables(operation: OperationDefinitionNode, seeded: dict[str, Any]) -> dict[str, Any]:
    """Values for the operation's variables, by name."""
    by_name: dict[str, Any] = {
        "id": seeded["task"],
        "taskId": seeded["task"],
        "projectId": seeded["project"],
        "dated": {},
        "repeating": {},
        "first": 20,
        "rule": "FREQ=DAILY",
        "start": "2030-01-01T09:00:00+00:00",
        "repeatFrom": "DUE_DATE",
        "limit": 5,
    }
    return {
        variable.variable.name.value: by_name[variable.variable.name.value]
        for variable in operation.variable_definitions or ()
        if variable.variable.name.value in by_name
    }


async def test_every_registered_query_answers_as_strawberry_s_execution(
    app: Starlette, http: httpx.AsyncClient, alice: GraphQLClient
) -> None:
    seeded = await _seed(alice)
    schema = _schema(app)
    queries = _queries()
    assert len(queries) >= 20  # the manifest is there and holds the web app's reads
    headers = {"Authorization": f"Bearer {alice.token}"}
    answered = 0
    try:
        for text, operation in queries:
            body = {
                "query": text,
                "variables": _variables(operation, seeded),
                "operationName": operation.name.value if operation.name else None,
            }
            answers = []
            for execution in (GeneralOnly, StrawberryGraphQLCoreExecutionContext):
                schema.execution_context_class = execution
                response = await http.post("/graphql", json=body, headers=headers)
                answers.append((response.status_code, response.text))
            assert answers[0] == answers[1], operation.name
            answered += "errors" not in json.loads(answers[0][1])
    finally:
        schema.execution_context_class = PlainLeafExecution
    # Those the gateway answers alone run without an error (the notifications' and audit
    # trail's reads need their services, absent here), so their data is compared, not refusals.
    assert answered >= 27, answered
