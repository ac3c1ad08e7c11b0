"""Idempotent mutations (CONTRACT.md "Idempotent mutations"): the Idempotency-Key header, on
two gateway apps over one database (two replicas sharing the PostgreSQL state adapter)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.idempotency import Idempotency, fingerprint
from gateway_core.persistence import tables as t
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from taskstream.sharedstate import PostgresState
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($t: String!) { createTask(input: {title: $t}) { id title } }"


@pytest.fixture(scope="module")
def other_app(settings: Settings, engine: AsyncEngine) -> Starlette:
    """A second gateway replica on the same database."""
    return create_app(
        bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    )


@pytest.fixture
async def other(other_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the second replica."""
    transport = httpx.ASGITransport(app=other_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://taskstream.test") as client:
        yield client


async def post(
    http: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> httpx.Response:
    """One GraphQL POST with an optional Idempotency-Key."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


async def changes_of(engine: AsyncEngine, user_id: str) -> tuple[int, int]:
    """(tasks, outbox events) the user's mutations made."""
    async with engine.connect() as connection:
        tasks = await connection.scalar(
            select(func.count()).select_from(t.tasks).where(t.tasks.c.user_id == user_id)
        )
        events = await connection.scalar(
            select(func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.partition_key == user_id)
            .where(t.outbox.c.type.like("%task.created%"))
        )
    return int(tasks or 0), int(events or 0)


async def test_a_retry_through_the_other_replica_replays_the_first_response(
    http: httpx.AsyncClient, other: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = f"create-{uuid.uuid4()}"
    first = await post(http, client.token, CREATE, {"t": "Pay rent"}, key=key)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    assert "idempotent-replayed" not in first.headers
    retry = await post(other, client.token, CREATE, {"t": "Pay rent"}, key=key)
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert await changes_of(engine, user["id"]) == (1, 1)
    # Without a key (or with a new one) the same request is a new action.
    await post(other, client.token, CREATE, {"t": "Pay rent"}, key=f"create-{uuid.uuid4()}")
    assert await changes_of(engine, user["id"]) == (2, 2)


async def test_the_same_key_for_a_different_request_is_a_conflict_and_changes_nothing(
    http: httpx.AsyncClient, other: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = uuid.uuid4().hex
    await post(http, client.token, CREATE, {"t": "one"}, key=key)
    refused = (await post(other, client.token, CREATE, {"t": "two"}, key=key)).json()
    assert "data" not in refused
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "Idempotency-Key" in refused["errors"][0]["message"]
    assert await changes_of(engine, user["id"]) == (1, 1)


async def test_concurrent_requests_with_one_key_make_one_change(
    http: httpx.AsyncClient, other: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = uuid.uuid4().hex
    responses = await asyncio.gather(
        *(
            post(http if n % 2 else other, client.token, CREATE, {"t": "once"}, key=key)
            for n in range(12)
        )
    )
    bodies = [r.json() for r in responses]
    # Every request waited for the first one's response and answers it.
    assert all(body == bodies[0] for body in bodies), bodies
    assert bodies[0]["data"]["createTask"]["title"] == "once"
    assert await changes_of(engine, user["id"]) == (1, 1)


async def test_keys_are_per_account(http: httpx.AsyncClient, engine: AsyncEngine) -> None:
    alice, bob = GraphQLClient(http), GraphQLClient(http)
    alice_id, bob_id = (await alice.sign_up())["id"], (await bob.sign_up())["id"]
    key = uuid.uuid4().hex
    mine = (await post(http, alice.token, CREATE, {"t": "same"}, key=key)).json()
    theirs = (await post(http, bob.token, CREATE, {"t": "same"}, key=key)).json()
    assert mine["data"]["createTask"]["id"] != theirs["data"]["createTask"]["id"]
    assert await changes_of(engine, alice_id) == (1, 1)
    assert await changes_of(engine, bob_id) == (1, 1)


@pytest.mark.parametrize(
    "key", [b"", b"has space", "\u00e9".encode(), b"x" * 256, b"tab\there", b"\x7f"]
)
async def test_a_malformed_key_is_bad_user_input_and_changes_nothing(
    http: httpx.AsyncClient, engine: AsyncEngine, key: bytes
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    response = await http.post(
        "/graphql",
        json={"query": CREATE, "variables": {"t": "x"}},
        headers={b"Authorization": f"Bearer {client.token}".encode(), b"Idempotency-Key": key},
    )
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("Idempotency-Key: must be 1 to 255 visible ASCII")
    assert await changes_of(engine, user["id"]) == (0, 0)


async def test_a_request_that_ran_nothing_frees_its_key(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = uuid.uuid4().hex
    # Invalid variables: nothing executed, so the corrected request may use the key.
    invalid = (await post(http, client.token, CREATE, {"t": None}, key=key)).json()
    assert invalid["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    fixed = (await post(http, client.token, CREATE, {"t": "fixed"}, key=key)).json()
    assert fixed["data"]["createTask"]["title"] == "fixed"
    assert await changes_of(engine, user["id"]) == (1, 1)


async def test_a_failed_mutation_is_remembered_like_a_successful_one(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = uuid.uuid4().hex
    delete = "mutation($id: ID!) { deleteTask(id: $id) }"
    missing = {"id": str(uuid.uuid4())}
    first = (await post(http, client.token, delete, missing, key=key)).json()
    assert first["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    again = await post(http, client.token, delete, missing, key=key)
    assert again.json() == first and again.headers["idempotent-replayed"] == "true"
    assert await changes_of(engine, user["id"]) == (0, 0)


async def test_queries_and_anonymous_requests_ignore_the_key(http: httpx.AsyncClient) -> None:
    client = GraphQLClient(http)
    await client.sign_up()
    key = uuid.uuid4().hex
    me = (await post(http, client.token, "{ me { id } }", key=key)).json()
    assert me["data"]["me"]["id"]
    # A query never stores anything: the key is still free for a mutation.
    created = await post(http, client.token, CREATE, {"t": "after"}, key=key)
    assert created.json()["data"]["createTask"]["title"] == "after"
    assert "idempotent-replayed" not in created.headers


async def test_when_the_store_is_down_a_keyed_mutation_is_refused_retryably_and_changes_nothing(
    settings: Settings, engine: AsyncEngine, http: httpx.AsyncClient
) -> None:
    # Signed up on a working replica (sign-ups wait out an outage of the store).
    client = GraphQLClient(http)
    user = await client.sign_up()
    # A gateway whose Dapr sidecar does not answer (nothing listens on port 9).
    down = settings.model_copy(update={"shared_state": "dapr", "dapr_http_port": 9})
    app = create_app(bootstrap(down, app_id="gateway", engine=engine, transport=MemoryTransport()))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://taskstream.test"
        ) as down_http:
            refused = (await post(down_http, client.token, CREATE, {"t": "x"}, key="k-1")).json()
            assert refused["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
            assert "send the request again" in refused["errors"][0]["message"]
            assert await changes_of(engine, user["id"]) == (0, 0)
            # Without a key the mutation runs: the budgets let requests through an outage.
            made = (await post(down_http, client.token, CREATE, {"t": "y"})).json()
            assert made["data"]["createTask"]["title"] == "y"
            assert await changes_of(engine, user["id"]) == (1, 1)
    finally:
        # The app's lifespan, which closes its sidecar client, does not run over ASGITransport.
        services = app.state.services
        await services.limits.settled()
        await services.state.close()


async def test_a_key_s_response_is_kept_for_24_hours_then_expires(
    http: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    assert Settings.model_fields["idempotency_ttl_seconds"].default == 24 * 3600
    client = GraphQLClient(http)
    user = await client.sign_up()
    await post(http, client.token, CREATE, {"t": "kept"}, key=uuid.uuid4().hex)
    async with engine.connect() as connection:
        remaining = (
            (
                await connection.execute(
                    text(
                        "SELECT extract(epoch FROM expires_at - now()) FROM gateway.shared_state "
                        "WHERE key LIKE :prefix"
                    ),
                    {"prefix": f"idempotency:{user['id']}:%"},
                )
            )
            .scalars()
            .all()
        )
    # One stored response, with the key's whole lifetime ahead of it (less this test's time).
    assert len(remaining) == 1, remaining
    assert (
        settings.idempotency_ttl_seconds - 60
        < float(remaining[0])
        <= (settings.idempotency_ttl_seconds)
    )


async def test_a_retry_of_a_request_that_never_answers_is_told_to_retry_within_its_deadline(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    client = GraphQLClient(http)
    user = await client.sign_up()
    key = uuid.uuid4().hex
    # The first request's claim, held by a replica that died before it answered.
    state = PostgresState(engine)
    keys = Idempotency(state, ttl_seconds=60, pending_seconds=60)
    await state.set(
        keys.state_key(uuid.UUID(user["id"]), key),
        {"fingerprint": fingerprint(CREATE, None, {"t": "lost"}), "owner": "died"},
        absent=True,
        ttl=60,
    )
    body = (await post(http, client.token, CREATE, {"t": "lost"}, key=key)).json()
    # Not the deadline's TIMEOUT: the retry is told what is going on.
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "CONFLICT", body
    assert "still being processed" in error["message"]
    assert await changes_of(engine, user["id"]) == (0, 0)
