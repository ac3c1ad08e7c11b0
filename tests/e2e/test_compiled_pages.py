"""Registered page documents answered by one SQL statement (graphql_schema/sqljson.py) answer
exactly what the general engine answers: same status, same JSON once parsed, key order
included; refusals stay on the general path with their codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette

from bench.page_peers import GATEWAY_PAGE
from bench.shared_projects import PROJECT_PAGE
from gateway.app import create_app
from gateway_core.persistence import reads
from graphql_schema import execution
from graphql_schema.execution import PlainLeafExecution
from graphql_schema.persisted import DEFAULT_MANIFEST, sha256_hex
from graphql_schema.sqljson import (
    CompiledRead,
    PagePlan,
    compiled_read,
    page_request,
    plans_of,
)
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.e2e.test_execution_plans import GeneralOnly, _queries, _schema
from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

CREATE = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }"
NODE = "id title notes status priority dueAt completedAt seriesId version createdAt updatedAt"
REMINDER = "id remindAt beforeDue channels state sentAt __typename"
# Documents beside the web app's and the benchmark's: every part the compiler accepts, with
# aliases, fragments, __typename, cursors of each ordering and paging variables.
EXTRA = [
    "query Paged($first: Int, $after: String, $orderBy: [TaskOrder!], $filter: TaskFilter) {"
    " __typename tasks(first: $first, after: $after, orderBy: $orderBy, filter: $filter) {"
    f" __typename totalCount pageInfo {{ hasNextPage endCursor __typename }}"
    f" edges {{ __typename cursor node {{ __typename {NODE} position"
    f" tags {{ id name __typename }} reminders {{ {REMINDER} }} }} }} }} }}",
    "query Two($a: TaskFilter, $b: TaskFilter) {"
    " open: tasks(filter: $a, first: 7) { pageInfo { endCursor } edges { node { ...Row } } }"
    " done: tasks(filter: $b, first: 3, orderBy: [{field: PRIORITY, direction: DESC}]) {"
    "  edges { cursor node { ...Row id } } totalCount } }"
    " fragment Row on Task { id title ... on Task { dueAt tags { name } } }",
    "query Manual { tasks(orderBy: [{field: MANUAL}], first: 20) { edges { node { title"
    " section { id name position __typename } subtasks { id title position } } } } }",
    # Text cursors (titles with quotes, control characters, accents, emoji) page through.
    "query ByTitle($after: String, $first: Int, $orderBy: [TaskOrder!], $filter: TaskFilter) {"
    " tasks(orderBy: $orderBy, first: $first, after: $after, filter: $filter) {"
    " pageInfo { endCursor hasNextPage } edges { cursor node { title } } } }",
    # Not compiled: a field it does not know, a directive.
    "query Other { tasks(first: 5) { edges { node { id createdBy { email } } } } }",
    "query Reserved { __TASKSTREAM_PAGE_0__: tasks(first: 3) { totalCount } }",
    "query Skipped($s: Boolean!) { tasks(first: 5) { edges { node { id title @skip(if: $s) } } } }",
]


class Counting(PlainLeafExecution):
    """The gateway's execution, counting the requests the compiled statement answered."""

    answered = 0
    # The names of the operations it answered (None: the benchmark's anonymous page).
    operations: set[str | None] = set()
    # The statements' texts by plan (one per document) and variables, whoever read.
    texts: dict[tuple[int, str], set[str]] = {}

    # Every (plan, variables) a statement was asked for, answered or not.
    asked: set[tuple[int, str]] = set()

    def compiled_statement(self, plan: PagePlan) -> Any:
        """The statement, counted when there is one."""
        statement = super().compiled_statement(plan)
        variables = json.dumps(self.variable_values.coerced, sort_keys=True, default=repr)
        Counting.asked.add((id(plan), variables))
        if statement is not None:
            Counting.answered += 1
            name = self.operation.name.value if self.operation.name else None
            Counting.operations.add(name)
            Counting.texts.setdefault((id(plan), variables), set()).add(statement.sql)
        return statement


