"""`stack up`'s front door: a round-robin TCP proxy over the gateway replicas.

Every request and every live push of `stack up` crosses it, so it forwards on asyncio's
transports directly (a protocol per side, each chunk written to the other side as it arrives)
rather than through streams, whose read/write/drain round per chunk cost the stack about
0.9 ms of CPU per createTask under the push load (10 pushes each), more than some workers.
Back-pressure is the transports' own: a side whose write buffer fills pauses reading on the
other. Half-closes pass through: a client that shuts its sending side still gets its answer.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import cast


class _Side(asyncio.Protocol):
    """One end of a proxied connection; forwards what it receives to its peer."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        peer = self.link.peer_of(self)
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.link.half_closed(self)
        return True  # keep our sending side open: the peer may still answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.link.close()

    def pause_writing(self) -> None:
        peer = self.link.peer_of(self)
        if peer is not None and peer.transport is not None:
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.link.peer_of(self)
        if peer is not None and peer.transport is not None:
            peer.transport.resume_reading()


class _Link:
    """A client connection and the backend connection it is forwarded to."""

    def __init__(self, proxy: RoundRobinProxy) -> None:
        self.proxy = proxy
        self.client: _Side = _Client(self)
        self.backend: _Side | None = None
        self.closed = False

    def peer_of(self, side: _Side) -> _Side | None:
        return self.backend if side is self.client else self.client

    def half_closed(self, side: _Side) -> None:
        """`side` will send nothing more: tell its peer, and close once neither sends."""
        peer = self.peer_of(side)
        if peer is None or peer.transport is None:
            return
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        if peer.eof:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        for side in (self.client, self.backend):
            if side is not None and side.transport is not None:
                side.transport.close()


class _Client(_Side):
    """The client's end: held paused until its backend connection is made."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self.link.proxy.links.add(self.link)
        task = asyncio.get_running_loop().create_task(self.link.proxy.connect(self.link))
        self.link.proxy.connecting.add(task)
        task.add_done_callback(self.link.proxy.connecting.discard)


class RoundRobinProxy:
    """Spreads TCP connections (HTTP, WebSocket upgrades alike) over backends in turn.

    Balancing whole connections is enough for both protocols: a WebSocket stays on the replica
    it upgraded on, and every replica serves every subscriber. A backend that refuses the
    connection is skipped, so one replica going down does not fail requests. Each backend
    connection starts with a PROXY protocol v1 line naming the client (the gateways trust it
    from loopback), so per-address limits see the client, not the proxy.
    """

    def __init__(self, host: str, port: int, backends: list[int]) -> None:
        self.host = host
        self.port = port
        self.backends = backends
        self._turn = itertools.cycle(range(len(backends)))
        self._server: asyncio.Server | None = None
        self.links: set[_Link] = set()
        self.connecting: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; returns the port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Link(self).client, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop accepting and cut open connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self.connecting):
            task.cancel()
        await asyncio.gather(*self.connecting, return_exceptions=True)
        for link in list(self.links):
            link.close()

    async def connect(self, link: _Link) -> None:
        """Connect the link's client to the next backend that answers, or close it."""
        client = link.client.transport
        if client is None:
            return
        loop = asyncio.get_running_loop()
        for _ in self.backends:
            backend = self.backends[next(self._turn)]
            side = _Side(link)
            try:
                await loop.create_connection(_made(side), "127.0.0.1", backend)
            except OSError:
                continue
            if link.closed or side.transport is None:
                if side.transport is not None:
                    side.transport.close()
                return
            link.backend = side
            side.transport.write(_proxy_line(client))
            if link.client.eof:  # the client sent everything and shut its side meanwhile
                link.half_closed(link.client)
            client.resume_reading()
            return
        link.close()


def _made(side: _Side) -> Callable[[], _Side]:
    """A protocol factory handing out `side`."""
    return lambda: side


def _proxy_line(client: asyncio.BaseTransport) -> bytes:
    """A PROXY protocol v1 line naming the client of the connection (the gateways trust it)."""
    peer = client.get_extra_info("peername")
    own = client.get_extra_info("sockname")
    if not peer or not own:
        return b"PROXY UNKNOWN\r\n"
    family = "TCP6" if ":" in peer[0] else "TCP4"
    return f"PROXY {family} {peer[0]} {own[0]} {peer[1]} {own[1]}\r\n".encode("ascii")
