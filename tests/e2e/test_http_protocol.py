"""GraphQL over HTTP as the specification and the contract's "HTTP protocol" section say."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import PROTOCOL, receive, send, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
ME = "query Me { me { timezone } }"


# What serves a request logs under these; the workers running beside it in `up` (audit's
# retention, say) may log about their own affairs meanwhile.
REQUEST_LOGGERS = ("gateway", "graphql_schema", "strawberry", "uvicorn", "taskstream.edge")


def request_errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors and tracebacks that serving requests logged."""
    return [
        r
        for r in caplog.records
        if r.name.startswith(REQUEST_LOGGERS) and (r.levelno >= logging.ERROR or r.exc_info)
    ]


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The GraphQL response of an HTTP response that must be JSON."""
    media = response.headers["content-type"].split(";")[0]
    assert media in (GRAPHQL_RESPONSE, "application/json"), response.headers
    body: dict[str, Any] = response.json()
    return body


def only_code(response: httpx.Response) -> str:
    """The code of a request error's single error; a request error has no `data` entry."""
    body = body_of(response)
    assert "data" not in body, body
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


async def test_get_runs_queries(alice: GraphQLClient) -> None:
    response = await alice.http.get(
        "/graphql",
        params={"query": ME, "operationName": "Me"},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert body_of(response)["data"] == {"me": {"timezone": "UTC"}}


async def test_get_variables_are_json(alice: GraphQLClient) -> None:
    query = "query($first: Int!) { tasks(first: $first) { totalCount } }"
    auth = {"Authorization": f"Bearer {alice.token}"}
    ok = await alice.http.get(
        "/graphql", params={"query": query, "variables": '{"first": 5}'}, headers=auth
    )
    assert body_of(ok)["data"] == {"tasks": {"totalCount": 0}}
    broken = await alice.http.get(
        "/graphql", params={"query": query, "variables": "{first"}, headers=auth
    )
    assert broken.status_code == 400
    assert only_code(broken) == "BAD_USER_INPUT"
    assert "variables" in broken.json()["errors"][0]["message"]


async def test_a_mutation_over_get_is_405_and_changes_nothing(alice: GraphQLClient) -> None:
    response = await alice.http.get(
        "/graphql",
        params={"query": 'mutation { updateMe(timezone: "Asia/Tokyo") { timezone } }'},
        headers={"Authorization": f"Bearer {alice.token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert only_code(response) == "BAD_USER_INPUT"
    assert (await alice.data(ME))["me"]["timezone"] == "UTC"


async def test_other_methods(http: httpx.AsyncClient) -> None:
    put = await http.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    assert only_code(put) == "BAD_USER_INPUT"
    options = await http.options("/graphql")
    assert options.status_code == 204
    assert set(options.headers["allow"].split(", ")) == {"GET", "POST", "HEAD", "OPTIONS"}
    head = await http.head("/graphql", params={"query": "{ __typename }"})
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE};q=0.5", "application/json"),
        (f"{GRAPHQL_RESPONSE};q=0, application/json", "application/json"),
        ("text/plain", "application/json"),
    ],
)
async def test_media_type_follows_accept(
    http: httpx.AsyncClient, accept: str | None, media: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    if accept is None:
        # httpx adds `Accept: */*` unless told otherwise.
        http.headers.pop("accept", None)
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media}; charset=utf-8"
    assert response.json()["data"] == {"__typename": "Query"}


REQUEST_ERRORS = [
    pytest.param({"query": "{"}, id="syntax"),
    pytest.param({"query": "{ noSuchField }"}, id="validation"),
    pytest.param(
        {"query": "query($n: Int!) { tasks(first: $n) { totalCount } }", "variables": {"n": "x"}},
        id="variables",
    ),
    pytest.param(
        {"query": "query A { me { id } } query B { me { id } }", "operationName": "C"},
        id="unknown operationName",
    ),
    pytest.param({"query": "query A { me { id } } query B { me { id } }"}, id="ambiguous"),
    pytest.param({"query": "subscription { taskEvents { kind } }"}, id="subscription"),
]


