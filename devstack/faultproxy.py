"""A TCP proxy on one link of the stack, for fault injection: pass, partition, delay, drop.

`stack up` routes a service's link to a dependency (its sidecar to Kafka, a gateway to
PostgreSQL) through one of these when asked (`Stack(routes=...)`): the URL the stack hands to
the service names the proxy, so the code under test is unchanged. The proxy runs in the stack's
event loop.

- partition: bytes stop flowing both ways and new connections get no answer (they are accepted
  by the kernel's backlog, as a SYN to a host behind a partition would be retransmitted); on
  `heal` the held bytes flow again, as TCP retransmits them after a partition.
- delay: every chunk is held `seconds` (plus up to `jitter`) before it is forwarded, in order.
- drop: every connection open now is cut (a reset, as after a timeout on either side).
- lose_next_answer: the next bytes the target sends back on any connection are thrown away and
  that connection is cut: the request was served, its client never hears so (the ambiguous
  case a retry must be safe for).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

CHUNK_BYTES = 65536


@dataclass
class LinkStats:
    """What went through the link (for the fault's report)."""

    connections: int = 0
    bytes_forwarded: int = 0
    cut: int = 0


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port`, with faults on demand."""

    def __init__(self, name: str, target_host: str, target_port: int, port: int = 0) -> None:
        self.name = name
        self.target_host = target_host
        self.target_port = target_port
        self.port = port
        self.stats = LinkStats()
        self._open = asyncio.Event()
        self._open.set()
        self._delay = 0.0
        self._jitter = 0.0
        self._lose_answer = False
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        # Both ends of every open connection (client side first in each pair).
        self._writers: set[asyncio.StreamWriter] = set()
        self._clients: set[asyncio.StreamWriter] = set()
        self._upstreams: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        """Listen; returns the port (chosen by the kernel when 0)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def start_when_target_listens(self, poll: float = 0.1) -> int:
        """Listen on `port` once the target accepts connections: a client that probes for its
        target (daprd for its app) must not find it up before it is."""
        while True:
            try:
                _, probe = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                await asyncio.sleep(poll)
                continue
            probe.close()
            return await self.start()

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        self._open.set()
        self.drop()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    @property
    def partitioned(self) -> bool:
        """Whether the link is cut."""
        return not self._open.is_set()

    def partition(self) -> None:
        """Stop every byte, both ways, on open and new connections, until `heal`."""
        self._open.clear()

    def heal(self) -> None:
        """End a partition and any added delay."""
        self._delay = self._jitter = 0.0
        self._open.set()

    def delay(self, seconds: float, jitter: float = 0.0) -> None:
        """Hold every chunk `seconds` (+ up to `jitter`) before forwarding it; 0 to stop."""
        self._delay, self._jitter = seconds, jitter

    def lose_next_answer(self) -> None:
        """Throw away the next answer from the target (on whichever connection it comes) and cut
        that connection; stays armed until an answer comes."""
        self._lose_answer = True

    def upstream_ports(self) -> set[int]:
        """The local ports of the proxy's open connections to its target (what the target sees
        as the client's port, e.g. in PostgreSQL's pg_stat_activity)."""
        ports = set()
        for writer in self._upstreams:
            name = writer.get_extra_info("sockname")
            if name:
                ports.add(int(name[1]))
        return ports

    def drop(self) -> int:
        """Cut every open connection; returns how many were cut."""
        cut = len(self._clients)
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.stats.cut += cut
        return cut

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        self._writers.add(writer)
        self._clients.add(writer)
        try:
            # Behind a partition a new connection gets nowhere until it heals.
            await self._open.wait()
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                return
            self.stats.connections += 1
            self._writers.add(up_writer)
            self._upstreams.add(up_writer)
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer), self._pipe(up_reader, writer, answers=True)
                )
            finally:
                self._writers.discard(up_writer)
                self._upstreams.discard(up_writer)
                up_writer.close()
        finally:
            self._pipes.discard(task)
            self._writers.discard(writer)
            self._clients.discard(writer)
            writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool = False
    ) -> None:
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                if answers and self._lose_answer:
                    self._lose_answer = False
                    self.stats.cut += 1
                    writer.transport.abort()
                    return
                if self._delay:
                    await asyncio.sleep(self._delay + random.uniform(0.0, self._jitter))  # noqa: S311
                await self._open.wait()
                writer.write(chunk)
                await writer.drain()
                self.stats.bytes_forwarded += len(chunk)
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()
