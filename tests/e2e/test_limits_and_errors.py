"""The contract's limits and error codes; failed mutations change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id version } }"


def _reminders(count: int) -> list[dict[str, Any]]:
    return [{"remindAt": f"2030-01-01T{h:02d}:00:00Z"} for h in range(count)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "ok", "notes": "n" * 20_001}, "notes"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"title": "ok", "tags": ["x" * 51]}, "tags"),
        ({"title": "ok", "tags": [" "]}, "tags"),
        ({"title": "ok", "reminders": _reminders(11)}, "reminders"),
        ({"title": "ok", "reminders": [{"beforeDue": 10}]}, "reminders[0].beforeDue"),
        ({"title": "ok", "reminders": [{}]}, "reminders[0]"),
        (
            {
                "title": "ok",
                "dueAt": "2030-01-01T00:00:00Z",
                "reminders": [{"beforeDue": 5, "remindAt": "2030-01-01T00:00:00Z"}],
            },
            "reminders[0]",
        ),
        ({"title": "ok", "recurrence": {"rule": "FREQ=MINUTELY"}}, "recurrence.rule"),
        ({"title": "ok", "recurrence": {"rule": "FREQ=SECONDLY"}}, "recurrence.rule"),
        ({"title": "ok", "recurrence": {"rule": "NOT A RULE"}}, "recurrence.rule"),
        (
            {"title": "ok", "recurrence": {"rule": "FREQ=DAILY", "timezone": "Moon/Base"}},
            "recurrence.timezone",
        ),
    ],
)
async def test_bad_task_input_is_refused_naming_the_field(
    alice: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    error = await alice.error(CREATE, {"i": fields})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(field + ":"), error["message"]
    assert (await alice.data("{ tasks { totalCount } tags { id } }")) == {
        "tasks": {"totalCount": 0},
        "tags": [],
    }


async def test_dates_without_offset_are_refused(alice: GraphQLClient) -> None:
    error = await alice.error(CREATE, {"i": {"title": "x", "dueAt": "2030-01-01T09:00:00"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "offset" in error["message"]


async def test_a_failed_update_changes_nothing(alice: GraphQLClient) -> None:
    task = (await alice.data(CREATE, {"i": {"title": "keep", "tags": ["a"]}}))["createTask"]
    error = await alice.error(
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "new", tags: ["b"], '
        "reminders: [{beforeDue: 5}]}) { id } }",
        {"id": task["id"]},
    )
    assert error["message"].startswith("reminders[0].beforeDue")
    after = await alice.data(
        "query($id: ID!) { task(id: $id) { title version tags { name } } tags { name } }",
        {"id": task["id"]},
    )
    assert after == {
        "task": {"title": "keep", "version": 1, "tags": [{"name": "a"}]},
        "tags": [{"name": "a"}],
    }


@pytest.mark.parametrize("first", [0, -1, 201])
async def test_page_size_is_bounded(alice: GraphQLClient, first: int) -> None:
    error = await alice.error("query($f: Int) { tasks(first: $f) { totalCount } }", {"f": first})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("first")


async def test_query_depth_is_limited(settings: Any, engine: Any) -> None:
    # The contract's types nest at most five levels, so the configured limit (10) is shown to
    # be enforced by lowering it: a query one level deeper than allowed never reaches resolvers.
    from graphql_schema.schema import build_schema

    schema = build_schema(settings.model_copy(update={"graphql_max_depth": 3}))
    shallow = await schema.execute("{ tasks { totalCount pageInfo { hasNextPage } } }")
    assert not any("depth" in e.message for e in shallow.errors or [])
    deep = await schema.execute("{ tasks { edges { node { tags { id } } } } }")
    assert deep.errors is not None and deep.data is None
    assert deep.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    assert "depth" in deep.errors[0].message


async def test_aliases_are_limited(alice: GraphQLClient) -> None:
    ok = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(30)) + " }"
    assert "errors" not in await alice.execute(ok)
    too_many = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
    body = await alice.execute(too_many)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "alias" in body["errors"][0]["message"].lower()


async def test_unknown_fields_and_bad_syntax_are_bad_user_input(alice: GraphQLClient) -> None:
    for query in ("{ nope }", "{ tasks { ", "mutation { createTask(input: {title: 3}) { id } }"):
        body = await alice.execute(query)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", query


async def test_internal_errors_are_masked(
    alice: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_core.services import tasks as service

    async def explode(**_: Any) -> Any:
        raise RuntimeError("SELECT secret FROM /srv/internal/path")

    monkeypatch.setattr(service, "create_task", explode)
    body = await alice.execute(CREATE, {"i": {"title": "x"}})
    error = body["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL"}
    assert "SELECT" not in str(body) and "/srv" not in str(body) and "Traceback" not in str(body)


async def test_get_serves_queries_only(http: Any) -> None:
    # The contract's HTTP protocol: GET for queries, a mutation over GET is 405.
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200 and response.json()["data"] == {"__typename": "Query"}
    mutation = await http.get("/graphql", params={"query": "mutation { logOut }"})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "GET, POST"
