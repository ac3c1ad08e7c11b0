"""Automatic persisted queries and trusted documents (graphql_schema/persisted.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse, validate
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from graphql_schema.persisted import DEFAULT_MANIFEST, LruDocumentStore, sha256_hex
from graphql_schema.schema import build_schema
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"
# Over the default budget of 20,000 with first: 200, well within it with first: 1.
PAGES = (
    "query Pages($n: Int!) { tasks(first: $n) { edges { node { "
    "recurrence { upcoming(limit: 100) } } } } }"
)


def persisted(digest: str, version: int = 1) -> dict[str, Any]:
    """The Apollo protocol's extensions for a hash."""
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def post(
    client: GraphQLClient, payload: dict[str, Any], accept: str = "application/json"
) -> httpx.Response:
    """POST one request as the client, answering under `accept`."""
    headers = {"Accept": accept}
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    return await client.http.post("/graphql", json=payload, headers=headers)


def unique_me() -> str:
    """A query no test has stored before."""
    return f"query Mine {{ me_{uuid.uuid4().hex[:8]}: me {{ timezone }} }}"


async def test_an_unknown_hash_is_persisted_query_not_found(alice: GraphQLClient) -> None:
    digest = sha256_hex(unique_me())
    for accept, status in (("application/json", 200), (GRAPHQL_RESPONSE, 400)):
        response = await post(alice, {"extensions": persisted(digest)}, accept)
        assert response.status_code == status
        body = response.json()
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_query_with_its_hash_is_stored_then_runs_by_hash(alice: GraphQLClient) -> None:
    query = unique_me()
    digest = sha256_hex(query)
    first = (await post(alice, {"query": query, "extensions": persisted(digest)})).json()
    assert list(first["data"].values()) == [{"timezone": "UTC"}]
    again = (await post(alice, {"extensions": persisted(digest)})).json()
    assert again["data"] == first["data"]
    # Over GET too, as Apollo's useGETForHashedQueries sends it.
    response = await alice.http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(digest))},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.json()["data"] == first["data"]


async def test_a_hash_that_does_not_match_is_refused_and_nothing_stored(
    alice: GraphQLClient,
) -> None:
    query, other = unique_me(), unique_me()
    body = (await post(alice, {"query": query, "extensions": persisted(sha256_hex(other))})).json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "sha256Hash" in body["errors"][0]["message"]
    for digest in (sha256_hex(query), sha256_hex(other)):
        missing = (await post(alice, {"extensions": persisted(digest)})).json()
        assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_invalid_document_is_not_stored(alice: GraphQLClient) -> None:
    query = f"query Broken {{ me {{ noSuchField{uuid.uuid4().hex[:6]} }} }}"
    digest = sha256_hex(query)
    body = (await post(alice, {"query": query, "extensions": persisted(digest)})).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    missing = (await post(alice, {"extensions": persisted(digest)})).json()
    assert missing["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extensions", "word"),
    [
        ({"persistedQuery": "abc"}, "object"),
        (persisted("a" * 64, version=2), "version"),
        (persisted("A" * 64), "sha256Hash"),
        (persisted("abc"), "sha256Hash"),
    ],
)
async def test_malformed_persisted_queries_are_bad_user_input(
    gql: GraphQLClient, extensions: dict[str, Any], word: str
) -> None:
    body = (await post(gql, {"extensions": extensions})).json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and word in error["message"]


async def test_limits_and_cost_apply_to_persisted_documents(alice: GraphQLClient) -> None:
    digest = sha256_hex(PAGES)
    small = await post(
        alice, {"query": PAGES, "variables": {"n": 1}, "extensions": persisted(digest)}
    )
    assert small.json()["data"] == {"tasks": {"edges": []}}
    big = (await post(alice, {"variables": {"n": 200}, "extensions": persisted(digest)})).json()
    assert "data" not in big
    assert big["errors"][0]["extensions"]["code"] == "COST_LIMIT"


