"""GraphQL and HTTP abuse: bombs die before resolvers, and the endpoint speaks only JSON POST.

Covered elsewhere and not repeated: plain depth and alias limits, GET refused for a query, and
masking of internal errors (tests/e2e/test_limits_and_errors.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from graphql_schema.schema import build_schema
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.security.conftest import of_authentication

pytestmark = pytest.mark.e2e

COUNT = "{ tasks { totalCount } }"
CREATE = 'mutation { createTask(input: {title: "smuggled"}) { id } }'


async def refused_before_resolvers(
    client: GraphQLClient, statements: list[str], query: str, word: str
) -> None:
    """BAD_USER_INPUT naming `word`, no data, and not one statement after authentication."""
    statements.clear()
    body = await client.execute(query)
    assert "data" not in body, body  # a request error: nothing ran
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert word in body["errors"][0]["message"].lower(), body
    assert all(of_authentication(s) for s in statements), statements


# -- query bombs ---------------------------------------------------------------------------------


async def test_too_many_tokens(alice: GraphQLClient, statements: list[str]) -> None:
    query = "{ me { id } " + " ".join("__typename" for _ in range(5_001)) + " }"
    await refused_before_resolvers(alice, statements, query, "tokens")


async def test_fragment_cycles(alice: GraphQLClient, statements: list[str]) -> None:
    query = (
        "query { ...A } fragment A on Query { me { id } ...B } "
        "fragment B on Query { tasks { totalCount } ...A }"
    )
    await refused_before_resolvers(alice, statements, query, "cannot spread fragment")


async def test_a_self_spreading_fragment(alice: GraphQLClient, statements: list[str]) -> None:
    await refused_before_resolvers(
        alice, statements, "{ ...A } fragment A on Query { me { id } ...A }", "fragment"
    )


async def test_depth_counted_through_fragments(settings: Settings) -> None:
    # Depth hidden behind fragment spreads and inline fragments still counts (limit lowered as in
    # test_limits_and_errors, since the contract's types nest only five levels).
    schema = build_schema(settings.model_copy(update={"graphql_max_depth": 3}))
    deep = (
        "{ ...F } fragment F on Query { tasks { ...E } } "
        "fragment E on TaskConnection { edges { ... on TaskEdge { node { tags { id } } } } }"
    )
    result = await schema.execute(deep)
    assert result.data is None and result.errors
    assert "depth" in result.errors[0].message


async def test_aliases_counted_through_fragments(
    alice: GraphQLClient, statements: list[str]
) -> None:
    spread = " ".join(f"a{i}: me {{ id }}" for i in range(16))
    more = " ".join(f"b{i}: me {{ id }}" for i in range(16))
    query = f"{{ ...A ...B }} fragment A on Query {{ {spread} }} fragment B on Query {{ {more} }}"
    await refused_before_resolvers(alice, statements, query, "alias")


async def test_duplicated_directives(alice: GraphQLClient, statements: list[str]) -> None:
    directives = " ".join("@include(if: true)" for _ in range(200))
    await refused_before_resolvers(alice, statements, f"{{ me {directives} {{ id }} }}", "include")


async def test_deeply_nested_lists_in_variables(alice: GraphQLClient) -> None:
    query = "query($t: [String!]) { tasks(filter: {anyTags: $t}) { totalCount } }"
    nested: Any = ["x"]
    for _ in range(200):
        nested = [nested]
    body = await alice.execute(query, {"t": nested})
    assert "data" not in body and body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "$t" in body["errors"][0]["message"]


async def test_json_nested_past_the_parser_is_a_400_not_a_crash(
    alice: GraphQLClient,
) -> None:
    # json.loads recurses per level: 100,000 levels used to escape as a RecursionError (500).
    depth = 100_000
    raw = '{"query": "{ me { id } }", "variables": {"x": ' + "[" * depth + "]" * depth + "}}"
    response = await alice.http.post(
        "/graphql",
        content=raw,
        headers={"content-type": "application/json", "authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 400
    assert "JSON" in response.text


# -- the HTTP surface ----------------------------------------------------------------------------


async def test_batches_are_refused(alice: GraphQLClient) -> None:
    operations = [{"query": CREATE}, {"query": CREATE}]
    response = await alice.http.post(
        "/graphql", json=operations, headers={"authorization": f"Bearer {alice.token}"}
    )
    assert response.status_code == 400
    assert "batch" in response.text.lower()
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_bodies_over_a_mebibyte_are_413(alice: GraphQLClient, chunked: bool) -> None:
    payload = json.dumps(
        {"query": CREATE.replace("smuggled", "x"), "variables": {"pad": "p" * (1024 * 1024)}}
    ).encode()

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    response = await alice.http.post(
        "/graphql",
        content=stream() if chunked else payload,
        headers={"content-type": "application/json", "authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


async def test_a_body_just_under_the_limit_is_served(alice: GraphQLClient) -> None:
    body = await alice.execute(
        "query($pad: ID!) { task(id: $pad) { id } }", {"pad": "p" * (1024 * 1024 - 200)}
    )
    assert body["data"] == {"task": None} and "errors" not in body


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        # The "simple request" types a cross-site form or fetch can send without a preflight.
        ("text/plain", json.dumps({"query": CREATE})),
        ("application/x-www-form-urlencoded", "query=" + CREATE),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="q"\r\n'),
        (None, json.dumps({"query": CREATE})),
        ("application/graphql", CREATE),
    ],
)
async def test_only_json_bodies_are_accepted(
    alice: GraphQLClient, content_type: str | None, content: str
) -> None:
    headers = {"authorization": f"Bearer {alice.token}"}
    if content_type:
        headers["content-type"] = content_type
    response = await alice.http.post("/graphql", content=content.encode(), headers=headers)
    assert response.status_code in (400, 415), response.text
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


async def test_multipart_uploads_are_off(alice: GraphQLClient) -> None:
    operations = json.dumps({"query": CREATE, "variables": {}})
    response = await alice.http.post(
        "/graphql",
        files={"operations": (None, operations), "map": (None, "{}")},
        headers={"authorization": f"Bearer {alice.token}"},
    )
    # 415 Unsupported Media Type, with a GraphQL error body (gateway/graphql_http.py).
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


async def test_no_cross_origin_grants(http: httpx.AsyncClient, alice: GraphQLClient) -> None:
    evil = {"origin": "https://evil.example"}
    preflight = await http.options(
        "/graphql",
        headers={
            **evil,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    post = await http.post(
        "/graphql",
        json={"query": COUNT},
        headers={**evil, "authorization": f"Bearer {alice.token}"},
    )
    for response in (preflight, post):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers
    assert preflight.status_code >= 400


# -- production settings -------------------------------------------------------------------------


@pytest.fixture
async def production(settings: Settings, engine: AsyncEngine) -> AsyncIterator[GraphQLClient]:
    """A signed-up client of the gateway with production settings."""
    prod = settings.model_copy(update={"env": "production"})
    app = create_app(bootstrap(prod, app_id="gateway", engine=engine, transport=MemoryTransport()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        client = GraphQLClient(http)
        await client.sign_up()
        yield client


INTROSPECTION = [
    "{ __schema { queryType { name } types { name } } }",
    '{ __type(name: "Task") { fields { name } } }',
    "{ me { id } a: __schema { mutationType { fields { name } } } }",
]


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_introspection_is_off_in_production(production: GraphQLClient, query: str) -> None:
    body = await production.execute(query)
    assert "data" not in body
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "introspection" in body["errors"][0]["message"].lower()


async def test_introspection_is_on_in_development(alice: GraphQLClient) -> None:
    # The control: the same query is answered by the development settings `up` uses.
    assert (await alice.data(INTROSPECTION[1]))["__type"]["fields"]


async def test_production_does_not_suggest_field_names(production: GraphQLClient) -> None:
    body = await production.execute("{ tsks { totalCount } }")
    assert "tasks" not in body["errors"][0]["message"]
    assert "Did you mean" not in json.dumps(body)


async def test_production_has_no_ide_and_no_get(production: GraphQLClient) -> None:
    ide = await production.http.get("/graphql", headers={"accept": "text/html"})
    assert ide.status_code in (400, 404, 405) and "graphiql" not in ide.text.lower()
    over_get = await production.http.get(
        "/graphql",
        params={"query": CREATE},
        headers={"authorization": f"Bearer {production.token}"},
    )
    assert over_get.status_code in (400, 405)
    assert (await production.data(COUNT))["tasks"]["totalCount"] == 0


async def test_mutations_are_never_served_over_get(alice: GraphQLClient) -> None:
    for params in (
        {"query": CREATE},
        {"query": "mutation M { createTask(input: {title: $t}) { id } }", "variables": "{}"},
        {"query": CREATE, "operationName": "x" + uuid.uuid4().hex},
    ):
        response = await alice.http.get(
            "/graphql", params=params, headers={"authorization": f"Bearer {alice.token}"}
        )
        # 405, or (an unknown operationName) a request error, which application/json
        # answers with 200; either way a GraphQL error body and nothing run.
        assert response.status_code in (200, 405)
        assert "data" not in response.json(), response.text
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


@pytest.mark.parametrize("links", [31, 500])
async def test_chains_of_fragment_spreads(
    alice: GraphQLClient, statements: list[str], links: int
) -> None:
    # The depth limit counts fields only; a chain of spreads made the validation rules recurse
    # past Python's limit (500 links: "maximum recursion depth exceeded", with no code).
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(links))
    query = f"query {{ ...F0 }} {chain} fragment F{links} on Query {{ me {{ id }} }}"
    await refused_before_resolvers(alice, statements, query, "nested more than 30 levels")


async def test_inline_fragments_inside_inline_fragments(
    alice: GraphQLClient, statements: list[str]
) -> None:
    query = "{ " + "... on Query { " * 40 + "me { id }" + " }" * 40 + " }"
    await refused_before_resolvers(alice, statements, query, "nested more than 30 levels")


async def test_a_chain_within_the_nesting_limit_is_served(alice: GraphQLClient) -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(20))
    query = f"query {{ ...F0 }} {chain} fragment F20 on Query {{ me {{ email }} }}"
    body = await alice.execute(query)
    assert "errors" not in body, body
    assert body["data"]["me"]["email"]


async def test_fragments_spread_many_times_are_measured_once() -> None:
    # 2**40 paths through the spreads, 41 fragments: the check must not walk every path.
    from graphql import parse

    from graphql_schema.nesting import nesting_depth

    doubling = " ".join(f"fragment D{i} on Query {{ ...D{i + 1} ...D{i + 1} }}" for i in range(40))
    document = parse(f"query {{ ...D0 }} {doubling} fragment D40 on Query {{ __typename }}")
    assert nesting_depth(document, limit=100) == 42  # 41 spreads and the field