def _documents() -> list[str]:
    manifest: dict[str, str] = json.loads(DEFAULT_MANIFEST.read_text())
    return [*manifest.values(), GATEWAY_PAGE, PROJECT_PAGE, *EXTRA]


@pytest.fixture
async def registered(
    settings: Settings, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A gateway whose manifest registers the web app's, the benchmark's and EXTRA's documents."""
    manifest = tmp_path / "trusted-documents.json"
    manifest.write_text(json.dumps({sha256_hex(text): text for text in _documents()}))
    app = create_app(
        bootstrap(
            settings.model_copy(update={"graphql_trusted_documents": manifest}),
            app_id="gateway",
            engine=engine,
            transport=MemoryTransport(),
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        yield app, http


async def _seed(http: httpx.AsyncClient) -> dict[str, Any]:
    """Alice's varied tasks (nulls, unicode, tags, reminders, done ones, several pages), a
    project shared with Bob as an editor (some tasks assigned to him) and Dave as a viewer,
    and Carol who is in nothing of theirs."""
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    carol, _ = await new_user(http)
    dave, d = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    await join(alice, dave, project["id"], d["email"], "VIEWER")
    titles = ["Zèbre 🦓", 'say "hi"\\ now', "line\nbreak", "日本語のタスク", "apple", "Apple"]
    done = []
    for number in range(63):
        given: dict[str, Any] = {"title": f"{titles[number % len(titles)]} {number}"}
        if number % 3 == 0:
            given["tags"] = ["home", "café ☕", 'q"uote'][: 1 + number % 3]
        if number % 4 == 0:
            given["dueAt"] = f"2030-01-{1 + number % 27:02d}T09:00:00.{number:06d}+00:00"
        elif number % 4 == 1:
            given["dueAt"] = f"2030-02-{1 + number % 27:02d}T23:59:59+05:30"
        if number % 5 == 0:
            given["notes"] = "notes ü\t€"
            given["priority"] = ["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"][number // 5 % 5]
        if number % 7 == 0:
            given["dueAt"] = "2030-03-01T10:00:00+00:00"
            given["reminders"] = [
                {"beforeDue": 15, "channels": ["EMAIL", "IN_APP"]},
                {"remindAt": "2030-02-28T08:00:00.5+00:00"},
            ]
        if number % 11 == 0:
            given["recurrence"] = {"rule": "FREQ=DAILY", "timezone": "Europe/Paris"}
        if number % 9 == 0:
            given["projectId"] = project["id"]
            # Assigned to the owner, to an editor, or to no one.
            given["assigneeId"] = [a["id"], b["id"], None][number // 9 % 3]
        task = (await alice.data(CREATE, {"input": given}))["createTask"]["id"]
        if number % 6 == 5:
            done.append(task)
    for task in done:
        await alice.data("mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": task})
    section = await alice.data(
        'mutation($p: ID!) { createSection(projectId: $p, name: "Doing ✓") { id } }',
        {"p": project["id"]},
    )
    in_section = {"title": "sectioned", "sectionId": section["createSection"]["id"]}
    parent = (await alice.data(CREATE, {"input": in_section}))["createTask"]["id"]
    for title in ("sub b", "sub a", "sub c"):
        await alice.data(CREATE, {"input": {"title": title, "parentId": parent}})
    personal = (await alice.data(CREATE, {"input": {"title": "mine with subs"}}))["createTask"]
    await alice.data(CREATE, {"input": {"title": "my sub", "parentId": personal["id"]}})
    await bob.data(CREATE, {"input": {"title": "bob's own"}})
    await carol.data(CREATE, {"input": {"title": "carol's own", "tags": ["home"]}})
    return {"clients": [alice, bob, carol, dave], "project": project["id"]}


def _variable_sets(
    operation: OperationDefinitionNode, seeded: dict[str, Any]
) -> list[dict[str, Any]]:
    """Values for the operation's variables: several sets for the paging documents."""
    names = {v.variable.name.value for v in operation.variable_definitions or ()}
    by_name: dict[str, Any] = {
        "projectId": seeded["project"],
        "dated": {"dueFrom": "2030-01-01T00:00:00Z"},
        "repeating": {"recurring": True},
        "first": 20,
        "a": {"status": "OPEN"},
        "b": {"status": "DONE"},
        "s": False,
        "project": seeded["project"],
        "id": seeded["project"],
        "taskId": seeded["project"],
    }
    base = {name: by_name[name] for name in names if name in by_name}
    sets = [base]
    if {"filter", "orderBy", "first"} <= names:
        sets += [
            {"first": 25},
            {"first": 10, "orderBy": [{"field": "DUE_AT", "direction": "DESC"}]},
            {"first": 10, "orderBy": [{"field": "PRIORITY"}, {"field": "UPDATED_AT"}]},
            {"first": 10, "filter": {"inbox": True, "status": "OPEN"}},
            {"first": 10, "filter": {"anyTags": ["café ☕", "home"]}},
            {"first": 5, "filter": {"dueTo": "2030-02-10T00:00:00Z"}},
            # Refusals: on the general path, with their codes.
            {"first": 0},
            {"first": 201},
            {"first": 5, "after": "not-a-cursor"},
            {"first": 5, "filter": {"text": "apple"}},
            {"first": 5, "filter": {"projectId": seeded["project"]}},
            {"first": 5, "orderBy": [{"field": "RELEVANCE"}]},
            {"first": 9, "orderBy": [{"field": "TITLE", "direction": "DESC"}]},
            {"first": 4, "orderBy": [{"field": "MANUAL"}], "filter": {"topLevel": False}},
        ]
    return sets


async def _pages(http: httpx.AsyncClient, body: dict[str, Any], token: str) -> list[Any]:
    """The answer to a paging request and to the pages after it, through endCursor."""
    headers = {"Authorization": f"Bearer {token}"}
    answers: list[Any] = []
    for _ in range(4):
        response = await http.post("/graphql", json=body, headers=headers)
        parsed = json.loads(response.text)
        answers.append((response.status_code, parsed))
        tasks = (parsed.get("data") or {}).get("tasks") or {}
        cursor = (tasks.get("pageInfo") or {}).get("endCursor")
        if (
            not cursor
            or "after" not in body.get("query", "")
            or not tasks["pageInfo"].get("hasNextPage")
        ):
            break
        body = {**body, "variables": {**body["variables"], "after": cursor}}
    return answers


async def test_compiled_answers_equal_the_general_engine_s(
    registered: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, http = registered
    seeded = await _seed(http)
    schema = _schema(app)
    converted = 0

    def converting(*args: Any, **kwargs: Any) -> Any:
        nonlocal converted
        converted += 1
        return page_request(*args, **kwargs)

    monkeypatch.setattr("graphql_schema.execution.page_request", converting)
    Counting.answered, Counting.operations, Counting.texts, Counting.asked = 0, set(), {}, set()
    compared = 0
    try:
        for client in seeded["clients"]:
            for text, operation in _queries(_documents()):
                for variables in _variable_sets(operation, seeded):
                    body = {
                        "query": text,
                        "variables": variables,
                        "operationName": operation.name.value if operation.name else None,
                    }
                    answers = []
                    for execution in (Counting, GeneralOnly):
                        schema.execution_context_class = execution
                        answers.append(await _pages(http, body, client.token))
                    # Parsed, so the text's spacing is left out; dicts keep their key order.
                    assert json.dumps(answers[0]) == json.dumps(answers[1]), (
                        operation.name,
                        variables,
                    )
                    compared += 1
    finally:
        schema.execution_context_class = PlainLeafExecution
    assert compared > 100, compared
    # The compiled statement really answered: the web app's task list, the benchmark's page
    # and EXTRA's; not the documents it must leave to the general engine.
    compiled = {"Tasks", None, "Paged", "Two", "Manual", "ByTitle"}
    assert compiled <= Counting.operations, Counting.operations
    assert not {"Other", "Skipped", "Reserved"} & Counting.operations, Counting.operations
    assert Counting.answered >= 100, Counting.answered
    # Most answers came from a statement kept from another reader's request with this reader
    # bound in its place, and still equalled the general engine's for every reader.
    reused = plans_of(schema._schema).reads_reused
    assert reused >= Counting.answered // 2, reused
    # One text for every reader (the reader, `myRole`'s included, is a bound value): each
    # connection prepares it once, not once per reader.
    many = {key: len(texts) for key, texts in Counting.texts.items() if len(texts) > 1}
    assert not many, many
    # The arguments were converted once per document and variables, whoever asked (a
    # document parsed again makes a new plan, converted again: a few).
    assert len(Counting.asked) < Counting.answered, len(Counting.asked)
    assert converted <= len(Counting.asked) + 5, (converted, len(Counting.asked))


async def test_the_compiled_page_keeps_cost_and_answers_refusals_as_before(
    registered: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, http = registered
    alice, _ = await new_user(http)
    await alice.data(CREATE, {"input": {"title": "one", "tags": ["x"]}})
    headers = {"Authorization": f"Bearer {alice.token}"}
    Counting.answered = 0
    response = await http.post("/graphql", json={"query": GATEWAY_PAGE}, headers=headers)
    body = response.json()
    assert response.status_code == 200
    assert body["data"]["tasks"]["edges"][0]["node"]["tags"] == [
        {"id": body["data"]["tasks"]["edges"][0]["node"]["tags"][0]["id"], "name": "x"}
    ]
    assert body["extensions"]["cost"]["requested"] > 0
    # Anonymous: the general engine's UNAUTHENTICATED, not a compiled answer.
    anonymous = (await http.post("/graphql", json={"query": GATEWAY_PAGE})).json()
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A bad cursor: BAD_USER_INPUT naming `after`, as ever.
    paged = EXTRA[0]
    refused = (
        await http.post(
            "/graphql",
            json={"query": paged, "variables": {"after": "bm90LW91cnM"}},
            headers=headers,
        )
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in refused["errors"][0]["message"]


async def test_a_failing_statement_answers_as_a_failing_resolver(
    registered: tuple[Starlette, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, http = registered
    alice, _ = await new_user(http)
    await alice.data(CREATE, {"input": {"title": "one"}})
    schema = _schema(app)
    failing = "SELECT 1 / 0"

    async def failing_page(connection: AsyncConnection, **_: Any) -> Any:
        await connection.exec_driver_sql(failing)

    def failing_read(*args: Any, **kwargs: Any) -> CompiledRead | None:
        read = compiled_read(*args, **kwargs)
        return None if read is None else CompiledRead(failing, ())

    # The general engine's page read and the compiled statement fail alike (division by zero).
    monkeypatch.setattr(reads, "task_page", failing_page)
    monkeypatch.setattr(execution, "compiled_read", failing_read)
    headers = {"Authorization": f"Bearer {alice.token}"}
    answers = []
    try:
        for engine in (Counting, GeneralOnly):
            schema.execution_context_class = engine
            Counting.answered = 0
            response = await http.post("/graphql", json={"query": GATEWAY_PAGE}, headers=headers)
            answers.append((response.status_code, response.json()))
            if engine is Counting:
                assert Counting.answered == 1  # the compiled statement ran, and failed
    finally:
        schema.execution_context_class = PlainLeafExecution
    assert answers[0] == answers[1]
    status, body = answers[0]
    assert status == 200
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["tasks"]
    assert "division" not in json.dumps(body)  # masked, as every unexpected error
