"""PostgreSQL unable to serve (stopped mid-request, read-only, pool exhausted): the gateway
answers UNAVAILABLE with `retryAfter` (503 and Retry-After under
application/graphql-response+json), never INTERNAL, and nothing is half-written."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from devstack.postgres import EmbeddedPostgres
from gateway.app import create_app
from taskstream.bootstrap import bootstrap
from taskstream.errors import UNAVAILABLE_RETRY_AFTER_SECONDS
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.settings import Settings

pytestmark = pytest.mark.integration

GRAPHQL_RESPONSE = "application/graphql-response+json"
SIGN_UP = "mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }"
CREATE = "mutation($t: String!) { createTask(input: {title: $t}) { id title } }"
TITLES = "query { tasks(first: 50) { edges { node { title } } } }"


@dataclass
class Gateway:
    """A gateway on a PostgreSQL of its own, which the test may stop and start."""

    server: EmbeddedPostgres
    engine: AsyncEngine
    http: httpx.AsyncClient
    token: str
    app: Any

    async def post(self, query: str, variables: dict[str, Any], accept: str) -> httpx.Response:
        """One operation as the signed-up user, accepting `accept`."""
        return await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}", "Accept": accept},
        )

    async def titles(self) -> list[str]:
        """The titles of the user's tasks, read through the API."""
        response = await self.post(TITLES, {}, "application/json")
        body = response.json()
        assert "errors" not in body, body
        return [edge["node"]["title"] for edge in body["data"]["tasks"]["edges"]]


@contextlib.asynccontextmanager
async def gateway_on_own_postgres(
    *, pool_timeout: float = 30.0, **settings_overrides: Any
) -> AsyncIterator[Gateway]:
    """The gateway app (in-process) on a fresh embedded PostgreSQL, one user signed up."""
    with tempfile.TemporaryDirectory(prefix="taskstream-unavailable-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", durable=False)
        url = await asyncio.to_thread(server.start)
        engine = create_engine(url, pool_size=2, pool_timeout=pool_timeout)
        try:
            await migrate(engine)
            settings = Settings(
                env="development",
                database_url=url,
                jwt_secret=SecretStr("test-signing-key-" + uuid.uuid4().hex),
                **settings_overrides,
            )
            runtime = bootstrap(
                settings, app_id="gateway", engine=engine, transport=MemoryTransport()
            )
            app = create_app(runtime)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://taskstream.test"
            ) as http:
                signed = await http.post(
                    "/graphql",
                    json={
                        "query": SIGN_UP,
                        "variables": {"e": f"{uuid.uuid4().hex[:10]}@example.com", "p": "x" * 12},
                    },
                )
                token = signed.json()["data"]["signUp"]["token"]
                yield Gateway(server, engine, http, token, app)
        finally:
            await engine.dispose()
            await asyncio.to_thread(server.stop)


def assert_unavailable(response: httpx.Response, *, media_type: str) -> dict[str, Any]:
    """The response is UNAVAILABLE with retryAfter, under the status its media type wants."""
    body: dict[str, Any] = response.json()
    assert response.headers["content-type"].startswith(media_type), response.headers
    codes = [error.get("extensions", {}).get("code") for error in body["errors"]]
    assert codes and set(codes) == {"UNAVAILABLE"}, body
    error: dict[str, Any] = body["errors"][0]
    assert error["extensions"]["retryAfter"] == UNAVAILABLE_RETRY_AFTER_SECONDS
    assert "SELECT" not in error["message"] and "INSERT" not in error["message"], error
    if media_type == GRAPHQL_RESPONSE:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    else:
        assert response.status_code == 200, response.text
    return error


async def wait_until_blocked(admin: AsyncEngine) -> None:
    """Return once some other session waits for a lock (the request, on the test's lock)."""
    while True:
        async with admin.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.05)


async def locked_tasks(connection: AsyncConnection) -> None:
    """Hold an exclusive lock on the tasks table in `connection`'s open transaction."""
    await connection.execute(text("LOCK TABLE gateway.tasks IN ACCESS EXCLUSIVE MODE"))


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_postgres_stopped_mid_request_is_unavailable_and_nothing_written(
    accept: str,
) -> None:
    async with gateway_on_own_postgres() as gateway:
        admin = create_engine(gateway.server.url, pool_size=4)
        try:
            title = f"half-{uuid.uuid4().hex[:8]}"
            holder = await admin.connect()
            transaction = await holder.begin()
            await locked_tasks(holder)
            # The mutation is inside its transaction, blocked on the lock, when the server stops.
            request = asyncio.create_task(gateway.post(CREATE, {"t": title}, accept))
            await wait_until_blocked(admin)
            await asyncio.to_thread(gateway.server.stop)
            with contextlib.suppress(Exception):
                await transaction.rollback()
            with contextlib.suppress(Exception):
                await holder.close()
            error = assert_unavailable(await request, media_type=accept)
            assert "nothing was changed" in error["message"], error
            assert error["path"] == ["createTask"], error

            # While it is down, every request (the token's check included) says the same.
            down = await gateway.post(TITLES, {}, accept)
            assert_unavailable(down, media_type=accept)

            await asyncio.to_thread(gateway.server.start)
            assert title not in await gateway.titles()
            retried = await gateway.post(CREATE, {"t": title}, accept)
            assert retried.status_code == 200 and "errors" not in retried.json(), retried.text
            assert (await gateway.titles()).count(title) == 1
            async with admin.connect() as connection:
                outbox = await connection.scalar(
                    text("SELECT count(*) FROM gateway.outbox WHERE payload::text LIKE :t"),
                    {"t": f"%{title}%"},
                )
            assert outbox == 1, "the retry's event alone, none of the failed attempt"
        finally:
            await admin.dispose()


