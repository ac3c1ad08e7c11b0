"""A small HTTP/1.1 keep-alive load generator, the same one for every peer of a benchmark.

It speaks just enough HTTP (POST/GET, Content-Length or chunked answers) to keep its own cost
per request far below httpx's: on a 2-core machine the client shares the CPU with the server
it measures, so a heavy client would flatten every ratio.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bench.stats import summary


@dataclass(frozen=True)
class Request:
    """One request, sent as is by every client (its bytes are built once)."""

    url: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def graphql(
        cls, url: str, query: str, variables: dict[str, Any] | None = None, token: str = ""
    ) -> Request:
        """A GraphQL POST, with a bearer token when given."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = (("Authorization", f"Bearer {token}"),) if token else ()
        return cls(url, body, (("Content-Type", "application/json"), *headers))

    def raw(self) -> tuple[str, int, bytes]:
        """Host, port and the request's bytes."""
        parts = urlsplit(self.url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "load generators stay on loopback"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        method = "POST" if self.body is not None else "GET"
        lines = [f"{method} {path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body is not None:
            lines.append(f"Content-Length: {len(self.body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        return parts.hostname, parts.port or 80, head + (self.body or b"")


class Connection:
    """One keep-alive connection that sends a request and reads one whole answer."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ) -> None:
        self.reader, self.writer = reader, writer
        self.host, self.port = host, port
        # Connections the server had closed while idle, opened again.
        self.reopened = 0

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """A connection to host:port."""
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        return cls(reader, writer, host, port)

    async def send(self, payload: bytes) -> tuple[int, bytes]:
        """Status and body of the answer to `payload`.

        A keep-alive connection left idle longer than the server's keep-alive timeout (uvicorn:
        5 s; on a loaded machine a warm-up round over 16 connections takes that long) is closed
        by the server: when it closed before answering a byte, the request is sent again once
        over a new connection, as HTTP clients do (the load generators send reads only).
        """
        try:
            return await self._exchange(payload)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as error:
            if isinstance(error, asyncio.IncompleteReadError) and error.partial:
                raise
            self.writer.close()
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 22
            )
            self.reopened += 1
            return await self._exchange(payload)

    async def _exchange(self, payload: bytes) -> tuple[int, bytes]:
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            return status, await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    return status, b"".join(chunks)
                chunks.append(chunk[:-2])
        raise RuntimeError(f"an answer without a length: {fields}")

    async def close(self) -> None:
        """Close the socket."""
        self.writer.close()
        await self.writer.wait_closed()


async def fetch_json(request: Request) -> Any:
    """One request's JSON answer (to check what a peer returns before timing it)."""
    host, port, payload = request.raw()
    connection = await Connection.open(host, port)
    try:
        status, body = await connection.send(payload)
    finally:
        await connection.close()
    if status != 200:
        raise RuntimeError(f"{request.url} answered {status}: {body[:300]!r}")
    return json.loads(body)


async def run_load(
    request: Request,
    *,
    clients: int,
    requests: int,
    warmup: int = 50,
    max_seconds: float = 120.0,
    check: bytes | None = None,
) -> dict[str, Any]:
    """`requests` requests from `clients` concurrent connections: throughput and latencies.

    Bounded twice: by the request count and by `max_seconds` (then it reports what it did).
    Every answer must be 200 and, when `check` is given, contain those bytes.
    """
    host, port, payload = request.raw()
    connections = [await Connection.open(host, port) for _ in range(clients)]
    latencies: list[float] = []
    failures = 0
    try:
        for index in range(warmup):
            await connections[index % clients].send(payload)
        remaining = requests
        deadline = time.perf_counter() + max_seconds

        async def client(connection: Connection) -> None:
            nonlocal remaining, failures
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                began = time.perf_counter()
                status, body = await connection.send(payload)
                latencies.append((time.perf_counter() - began) * 1000)
                if status != 200 or (check is not None and check not in body):
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(c) for c in connections))
        elapsed = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    return {
        "clients": clients,
        "requests": len(latencies),
        "failures": failures,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        **summary(latencies),
    }


async def sequential(
    request: Request, *, count: int, warmup: int = 5, max_seconds: float = 60.0
) -> dict[str, Any]:
    """Latencies of `count` requests one at a time (at most `max_seconds` in all)."""
    return await run_load(
        request, clients=1, requests=count, warmup=warmup, max_seconds=max_seconds
    )


async def alternating(
    requests: dict[str, Request], *, count: int, warmup: int = 5, max_seconds: float = 60.0
) -> dict[str, dict[str, Any]]:
    """Latencies of `count` requests of each kind, one at a time, the kinds taking turns.

    For figures compared as a ratio: on a shared machine the load of other processes drifts
    over a run, and taking turns lays the drift on every kind alike, where running one kind
    after the other would lay it on whichever ran during the busier stretch.
    """
    connections = {}
    for name, request in requests.items():
        host, port, payload = request.raw()
        connections[name] = (await Connection.open(host, port), payload)
    latencies: dict[str, list[float]] = {name: [] for name in requests}
    failures = dict.fromkeys(requests, 0)
    try:
        for _ in range(warmup):
            for connection, payload in connections.values():
                await connection.send(payload)
        deadline = time.perf_counter() + max_seconds
        for _ in range(count):
            if time.perf_counter() >= deadline:
                break
            for name, (connection, payload) in connections.items():
                began = time.perf_counter()
                status, _ = await connection.send(payload)
                latencies[name].append((time.perf_counter() - began) * 1000)
                failures[name] += status != 200
    finally:
        for connection, _ in connections.values():
            await connection.close()
    return {
        name: {"clients": 1, "requests": len(values), "failures": failures[name], **summary(values)}
        for name, values in latencies.items()
    }