async def test_a_persisted_mutation_is_never_run_over_get(alice: GraphQLClient) -> None:
    mutation = (
        f'mutation Zone {{ updateMe(timezone: "Asia/Tokyo") {{ timezone }} }} # {uuid.uuid4()}'
    )
    digest = sha256_hex(mutation)
    stored = await post(alice, {"query": mutation, "extensions": persisted(digest)})
    assert stored.json()["data"] == {"updateMe": {"timezone": "Asia/Tokyo"}}
    await alice.data('mutation { updateMe(timezone: "UTC") { timezone } }')
    response = await alice.http.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(digest))},
        headers={"Authorization": f"Bearer {alice.token}"},
    )
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    assert (await alice.data("{ me { timezone } }"))["me"]["timezone"] == "UTC"


async def test_the_store_is_bounded_in_entries_and_characters() -> None:
    store = LruDocumentStore(max_entries=2, max_chars=10)
    await store.put("a", "1234")
    await store.put("b", "1234")
    assert await store.get("a") == "1234"  # now the most recently used
    await store.put("c", "1234")
    assert await store.get("b") is None and await store.get("a") == "1234"
    await store.put("d", "123456789")  # 13 characters with "a" or "c": both go
    assert len(store) == 1 and await store.get("d") == "123456789"
    await store.put("e", "12345678901")  # larger than the whole store: not kept
    assert await store.get("e") is None and len(store) == 1
    off = LruDocumentStore(max_entries=0, max_chars=10)
    await off.put("a", "1")
    assert await off.get("a") is None


# -- trusted documents --------------------------------------------------------------------------

SIGN_UP = (
    "mutation SignUp($email: String!, $password: String!) { signUp(email: $email, "
    "password: $password) { token user { id } } }"
)
ME = "query Me { me { id timezone } }"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """A manifest registering two documents."""
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({sha256_hex(text): text for text in (SIGN_UP, ME)}))
    return path


@pytest.fixture
async def open_account(alice: GraphQLClient) -> GraphQLClient:
    """An account (made on the ordinary gateway) the trusted gateway allows any document."""
    return alice


@pytest.fixture
async def trusted_http(
    settings: Settings, engine: AsyncEngine, manifest: Path, open_account: GraphQLClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway that runs only registered documents but for the open account."""
    me = await open_account.data("{ me { id } }")
    strict = settings.model_copy(
        update={
            "graphql_trusted_documents": manifest,
            "graphql_trusted_documents_only": True,
            "graphql_open_document_accounts": me["me"]["id"],
        }
    )
    app = create_app(
        bootstrap(strict, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        yield http


async def test_only_registered_documents_for_anonymous_and_ordinary_callers(
    trusted_http: httpx.AsyncClient, open_account: GraphQLClient
) -> None:
    anonymous = GraphQLClient(trusted_http)
    refused = await post(anonymous, {"query": "{ __typename }"}, GRAPHQL_RESPONSE)
    assert refused.status_code == 403
    assert "data" not in refused.json()
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The registered sign-up runs as sent, and the registered query by its hash alone.
    variables = {"email": f"t-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse"}
    signed = (await post(anonymous, {"query": SIGN_UP, "variables": variables})).json()
    user = GraphQLClient(trusted_http)
    user.token = signed["data"]["signUp"]["token"]
    by_hash = (await post(user, {"extensions": persisted(sha256_hex(ME))})).json()
    assert by_hash["data"]["me"]["timezone"] == "UTC"
    # Any other document, even a harmless variation of a registered one, is refused.
    variation = (await post(user, {"query": ME.replace("id ", "")})).json()
    assert variation["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Registering it as a persisted query does not get it past the policy either.
    text = "query Zone { me { timezone } }"
    sneaked = (await post(user, {"query": text, "extensions": persisted(sha256_hex(text))})).json()
    assert sneaked["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The open account may send anything, still within the cost budget.
    free = GraphQLClient(trusted_http)
    free.token = open_account.token
    assert (await free.data("{ tasks(first: 1) { totalCount } }"))["tasks"]["totalCount"] == 0
    costly = (await post(free, {"query": PAGES, "variables": {"n": 200}})).json()
    assert costly["errors"][0]["extensions"]["code"] == "COST_LIMIT"


async def test_the_web_apps_registered_documents_are_valid(settings: Settings) -> None:
    manifest = json.loads(DEFAULT_MANIFEST.read_text())
    assert len(manifest) >= 27
    schema = build_schema(settings)._schema
    for digest, text in manifest.items():
        assert sha256_hex(text) == digest
        assert validate(schema, parse(text)) == [], text