async def test_a_read_only_database_is_unavailable_not_internal() -> None:
    async with gateway_on_own_postgres() as gateway:
        admin = create_engine(gateway.server.url, pool_size=2)
        try:
            async with admin.connect() as connection:
                await connection.execute(
                    text("ALTER DATABASE taskstream SET default_transaction_read_only = on")
                )
                await connection.commit()
            # Pooled connections keep their settings: new ones see the database read-only.
            await gateway.engine.dispose()
            title = f"ro-{uuid.uuid4().hex[:8]}"
            error = assert_unavailable(
                await gateway.post(CREATE, {"t": title}, GRAPHQL_RESPONSE),
                media_type=GRAPHQL_RESPONSE,
            )
            assert "nothing was changed" in error["message"], error
            async with admin.connect() as connection:
                await connection.execute(
                    text("ALTER DATABASE taskstream SET default_transaction_read_only = off")
                )
                await connection.commit()
            await gateway.engine.dispose()
            assert title not in await gateway.titles()
        finally:
            await admin.dispose()


async def test_an_exhausted_pool_is_unavailable_after_its_timeout() -> None:
    async with gateway_on_own_postgres(pool_timeout=0.2) as gateway:
        # pool_size=2: two connections in all, both held here.
        first = await gateway.engine.connect()
        second = await gateway.engine.connect()
        try:
            title = f"pool-{uuid.uuid4().hex[:8]}"
            assert_unavailable(
                await gateway.post(CREATE, {"t": title}, GRAPHQL_RESPONSE),
                media_type=GRAPHQL_RESPONSE,
            )
        finally:
            await first.close()
            await second.close()
        assert title not in await gateway.titles()


async def test_a_socket_whose_token_cannot_be_checked_is_closed_1013() -> None:
    async with gateway_on_own_postgres() as gateway:
        config = uvicorn.Config(
            gateway.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            await asyncio.to_thread(gateway.server.stop)
            url = f"ws://127.0.0.1:{port}/graphql"
            async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                init = {"authorization": f"Bearer {gateway.token}"}
                await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None
            # Try again later, not 4403: the token may well be valid.
            assert closed.value.rcvd.code == 1013, closed.value.rcvd
            await asyncio.to_thread(gateway.server.start)
        finally:
            server.should_exit = True
            await serving


async def test_a_connection_lost_during_commit_says_the_outcome_is_unknown() -> None:
    # The limits live in this same database (gateway.shared_state): a first mutation leases a
    # slice of the account's budgets for a minute, so the request under test counts itself in
    # memory and the only COMMIT left to wait for the standby is the mutation's own.
    leases = {"rate_limit_lease_seconds": 60.0, "rate_limit_lease_fraction": 0.25}
    async with gateway_on_own_postgres(**leases) as gateway:
        warm = await gateway.post(CREATE, {"t": "lease"}, GRAPHQL_RESPONSE)
        assert warm.status_code == 200 and "errors" not in warm.json(), warm.text
        admin = create_engine(gateway.server.url, pool_size=2)
        try:
            async with admin.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                # The admin's own commits must not wait for the standby that never comes.
                await connection.execute(text("SET synchronous_commit = local"))
                # A synchronous standby nobody provides: COMMIT is written locally, then waits
                # for its acknowledgement (per-database setting: it beats the test server's
                # command-line synchronous_commit=off).
                await connection.execute(
                    text("ALTER DATABASE taskstream SET synchronous_commit = on")
                )
                await connection.execute(
                    text("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
                )
                await connection.execute(text("SELECT pg_reload_conf()"))
            await gateway.engine.dispose()
            title = f"commit-{uuid.uuid4().hex[:8]}"
            request = asyncio.create_task(gateway.post(CREATE, {"t": title}, GRAPHQL_RESPONSE))
            while True:
                async with admin.connect() as connection:
                    waiting = await connection.scalar(
                        text("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
                    )
                if waiting:
                    break
                await asyncio.sleep(0.05)
            async with admin.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("SET synchronous_commit = local"))
                # Undone for the next start only (no reload: the waiting COMMIT stays waiting).
                await connection.execute(text("ALTER SYSTEM RESET synchronous_standby_names"))
                await connection.execute(text("ALTER DATABASE taskstream RESET synchronous_commit"))
            await admin.dispose()
            await asyncio.to_thread(gateway.server.stop)
            error = assert_unavailable(await request, media_type=GRAPHQL_RESPONSE)
            assert "nothing was changed" not in error["message"], error
            assert "may or may not have been saved" in error["message"], error
            await asyncio.to_thread(gateway.server.start)
            # Why the answer must not say "nothing was changed": the commit was written locally.
            assert (await gateway.titles()).count(title) == 1
        finally:
            await admin.dispose()
