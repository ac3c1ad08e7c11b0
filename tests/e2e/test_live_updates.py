"""Live subscriptions over a real WebSocket (graphql-transport-ws) against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection

from cli.composition import local_system
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

PROTOCOL = "graphql-transport-ws"
TASK_EVENTS = "subscription { taskEvents { kind taskId source version task { title version } } }"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def server(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The whole in-process system served by uvicorn on a free port; yields its base URL."""
    quick = settings.model_copy(update={"ws_init_timeout_seconds": 1.0})
    async with (
        local_system(quick, engine=engine, transport=MemoryTransport()) as app,
        serving(app) as base,
    ):
        yield base


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free loopback port for the block; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws="websockets-sansio",
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    while not served.started:
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        served.should_exit = True
        await task


async def account(base: str) -> tuple[str, GraphQLClient, httpx.AsyncClient]:
    """A signed-up user's token and an HTTP GraphQL client for them."""
    http = httpx.AsyncClient(base_url=f"http://{base}")
    client = GraphQLClient(http)
    await client.sign_up()
    assert client.token is not None
    return client.token, client, http


async def connect(base: str) -> ClientConnection:
    """A WebSocket speaking graphql-transport-ws."""
    return await websockets.connect(f"ws://{base}/graphql", subprotocols=[PROTOCOL])  # type: ignore[list-item]


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    """Send one protocol message."""
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection, seconds: float = 5.0) -> dict[str, Any]:
    """The next protocol message."""
    raw = await asyncio.wait_for(ws.recv(), seconds)
    message: dict[str, Any] = json.loads(raw)
    return message


async def subscribe(base: str, token: str, query: str) -> ClientConnection:
    """An authenticated socket with one running subscription (id "1")."""
    ws = await connect(base)
    await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await receive(ws))["type"] == "connection_ack"
    await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": query}})
    await asyncio.sleep(0.2)
    return ws


async def task_event(ws: ClientConnection, seconds: float = 30.0) -> dict[str, Any]:
    """The next taskEvents payload on the socket."""
    message = json.loads(await asyncio.wait_for(ws.recv(), seconds))
    assert message["type"] == "next", message
    found: dict[str, Any] = message["payload"]["data"]["taskEvents"]
    return found


ProbeMaker = Callable[[str], Awaitable[str]]


def probes_through(client: GraphQLClient) -> ProbeMaker:
    """Probes made with the client: createTask with the title; the task's id."""

    async def create(title: str) -> str:
        data = await client.data(
            "mutation($t: String!) { createTask(input: {title: $t}) { id } }", {"t": title}
        )
        return str(data["createTask"]["id"])

    return create


async def until_live(create: ProbeMaker, sockets: list[ClientConnection]) -> set[str]:
    """Create probe tasks until each socket's subscription has pushed one (a subscription
    starts some time after its subscribe message, later still on a busy machine); the ids of
    the probes, which may still be on their way to sockets that came live earlier."""
    probes: set[str] = set()
    waiting = list(sockets)
    for attempt in range(30):
        probe = await create(f"probe {attempt}")
        probes.add(probe)
        for ws in list(waiting):
            try:
                async with asyncio.timeout(2):
                    while (await task_event(ws))["taskId"] != probe:
                        pass
            except TimeoutError:
                continue
            waiting.remove(ws)
        if not waiting:
            return probes
    raise AssertionError(f"{len(waiting)} of {len(sockets)} subscriptions never came live")


async def close_code(ws: ClientConnection, seconds: float = 5.0) -> int | None:
    """The close code the server ends the socket with (no data message may come first)."""
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except websockets.ConnectionClosed:
        return ws.close_code
    raise AssertionError(f"got a message before the close: {message!r}")


async def test_sockets_without_a_valid_token_are_closed_4403(server: str) -> None:
    for payload in ({}, {"authorization": "Bearer forged.token.value"}, {"authorization": 42}):
        ws = await connect(server)
        await send(ws, {"type": "connection_init", "payload": payload})
        assert await close_code(ws) == 4403


async def test_protocol_abuse_gets_the_protocols_close_codes(server: str) -> None:
    token, _, http = await account(server)
    silent = await connect(server)
    assert await close_code(silent) == 4408
    twice = await connect(server)
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    await send(twice, init)
    assert (await receive(twice))["type"] == "connection_ack"
    await send(twice, init)
    assert await close_code(twice) == 4429
    early = await connect(server)
    await send(early, {"id": "1", "type": "subscribe", "payload": {"query": TASK_EVENTS}})
    assert await close_code(early) == 4401
    await http.aclose()


async def test_task_events_reach_their_owner_only_in_version_order(server: str) -> None:
    alice_token, alice, alice_http = await account(server)
    bob_token, _, bob_http = await account(server)
    alice_ws = await subscribe(server, alice_token, TASK_EVENTS)
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    task = (
        await alice.data(
            'mutation { createTask(input: {title: "live", dueAt: "2030-01-01T09:00:00Z", '
            'recurrence: {rule: "FREQ=DAILY", timezone: "UTC"}}) { id } }'
        )
    )["createTask"]
    await alice.data(
        f'mutation {{ updateTask(id: "{task["id"]}", input: {{title: "live 2"}}) {{ id }} }}'
    )
    await alice.data(f'mutation {{ completeTask(id: "{task["id"]}") {{ id }} }}')
    received = [(await receive(alice_ws))["payload"]["data"]["taskEvents"] for _ in range(4)]
    mine = [e for e in received if e["taskId"] == task["id"]]
    assert [(e["kind"], e["version"], e["source"]) for e in mine] == [
        ("CREATED", 1, "gateway"),
        ("UPDATED", 2, "gateway"),
        ("COMPLETED", 3, "gateway"),
    ]
    assert mine[1]["task"] == {"title": "live 2", "version": 2}
    [next_instance] = [e for e in received if e["taskId"] != task["id"]]
    assert (next_instance["kind"], next_instance["source"]) == ("CREATED", "recurrence")
    with pytest.raises(TimeoutError):
        await receive(bob_ws, seconds=1.0)
    for closable in (alice_ws, bob_ws):
        await closable.close()
    await alice_http.aclose()
    await bob_http.aclose()


async def test_a_restored_task_is_pushed_as_restored_with_the_task(server: str) -> None:
    token, alice, http = await account(server)
    ws = await subscribe(server, token, TASK_EVENTS)
    task = (await alice.data('mutation { createTask(input: {title: "undo me"}) { id } }'))[
        "createTask"
    ]
    await alice.data(f'mutation {{ deleteTask(id: "{task["id"]}") }}')
    await alice.data(f'mutation {{ restoreTask(id: "{task["id"]}") {{ id }} }}')
    received = [(await receive(ws))["payload"]["data"]["taskEvents"] for _ in range(3)]
    assert [(e["kind"], e["version"]) for e in received] == [
        ("CREATED", 1),
        ("DELETED", 2),
        ("RESTORED", 3),
    ]
    assert received[2]["task"] == {"title": "undo me", "version": 3}
    await ws.close()
    await http.aclose()
