"""Subscriptions over Server-Sent Events: held to the WebSocket's caps and revocations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from graphql_schema.persisted import DEFAULT_MANIFEST, sha256_hex
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

TASK_EVENTS = {"query": "subscription { taskEvents { kind } }"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two connections per account, so the cap is quick to reach."""
    return settings.model_copy(update={"max_websockets_per_account": 2})


def stream(http: httpx.AsyncClient, token: str) -> Any:
    """An SSE subscription request (graphql-sse's distinct connections mode)."""
    return http.stream(
        "POST",
        "/graphql",
        json=TASK_EVENTS,
        headers={"Accept": "text/event-stream", "Authorization": f"Bearer {token}"},
    )


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a stream until it ends; comments (pings) are skipped."""
    name, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and name:
            yield name, json.loads(data) if data else None
            name, data = "", ""


@pytest.fixture
async def account(server: str) -> AsyncIterator[tuple[httpx.AsyncClient, GraphQLClient]]:
    """An HTTP client of the served gateway and a signed-up user."""
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=10) as http:
        client = GraphQLClient(http)
        await client.sign_up()
        yield http, client


async def test_a_revoked_token_ends_its_stream(
    account: tuple[httpx.AsyncClient, GraphQLClient],
) -> None:
    http, user = account
    assert user.token is not None
    async with stream(http, user.token) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        # The stream is registered before its headers are sent: the revocation finds it.
        assert (await user.data("mutation { logOut }"))["logOut"] is True
        received = [item async for item in events(response)]
    assert received[-1] == ("complete", None), received
    codes = [e["extensions"]["code"] for _, data in received[:-1] for e in data["errors"]]
    assert codes == ["UNAUTHENTICATED"], received


async def test_streams_count_against_the_accounts_connection_cap(
    account: tuple[httpx.AsyncClient, GraphQLClient],
) -> None:
    http, user = account
    assert user.token is not None
    async with AsyncExitStack() as open_streams:
        for _ in range(2):
            response = await open_streams.enter_async_context(stream(http, user.token))
            assert response.status_code == 200
        refused = await http.post(
            "/graphql",
            json=TASK_EVENTS,
            headers={"Accept": "text/event-stream", "Authorization": f"Bearer {user.token}"},
        )
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Closed streams give their places back.
    async with stream(http, user.token) as again:
        assert again.status_code == 200


async def test_a_registered_document_runs_by_hash_over_a_stream(
    account: tuple[httpx.AsyncClient, GraphQLClient],
) -> None:
    http, user = account
    me = next(t for t in json.loads(DEFAULT_MANIFEST.read_text()).values() if "query Me" in t)
    payload = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(me)}}}
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {user.token}"}
    async with http.stream("POST", "/graphql", json=payload, headers=headers) as response:
        received = [item async for item in events(response)]
    assert [name for name, _ in received] == ["next", "complete"], received
    assert received[0][1]["data"]["me"]["timezone"] == "UTC"
