"""Fixtures of the security suite: the whole in-process system, served in-process or by uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.composition import local_system
from taskstream.edge import server_config
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings


@pytest.fixture(scope="module")
async def whole(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The whole in-process system (gateway and every worker) for one test module."""
    async with (
        local_system(settings, engine=engine, transport=MemoryTransport()) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
        ) as client,
    ):
        yield client


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
async def served(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    """The whole system behind a real uvicorn on loopback, for synchronous (threaded) clients.

    Hypothesis and schemathesis drive requests from a worker thread while this server runs
    on the session's event loop, which owns the database connections.
    """
    async with local_system(settings, engine=engine, transport=MemoryTransport()) as app:
        config = server_config(
            app,
            settings.model_copy(update={"port": free_port()}),
            lifespan="off",
            log_level="warning",
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{config.port}"
        finally:
            server.should_exit = True
            await serving


class FakeDns:
    """Made-up names answering the given addresses, one list per lookup in turn (the last one
    repeats), and how many times each name was looked up."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: dict[str, int] = {}

    def __setitem__(self, name: str, answers: list[list[str]]) -> None:
        self.answers[name] = answers

    def answer(self, host: str, port: int) -> list[Any]:
        """getaddrinfo's answer for a made-up name."""
        self.lookups[host] = self.lookups.get(host, 0) + 1
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """The resolver, patched: made-up names answer what the test says, others as usual."""
    fake = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # anyio (under httpx) passes the name IDNA-encoded, as bytes.
        if isinstance(host, bytes):
            host = host.decode("ascii")
        if isinstance(host, str) and host in fake.answers:
            port = args[0] if args and isinstance(args[0], int) else 0
            return fake.answer(host, port)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


def of_authentication(statement: str) -> bool:
    """Whether a statement is one authentication may send before any resolver runs: the
    account's session lookup and, beside it, the account's rate-limit slices
    (taskstream/ratelimit.py, `prefetch`). Both are cached, so usually there is none."""
    return "gateway.users" in statement or "gateway.shared_state" in statement


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """SQL statements sent while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)
