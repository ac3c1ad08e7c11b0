"""Webhook redirects at send time: a 3xx is a failed delivery, never a hop to its Location.

In a module of its own: another running system (the module fixtures of test_ssrf, which refuse
loopback) sharing the database could otherwise claim this reminder first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cli.composition import local_system
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.security.conftest import free_port

pytestmark = pytest.mark.e2e

REGISTER = "mutation($u: String!) { registerWebhook(url: $u) { secret webhook { id url } } }"


class Hops:
    """A receiver whose /hook redirects to /internal (standing for an internal service)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hits: dict[str, int] = {"hook": 0, "internal": 0}

    async def hook(self, request: Request) -> Response:
        """Answer every delivery with a redirect to the internal address."""
        self.hits["hook"] += 1
        target = f"http://127.0.0.1:{self.port}/internal"
        return Response(status_code=307, headers={"location": target})

    async def internal(self, request: Request) -> Response:
        """What must never be reached through a webhook."""
        self.hits["internal"] += 1
        return Response(status_code=204)


@pytest.fixture
async def hops() -> AsyncIterator[Hops]:
    """The redirecting receiver, served on loopback."""
    receiver = Hops(free_port())
    app = Starlette(
        routes=[
            Route("/hook", receiver.hook, methods=["POST"]),
            Route("/internal", receiver.internal, methods=["POST", "GET"]),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=receiver.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield receiver
    server.should_exit = True
    await serving


@pytest.fixture
def lenient(settings: Settings) -> Settings:
    """Loopback receivers allowed (so the redirect itself is what is tested), one attempt."""
    return settings.model_copy(
        update={
            "webhook_allow_private": True,
            "notification_max_attempts": 1,
            "notification_retry_seconds": 0.1,
        }
    )


async def test_redirects_are_never_followed_at_send_time(
    hops: Hops, lenient: Settings, engine: AsyncEngine
) -> None:
    async with (
        local_system(lenient, engine=engine, transport=MemoryTransport()) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
        ) as http,
    ):
        client = GraphQLClient(http)
        await client.sign_up()
        await client.data(REGISTER, {"u": f"http://127.0.0.1:{hops.port}/hook"})
        soon = (datetime.now(UTC) + timedelta(seconds=0.2)).isoformat()
        task = (
            await client.data(
                'mutation($at: DateTime!) { createTask(input: {title: "hop", '
                "reminders: [{remindAt: $at, channels: [WEBHOOK]}]}) { id } }",
                {"at": soon},
            )
        )["createTask"]
        async with asyncio.timeout(10):
            while True:
                state = (
                    await client.data(
                        "query($id: ID!) { task(id: $id) { reminders { state } } }",
                        {"id": task["id"]},
                    )
                )["task"]["reminders"][0]["state"]
                if state != "SCHEDULED":
                    break
                await asyncio.sleep(0.05)
    assert state == "FAILED"
    assert hops.hits == {"hook": 1, "internal": 0}
