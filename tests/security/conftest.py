"""Fixtures of the security suite: the whole in-process system, served in-process or by uvicorn."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.composition import local_system
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
        config = uvicorn.Config(
            app, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning"
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
