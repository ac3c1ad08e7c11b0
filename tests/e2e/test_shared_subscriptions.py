"""Identical subscriptions of one account share one execution and still behave as their own."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection

from gateway.shared_streams import TRY_AGAIN_LATER, Close, Member, SharedStreams
from tests.e2e.test_live_updates import (
    TASK_EVENTS,
    account,
    connect,
    receive,
    send,
    server,
)

pytestmark = pytest.mark.e2e

__all__ = ["server"]  # the fixture, imported for these tests


async def open_subscription(
    base: str, token: str, operation_id: str, query: str
) -> ClientConnection:
    """A socket with one subscription under the given id."""
    ws = await connect(base)
    await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await receive(ws))["type"] == "connection_ack"
    await send(ws, {"id": operation_id, "type": "subscribe", "payload": {"query": query}})
    return ws


async def test_sockets_of_one_account_each_get_every_event_under_their_own_id(
    server: str,
) -> None:
    token, client, http = await account(server)
    first = await open_subscription(server, token, "1", TASK_EVENTS)
    second = await open_subscription(server, token, "tab-2", TASK_EVENTS)
    other_shape = await open_subscription(
        server, token, "1", "subscription { taskEvents { kind taskId } }"
    )
    await asyncio.sleep(0.3)
    created = (await client.data('mutation { createTask(input: {title: "shared"}) { id } }'))[
        "createTask"
    ]
    for ws, operation_id in ((first, "1"), (second, "tab-2")):
        message = await receive(ws)
        assert (message["id"], message["type"]) == (operation_id, "next")
        event = message["payload"]["data"]["taskEvents"]
        assert (event["kind"], event["taskId"], event["task"]["title"]) == (
            "CREATED",
            created["id"],
            "shared",
        )
    assert (await receive(other_shape))["payload"]["data"]["taskEvents"] == {
        "kind": "CREATED",
        "taskId": created["id"],
    }

    # One tab completing its operation, another closing: the remaining one goes on.
    await send(first, {"id": "1", "type": "complete"})
    await second.close()
    await asyncio.sleep(0.2)
    await client.data('mutation { createTask(input: {title: "after"}) { id } }')
    message = await receive(other_shape)
    assert message["payload"]["data"]["taskEvents"]["kind"] == "CREATED"
    with pytest.raises(TimeoutError):
        await receive(first, seconds=1.0)
    for ws in (first, other_shape):
        await ws.close()
    await http.aclose()


async def test_an_invalid_shared_subscription_answers_each_socket_with_an_error(
    server: str,
) -> None:
    token, _, http = await account(server)
    query = "subscription { taskEvents { noSuchField } }"
    sockets = [await open_subscription(server, token, str(n), query) for n in range(2)]
    for n, ws in enumerate(sockets):
        message = await receive(ws)
        assert (message["id"], message["type"]) == (str(n), "error")
        await ws.close()
    await http.aclose()


async def test_a_member_that_falls_behind_is_closed_for_refetch() -> None:
    member = Member(limit=2)
    for n in range(3):
        member.offer(f"payload {n}")
    assert member.items == type(member.items)()
    assert await member.next() == Close(TRY_AGAIN_LATER, "fell behind; reconnect and refetch")


def test_only_subscriptions_are_shared() -> None:
    streams = SharedStreams(queue_size=4)
    assert streams.is_subscription(TASK_EVENTS, None)
    assert not streams.is_subscription("query { me { id } }", None)
    assert not streams.is_subscription("mutation { logOut }", None)
    assert not streams.is_subscription("subscription {", None)


def test_the_subscription_check_parses_within_the_token_limit() -> None:
    streams = SharedStreams(queue_size=4, max_tokens=50)
    assert streams.is_subscription(TASK_EVENTS, None)
    huge = "subscription { taskEvents { " + "kind " * 100 + "} }"
    assert not streams.is_subscription(huge, None)
