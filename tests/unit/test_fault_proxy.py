"""devstack.faultproxy on real loopback sockets: it forwards, partitions, heals and cuts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from devstack.faultproxy import FaultProxy


@pytest.fixture
async def echo() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An echo server on a free port, and what it has received."""
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            received.append(data)
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1]), received
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(echo: tuple[int, list[bytes]]) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the echo server."""
    link = FaultProxy("test->echo", "127.0.0.1", echo[0])
    await link.start()
    yield link
    await link.stop()


async def test_it_forwards_both_ways(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    # The target sees the proxy's own socket as its client (how the harness maps a PostgreSQL
    # session back to the service behind the proxy).
    assert len(proxy.upstream_ports()) == 1
    writer.close()
    assert proxy.stats.connections == 1


async def test_a_partition_holds_every_byte_until_it_heals(
    proxy: FaultProxy, echo: tuple[int, list[bytes]]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"one")
    assert await reader.readexactly(3) == b"one"
    proxy.partition()
    writer.write(b"two")
    # Nothing crosses while the link is cut (checked for a while: absence cannot be awaited).
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(3), 0.5)
    assert echo[1] == [b"one"]
    proxy.heal()
    # The held bytes flow again, as TCP retransmits them after a partition.
    assert await reader.readexactly(3) == b"two"
    writer.close()


async def test_a_new_connection_behind_a_partition_waits_for_the_heal(proxy: FaultProxy) -> None:
    proxy.partition()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"late")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.5)
    assert proxy.stats.connections == 0
    proxy.heal()
    assert await reader.readexactly(4) == b"late"
    writer.close()


async def test_drop_cuts_every_open_connection(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"ping")
    assert await reader.readexactly(4) == b"ping"
    assert proxy.drop() == 1
    # The client sees the connection end (reset or EOF), not a hang.
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await reader.readexactly(1)
    writer.close()


async def test_a_delayed_link_still_delivers_in_order(proxy: FaultProxy) -> None:
    proxy.delay(0.05, 0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    for n in range(5):
        writer.write(f"{n}".encode())
        assert await reader.readexactly(1) == f"{n}".encode()
    writer.close()
