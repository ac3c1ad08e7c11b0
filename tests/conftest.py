"""Fixtures shared by every layer: a real PostgreSQL, the app, and a GraphQL client."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from devstack.postgres import EmbeddedPostgres
from gateway.app import create_app
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.settings import Settings


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A real PostgreSQL: DATABASE_URL when set, else an embedded server for this run."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="taskstream-test-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", durable=False)
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated test database."""
    engine = create_engine(database_url, pool_size=10)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Development settings (introspection on) pointed at the test database."""
    return Settings(
        env="development",
        database_url=database_url,
        jwt_secret=SecretStr("test-signing-key-" + uuid.uuid4().hex),
        webhook_allow_private=False,
        # Every test signs up from the same address; the limits have tests of their own.
        login_attempts_per_address_per_minute=1_000_000,
        login_attempts_per_minute=1_000_000,
        signups_per_address_per_hour=1_000_000,
        mutations_per_minute=1_000_000,
        graphql_cost_per_second=1_000_000_000,
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings, engine: AsyncEngine) -> Runtime:
    """The gateway's runtime on the test database with an in-process bus."""
    return bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())


@pytest.fixture(scope="session")
def app(runtime: Runtime) -> Starlette:
    """The gateway app on the test database."""
    return create_app(runtime)


class GraphQLClient:
    """Posts GraphQL operations to the app over HTTP, as a client would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.token: str | None = None

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """The whole response body of one operation."""
        headers = {}
        bearer = token if token is not None else self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of an operation that must succeed."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The first error of an operation that must fail."""
        body = await self.execute(query, variables)
        assert body.get("errors"), body
        error: dict[str, Any] = body["errors"][0]
        return error

    async def sign_up(self, email: str | None = None, timezone: str = "UTC") -> dict[str, Any]:
        """A new account; this client then acts as it."""
        data = await self.data(
            "mutation($e: String!, $p: String!, $tz: String) { signUp(email: $e, password: $p, "
            "timezone: $tz) { token user { id email timezone } } }",
            {
                "e": email or f"user-{uuid.uuid4().hex[:12]}@example.com",
                "p": "correct horse",
                "tz": timezone,
            },
        )
        self.token = data["signUp"]["token"]
        user: dict[str, Any] = data["signUp"]["user"]
        return user


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://taskstream.test") as client:
        yield client


@pytest.fixture
def gql(http: httpx.AsyncClient) -> GraphQLClient:
    """A GraphQL client with no account yet."""
    return GraphQLClient(http)


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> GraphQLClient:
    """A client signed up as a fresh user."""
    client = GraphQLClient(http)
    await client.sign_up()
    return client


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> GraphQLClient:
    """A second, unrelated user."""
    client = GraphQLClient(http)
    await client.sign_up()
    return client


@pytest.fixture
async def system(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the whole in-process system (`taskstream up` minus the server)."""
    from cli.composition import local_system

    async with local_system(settings, engine=engine, transport=MemoryTransport()) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://taskstream.test") as c:
            yield c


@pytest.fixture
async def carol(system: httpx.AsyncClient) -> GraphQLClient:
    """A user of the whole in-process system."""
    client = GraphQLClient(system)
    await client.sign_up(timezone="Europe/Berlin")
    return client


async def taskstream_cli(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run the real command line (in `env`, else this process's); exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        env=dict(os.environ if env is None else env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
