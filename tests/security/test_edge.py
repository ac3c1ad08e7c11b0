"""The HTTP/WebSocket edge, probed over real sockets against uvicorn as `up` configures it.

Clients bind to different loopback addresses (127.0.0.0/8 is all loopback on Linux) to be
different client addresses. Timeouts are set to one second; the tests assert that the server
closes a connection, never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from cli.composition import local_system
from devstack.balancer import RoundRobinProxy
from taskstream.edge import server_config
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.e2e.test_up_command import Running
from tests.security.conftest import free_port

PROXY = "127.0.0.9"
CONNECTIONS_PER_ADDRESS = 8
LOGINS_PER_ADDRESS = 12
# Bounds the wait for something the server must do; reaching it means the server never did.
NEVER = 30.0

SIGN_UP = "mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }"
LOG_IN = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"


@contextlib.asynccontextmanager
async def serving(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The whole system behind the edge server as `up` builds it, with these settings."""
    async with local_system(settings, engine=engine, transport=MemoryTransport()) as app:
        server = uvicorn.Server(server_config(app, settings, lifespan="off", log_level="warning"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{settings.port}"
        finally:
            server.should_exit = True
            await task


@pytest.fixture(scope="module")
async def edge(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The edge server with small limits and one-second timeouts."""
    strict = settings.model_copy(
        update={
            "port": free_port(),
            "http_header_timeout_seconds": 1.0,
            "http_keepalive_seconds": 1.0,
            "max_connections_per_address": CONNECTIONS_PER_ADDRESS,
            "login_attempts_per_address_per_minute": LOGINS_PER_ADDRESS,
            # The default, per account (and now per address): ten wrong passwords used to
            # lock the owner out everywhere for the minute.
            "login_attempts_per_minute": 10,
            "login_free_failures": 3,
            "login_backoff_seconds": 60.0,
            "signups_per_address_per_hour": 1_000_000,
            "trusted_proxies": PROXY,
            "ws_init_timeout_seconds": 120.0,
        }
    )
    async with serving(strict, engine) as url:
        yield url


def port_of(url: str) -> int:
    """The port of a server URL."""
    return int(url.rsplit(":", 1)[1])


@contextlib.asynccontextmanager
async def client_from(address: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose connections come from `address`."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(transport=transport, timeout=NEVER) as client:
        yield client


async def graphql(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One GraphQL operation's response body."""
    response = await client.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str | None:
    """The first error's code, None when there is no error."""
    errors = body.get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def sign_up(url: str, address: str = "127.0.7.1") -> tuple[str, str]:
    """A fresh account: its email and token."""
    email = f"edge-{uuid.uuid4().hex[:10]}@example.com"
    async with client_from(address) as client:
        body = await graphql(client, url, SIGN_UP, {"e": email, "p": "correct horse"})
    return email, body["data"]["signUp"]["token"]


async def raw(url: str, address: str = "127.0.0.1") -> tuple[asyncio.StreamReader, Any]:
    """A plain TCP connection to the server from `address`."""
    return await asyncio.open_connection("127.0.0.1", port_of(url), local_addr=(address, 0))


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (read to EOF), waiting at most NEVER."""
    try:
        async with asyncio.timeout(NEVER):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def status_of_request_with_header(url: str, size: int) -> int | None:
    """Send a request with one header of `size` bytes; the status answered, or None when
    the server cut the connection before answering."""
    reader, writer = await raw(url)
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: "
    try:
        writer.write(head)
        chunk = b"a" * 65536
        sent = 0
        while sent < size:
            writer.write(chunk[: size - sent])
            sent += min(len(chunk), size - sent)
            await writer.drain()
        writer.write(b"\r\n\r\n")
        await writer.drain()
    except ConnectionError:
        pass
    try:
        async with asyncio.timeout(NEVER):
            line = await reader.readline()
    except ConnectionError:
        return None
    finally:
        writer.close()
    return int(line.split()[1]) if line else None


@pytest.mark.parametrize("size", [1024 * 1024, 16 * 1024 * 1024])
async def test_oversized_request_headers_are_refused(edge: str, size: int) -> None:
    assert await status_of_request_with_header(edge, 8 * 1024) == 200
    assert await status_of_request_with_header(edge, size) in (431, None)


async def test_a_connection_that_sends_nothing_is_closed(edge: str) -> None:
    reader, writer = await raw(edge)
    assert await closed_by_server(reader)
    writer.close()


async def test_half_sent_headers_are_disconnected_even_when_trickled(edge: str) -> None:
    reader, writer = await raw(edge)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    # A byte at a time, each well within the idle timeout: only the head deadline ends it.
    closed = False
    for _ in range(int(NEVER / 0.25)):
        try:
            writer.write(b"X-Slow: 1\r\n"[:1])
            await writer.drain()
            async with asyncio.timeout(0.25):
                closed = await reader.read(1) == b""
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
        if closed:
            break
    writer.close()
    assert closed


async def test_idle_keep_alive_connection_is_closed(edge: str) -> None:
    reader, writer = await raw(edge)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    await writer.drain()
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 200")
    assert await closed_by_server(reader)
    writer.close()


async def open_socket(
    url: str, address: str, headers: dict[str, str] | None = None
) -> ClientConnection:
    """A graphql-transport-ws socket from `address` (not yet initialised)."""
    return await websockets.connect(
        url.replace("http", "ws") + "/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        local_addr=(address, 0),
        additional_headers=headers,
        open_timeout=NEVER,
    )


async def initialise(ws: ClientConnection, token: str) -> dict[str, Any]:
    """Send connection_init with the token; the server's answer (ack) or close as a dict."""
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    try:
        async with asyncio.timeout(NEVER):
            answer: dict[str, Any] = json.loads(await ws.recv())
            return answer
    except websockets.ConnectionClosed as closed:
        frame = closed.rcvd
    return {"close": frame.code, "reason": frame.reason} if frame else {"close": None}


async def test_an_account_gets_at_most_20_websockets(edge: str, settings: Settings) -> None:
    assert settings.max_websockets_per_account == 20
    _, token = await sign_up(edge)
    # Spread over addresses so the per-address cap is not what stops them.
    addresses = [f"127.0.1.{n // CONNECTIONS_PER_ADDRESS + 1}" for n in range(21)]
    sockets = [await open_socket(edge, address) for address in addresses]
    try:
        answers = [await initialise(ws, token) for ws in sockets]
        assert all(answer["type"] == "connection_ack" for answer in answers[:20]), answers
        assert answers[20]["close"] == 4429
        assert "WebSockets for this account" in answers[20]["reason"]
        # A place freed is a place to take.
        await sockets[0].close()
        await sockets[0].wait_closed()
        again = await open_socket(edge, "127.0.1.9")
        sockets.append(again)
        assert (await initialise(again, token))["type"] == "connection_ack"
    finally:
        for ws in sockets:
            await ws.close()


async def test_connections_per_address_are_capped(edge: str) -> None:
    crowded, other = "127.0.2.1", "127.0.2.2"
    # Open sockets hold their connections past every timeout.
    sockets = [await open_socket(edge, crowded) for _ in range(CONNECTIONS_PER_ADDRESS)]
    try:
        async with client_from(crowded) as client:
            response = await client.get(f"{edge}/healthz")
        assert response.status_code == 429
        assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        with pytest.raises(websockets.InvalidStatus) as refused:
            await open_socket(edge, crowded)
        assert refused.value.response.status_code == 429
        async with client_from(other) as client:
            assert (await client.get(f"{edge}/healthz")).status_code == 200
        await sockets[0].close()
        await sockets[0].wait_closed()
        # The count is given back when a connection ends (a new one may wait for that).
        for _ in range(int(NEVER / 0.1)):
            async with client_from(crowded) as client:
                if (await client.get(f"{edge}/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the closed socket's place was never given back")
    finally:
        for ws in sockets:
            await ws.close()


async def test_websockets_per_forwarded_client_are_capped_behind_a_trusted_proxy(
    edge: str,
) -> None:
    # The proxy's own connections are not capped; each client behind it is.
    crowded = {"X-Forwarded-For": "192.0.2.80"}
    sockets = [await open_socket(edge, PROXY, crowded) for _ in range(CONNECTIONS_PER_ADDRESS)]
    try:
        extra = await open_socket(edge, PROXY, crowded)
        sockets.append(extra)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(NEVER):
                await extra.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        other = await open_socket(edge, PROXY, {"X-Forwarded-For": "192.0.2.81"})
        sockets.append(other)
        _, token = await sign_up(edge)
        assert (await initialise(other, token))["type"] == "connection_ack"
    finally:
        for ws in sockets:
            await ws.close()


async def test_wrong_passwords_from_one_address_do_not_lock_out_the_owner(edge: str) -> None:
    email, _ = await sign_up(edge)
    attacker, owner = "127.0.3.1", "127.0.3.2"
    async with client_from(attacker) as client:
        answers = [
            code(await graphql(client, edge, LOG_IN, {"e": email, "p": f"guess {n}"}))
            for n in range(10)
        ]
        # Three wrong passwords are free; then that address must wait, growing each time.
        assert answers[:3] == ["UNAUTHENTICATED"] * 3
        assert set(answers[3:]) == {"RATE_LIMITED"}
        slowed = await graphql(client, edge, LOG_IN, {"e": email, "p": "correct horse"})
        assert code(slowed) == "RATE_LIMITED"
        assert "try again in" in slowed["errors"][0]["message"]
    async with client_from(owner) as client:
        body = await graphql(client, edge, LOG_IN, {"e": email, "p": "correct horse"})
    assert code(body) is None and body["data"]["logIn"]["token"]


def wrong_password(email: str | None = None) -> dict[str, str]:
    """Log-in variables with a wrong password (for a made-up account unless given)."""
    return {"e": email or f"nobody-{uuid.uuid4().hex[:10]}@example.com", "p": "wrong password"}


async def exhaust_and_probe(edge: str, peer: str, forwarded: list[str]) -> str | None:
    """LOGINS_PER_ADDRESS failed log-ins from `peer`, each with the next forwarded address in
    turn; then the code of one more, for another account, with a never-used forwarded address."""
    target = wrong_password()
    async with client_from(peer) as client:
        for n in range(LOGINS_PER_ADDRESS):
            headers = {"X-Forwarded-For": forwarded[n % len(forwarded)]}
            body = await graphql(client, edge, LOG_IN, target, headers)
            # Wrong, then backing off (the backoff's refusals count for the address too).
            assert code(body) in ("UNAUTHENTICATED", "RATE_LIMITED"), body
        fresh = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
        return code(await graphql(client, edge, LOG_IN, wrong_password(), fresh))


async def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_bypass(
    edge: str,
) -> None:
    rotating = [f"203.0.113.{n}" for n in range(1, LOGINS_PER_ADDRESS + 1)]
    # From loopback, which uvicorn would trust by default: the headers are ignored, the
    # address's limit holds.
    assert await exhaust_and_probe(edge, "127.0.0.1", rotating) == "RATE_LIMITED"


async def test_x_forwarded_for_from_a_trusted_proxy_is_honoured(edge: str) -> None:
    # Behind the proxy, each client is limited alone: one client's log-ins use up only its
    # own allowance, and the next client is served.
    assert await exhaust_and_probe(edge, PROXY, ["192.0.2.7"]) == "UNAUTHENTICATED"
    async with client_from(PROXY) as client:
        body = await graphql(
            client,
            edge,
            LOG_IN,
            wrong_password(),
            {"X-Forwarded-For": "192.0.2.7"},
        )
    assert code(body) == "RATE_LIMITED"


async def test_forwarded_header_from_a_trusted_proxy_is_honoured(edge: str) -> None:
    target = wrong_password()
    async with client_from(PROXY) as client:
        for _ in range(LOGINS_PER_ADDRESS):
            forwarded = {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'}
            body = await graphql(client, edge, LOG_IN, target, forwarded)
            assert code(body) in ("UNAUTHENTICATED", "RATE_LIMITED"), body
        # The same client, with a hop in front that it wrote itself (ignored): limited.
        forwarded = {"Forwarded": "for=192.0.2.60, for=2001:db8::7"}
        assert (
            code(await graphql(client, edge, LOG_IN, wrong_password(), forwarded)) == "RATE_LIMITED"
        )
        # Another client of the same proxy is not.
        forwarded = {"Forwarded": "for=192.0.2.61"}
        body = await graphql(client, edge, LOG_IN, wrong_password(), forwarded)
        assert code(body) == "UNAUTHENTICATED"


@pytest.fixture(scope="module")
async def behind_stack_proxy(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """`stack up`'s arrangement: the TCP proxy in front, PROXY lines trusted from loopback."""
    gateway = settings.model_copy(
        update={
            "port": free_port(),
            "login_attempts_per_address_per_minute": 3,
            "proxy_protocol_from": "127.0.0.1",
        }
    )
    async with serving(gateway, engine) as url:
        proxy = RoundRobinProxy("127.0.0.1", 0, [port_of(url)])
        port = await proxy.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await proxy.stop()


async def test_behind_the_stack_proxy_each_client_keeps_its_address(
    behind_stack_proxy: str,
) -> None:
    async with client_from("127.0.6.1") as client:
        answers = [
            code(await graphql(client, behind_stack_proxy, LOG_IN, wrong_password()))
            for _ in range(4)
        ]
    assert answers == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]
    # Another client of the same proxy has its own allowance.
    async with client_from("127.0.6.2") as client:
        body = await graphql(client, behind_stack_proxy, LOG_IN, wrong_password())
    assert code(body) == "UNAUTHENTICATED"


async def test_a_proxy_line_from_an_untrusted_peer_is_not_believed(edge: str) -> None:
    reader, writer = await raw(edge, "127.0.6.3")
    writer.write(
        b"PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.1 400")
    writer.close()


def test_taskstream_up_serves_through_the_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line builds its server with the edge (and without uvicorn's proxy trust)."""
    monkeypatch.setenv("TASKSTREAM_HTTP_KEEPALIVE_SECONDS", "1")
    monkeypatch.setenv("TASKSTREAM_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "2")
    up = Running(tmp_path / "data")
    try:
        port = int(up.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=NEVER) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (1 << 20))
            assert probe.recv(64).startswith(b"HTTP/1.1 431")
        with socket.create_connection(("127.0.0.1", port), timeout=NEVER) as idle:
            assert idle.recv(1) == b""  # closed by the server, never by the timeout
        codes = []
        for n in range(3):
            response = httpx.post(
                f"{up.url}/graphql",
                json={"query": LOG_IN, "variables": wrong_password()},
                # uvicorn's default would take these from 127.0.0.1 as the client's address.
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                timeout=NEVER,
            )
            codes.append(code(response.json()))
        assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
    finally:
        assert up.stop(signal.SIGINT) == 0
