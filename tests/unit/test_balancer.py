"""devstack.balancer (`stack up`'s front door) on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from devstack.balancer import RoundRobinProxy

BIG = 8 * 1024 * 1024


class Backend:
    """A backend that names itself, echoes what it gets and answers a half-close."""

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.proxy_lines: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proxy_lines.append(await reader.readline())
        writer.write(self.name)
        received = 0
        while data := await reader.read(65536):
            received += len(data)
            writer.write(data)
            await writer.drain()
        # The client shut its side: it still gets a last answer on ours.
        writer.write(b"|eof after %d" % received)
        await writer.drain()
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def backends() -> AsyncIterator[list[Backend]]:
    """Two named backends."""
    started = [Backend(b"A"), Backend(b"B")]
    for backend in started:
        await backend.start()
    yield started
    for backend in started:
        await backend.stop()


async def proxied(backends: list[int]) -> RoundRobinProxy:
    proxy = RoundRobinProxy("127.0.0.1", 0, backends)
    await proxy.start()
    return proxy


def ports(backends: list[Backend]) -> list[int]:
    return [int(b.server.sockets[0].getsockname()[1]) for b in backends if b.server]


async def test_connections_go_to_the_backends_in_turn_each_told_its_client(
    backends: list[Backend],
) -> None:
    proxy = await proxied(ports(backends))
    try:
        names = []
        for _ in range(4):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            names.append(await reader.readexactly(1))
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            client_port = writer.get_extra_info("sockname")[1]
            writer.close()
            await writer.wait_closed()
        assert names == [b"A", b"B", b"A", b"B"]
        line = backends[1].proxy_lines[-1]
        assert line == f"PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {proxy.port}\r\n".encode()
    finally:
        await proxy.stop()


async def test_a_backend_that_refuses_is_skipped(backends: list[Backend]) -> None:
    proxy = await proxied([free_port(), *ports(backends)[:1]])
    try:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            assert await reader.readexactly(1) == b"A"
            writer.close()
    finally:
        await proxy.stop()


async def test_with_no_backend_answering_the_client_is_closed() -> None:
    proxy = await proxied([free_port()])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await proxy.stop()


async def test_a_half_closed_client_still_gets_its_answer(backends: list[Backend]) -> None:
    proxy = await proxied(ports(backends))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"request")
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer == b"Arequest|eof after 7"
        writer.close()
    finally:
        await proxy.stop()


async def test_a_large_transfer_to_a_slow_reader_arrives_whole(backends: list[Backend]) -> None:
    """Back-pressure: the proxy pauses one side while the other's buffer is full, and loses
    nothing."""
    proxy = await proxied(ports(backends))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        payload = bytes(range(256)) * (BIG // 256)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.create_task(send())
        assert await reader.readexactly(1) == b"A"
        received = bytearray()
        while len(received) < BIG:
            received += await reader.read(4096)
            if len(received) % (1024 * 1024) < 4096:
                await asyncio.sleep(0.01)  # a slow reader now and then
        await sending
        assert bytes(received[:BIG]) == payload
        tail = bytes(received[BIG:]) + await asyncio.wait_for(reader.read(), 5)
        assert tail == b"|eof after %d" % BIG
        writer.close()
    finally:
        await proxy.stop()


async def test_stopping_cuts_open_connections(backends: list[Backend]) -> None:
    proxy = await proxied(ports(backends))
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    assert await reader.readexactly(1) == b"A"
    await proxy.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert not proxy.links
    writer.close()