@pytest.mark.parametrize("payload", REQUEST_ERRORS)
async def test_request_errors_have_no_data_and_the_specs_status(
    alice: GraphQLClient, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    auth = {"Authorization": f"Bearer {alice.token}"}
    with caplog.at_level(logging.WARNING):
        legacy = await alice.http.post("/graphql", json=payload, headers=auth)
        modern = await alice.http.post(
            "/graphql", json=payload, headers={**auth, "Accept": GRAPHQL_RESPONSE}
        )
    assert legacy.status_code == 200, legacy.text
    assert modern.status_code == 400, modern.text
    assert only_code(legacy) == only_code(modern) == "BAD_USER_INPUT"
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    # Nothing a client sends is an internal error worth a traceback in the log.
    assert not request_errors_logged(caplog)


async def test_several_operations_without_a_name_run_none(alice: GraphQLClient) -> None:
    document = (
        'mutation B { updateMe(timezone: "Asia/Tokyo") { timezone } } query A { me { timezone } }'
    )
    body = await alice.execute(document)
    assert "data" not in body
    assert "operationName" in body["errors"][0]["message"]
    assert (await alice.data(ME))["me"]["timezone"] == "UTC"
    named = await alice.http.post(
        "/graphql",
        json={"query": document, "operationName": "B"},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert body_of(named)["data"] == {"updateMe": {"timezone": "Asia/Tokyo"}}


async def test_subscription_over_http_says_where_to_go(gql: GraphQLClient) -> None:
    body = await gql.execute("subscription { taskEvents { kind } }")
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "WebSocket" in error["message"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "word"),
    [
        ('{"query": "{ __typename }"', {"Content-Type": "application/json"}, 400, "JSON"),
        ("", {"Content-Type": "application/json"}, 400, "JSON"),
        ('{"query": "{ __typename }"}', {"Content-Type": "text/plain"}, 415, "Content-Type"),
        ('{"query": "{ __typename }"}', {}, 415, "Content-Type"),
        ('[{"query": "{ __typename }"}]', {"Content-Type": "application/json"}, 400, "batch"),
        ('"{ __typename }"', {"Content-Type": "application/json"}, 400, "object"),
        ('{"query": 1}', {"Content-Type": "application/json"}, 400, "query"),
        (
            '{"query": "{ __typename }", "variables": []}',
            {"Content-Type": "application/json"},
            400,
            "variables",
        ),
        (
            '{"query": "{ __typename }", "operationName": 0}',
            {"Content-Type": "application/json"},
            400,
            "operationName",
        ),
        (
            '{"query": "{ __typename }", "extensions": "x"}',
            {"Content-Type": "application/json"},
            400,
            "extensions",
        ),
        ('{"notquery": "{ __typename }"}', {"Content-Type": "application/json"}, 400, "query"),
    ],
)
async def test_malformed_requests_get_graphql_error_bodies(
    http: httpx.AsyncClient, content: str, headers: dict[str, str], status: int, word: str
) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = await http.post(
            "/graphql", content=content, headers={**headers, "Accept": accept}
        )
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(accept)
        assert only_code(response) == "BAD_USER_INPUT"
        assert word.lower() in response.json()["errors"][0]["message"].lower()


async def test_field_errors_keep_data_and_200(gql: GraphQLClient) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    body = body_of(response)
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_connection_init_authorization_is_case_insensitive(server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}") as http:
        client = GraphQLClient(http)
        await client.sign_up()
    for key in ("Authorization", "AUTHORIZATION", "authorization"):
        async with websockets.connect(
            f"ws://{server}/graphql",
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
        ) as ws:
            payload = {key: f"Bearer {client.token}"}
            await send(ws, {"type": "connection_init", "payload": payload})
            assert (await receive(ws))["type"] == "connection_ack", key
            await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": ME}})
            message = await receive(ws)
            assert message["type"] == "next", message
            assert json.loads(json.dumps(message["payload"]))["data"]["me"]["timezone"] == "UTC"


async def test_several_operations_without_a_name_over_a_socket(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}") as http:
        client = GraphQLClient(http)
        await client.sign_up()
    async with websockets.connect(
        f"ws://{server}/graphql",
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
    ) as ws:
        init = {"authorization": f"Bearer {client.token}"}
        await send(ws, {"type": "connection_init", "payload": init})
        assert (await receive(ws))["type"] == "connection_ack"
        document = "query A { me { id } } query B { me { timezone } }"
        with caplog.at_level(logging.WARNING):
            await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": document}})
            message = await receive(ws)
        assert message["type"] == "error" and message["id"] == "1", message
        assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "operationName" in message["payload"][0]["message"]
        assert not request_errors_logged(caplog)
