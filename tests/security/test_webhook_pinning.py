"""DNS rebinding at send time: the webhook sender connects only to the address it checked.

A rebinding DNS server answers a public address to the check and an internal one to the
connection. The sender resolves the name once, checks every answer, and connects to a checked
address, sending the name only as Host header and TLS server name. A patched resolver stands in
for DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.security.conftest import FakeDns
from workers.notifications import webhooks
from workers.notifications.channels import (
    DeliveryError,
    Message,
    WebhookSender,
    pinned_request,
)

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
MESSAGE = Message("d-1", "r-1", "t-1", "Water the plants", "", "2030-01-01T09:00:00Z", "now")


@contextlib.asynccontextmanager
async def recording(
    answer: Callable[[httpx.Request], httpx.Response] | None = None,
) -> AsyncIterator[tuple[WebhookSender, list[httpx.Request]]]:
    """A sender (private destinations refused) whose requests are recorded, not sent; each gets
    `answer`'s response (204 by default)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request) if answer is not None else httpx.Response(204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)
    sender = WebhookSender(allow_private=False, client=client)
    try:
        yield sender, seen
    finally:
        await sender.close()


async def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_used(
    resolver: FakeDns,
) -> None:
    # Public for the check, loopback for any later lookup: a TTL-0 rebinding server.
    resolver["rebind.attacker.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
    async with recording() as (sender, seen):
        await sender.send("https://rebind.attacker.test:8443/hook?x=1", "secret", MESSAGE)
    [request] = seen
    assert request.url.host == PUBLIC_V4
    assert request.url.port == 8443
    assert request.url.raw_path == b"/hook?x=1"
    assert request.headers["Host"] == "rebind.attacker.test:8443"
    assert request.extensions["sni_hostname"] == "rebind.attacker.test"
    assert resolver.lookups["rebind.attacker.test"] == 1


async def test_the_next_send_to_the_rebound_name_is_refused_without_a_request(
    resolver: FakeDns,
) -> None:
    resolver["rebind.attacker.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
    async with recording() as (sender, seen):
        await sender.send("https://rebind.attacker.test/hook", "secret", MESSAGE)
        with pytest.raises(DeliveryError) as refused:
            await sender.send("https://rebind.attacker.test/hook", "secret", MESSAGE)
    assert refused.value.permanent
    assert "refused destination" in refused.value.reason
    assert [r.url.host for r in seen] == [PUBLIC_V4]


@pytest.mark.parametrize(
    "internal", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "::ffff:127.0.0.1"]
)
async def test_a_name_with_one_internal_answer_among_public_ones_is_refused(
    resolver: FakeDns, internal: str
) -> None:
    # Otherwise the connection could pick the internal answer (the order is the server's).
    resolver["mixed.attacker.test"] = [[PUBLIC_V4, internal, PUBLIC_V6]]
    async with recording() as (sender, seen):
        with pytest.raises(DeliveryError) as refused:
            await sender.send("http://mixed.attacker.test/hook", "secret", MESSAGE)
    assert refused.value.permanent
    assert seen == []


async def test_the_next_checked_address_is_tried_when_one_refuses_connections(
    resolver: FakeDns,
) -> None:
    resolver["two.example.test"] = [[PUBLIC_V6, PUBLIC_V4]]

    def refuse_v6(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V6:
            raise httpx.ConnectError("unreachable", request=request)
        return httpx.Response(200)

    async with recording(refuse_v6) as (sender, seen):
        await sender.send("https://two.example.test/hook", "secret", MESSAGE)
    assert [r.url.host for r in seen] == [PUBLIC_V6, PUBLIC_V4]


def test_the_pinned_request_keeps_the_name_for_host_and_tls() -> None:
    url, host, extensions = pinned_request("https://Bücher.example/a?b=c", PUBLIC_V6)
    assert url == f"https://[{PUBLIC_V6}]/a?b=c"
    assert host == {"Host": "xn--bcher-kva.example"}
    assert extensions == {"sni_hostname": "xn--bcher-kva.example"}


class Receiver:
    """A plain HTTP/1.1 server on one loopback address that records each request's head."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self, port: int) -> None:
        """Listen on address:port."""
        self.server = await asyncio.start_server(self._serve, self.address, port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        length = next(
            (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
             if line.startswith(b"content-length:")),
            0,
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def two_receivers() -> AsyncIterator[tuple[Receiver, Receiver, int]]:
    """The same port on 127.0.0.1 (standing for a public host) and on 127.0.0.2 (internal)."""
    outside, inside = Receiver("127.0.0.1"), Receiver("127.0.0.2")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    await outside.start(port)
    await inside.start(port)
    yield outside, inside, port
    await outside.stop()
    await inside.stop()


async def test_over_real_sockets_a_rebinding_name_reaches_only_the_checked_address(
    resolver: FakeDns,
    two_receivers: tuple[Receiver, Receiver, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside, inside, port = two_receivers
    # Loopback has to stand for the Internet here: 127.0.0.1 counts as public, 127.0.0.2 not.
    judge: Callable[[str], bool] = lambda address: address == "127.0.0.1"  # noqa: E731
    monkeypatch.setattr(webhooks, "is_public_address", judge)
    # Every lookup after the first answers the internal address: a sender that resolved the
    # name again to connect (as httpx does given the name) would reach `inside`.
    resolver["rebind.attacker.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    sender = WebhookSender(allow_private=False)
    try:
        await sender.send(f"http://rebind.attacker.test:{port}/hook", "secret", MESSAGE)
    finally:
        await sender.close()
    assert inside.heads == []
    [head] = outside.heads
    assert f"host: rebind.attacker.test:{port}".encode() in head.lower()
