"""Statement timeouts and request deadlines: past either, TIMEOUT, nothing changed, nothing held.

Each test serves the gateway with short limits and makes one step of a real request slow: a
real `pg_sleep` on the request's own connection (a statement PostgreSQL must cancel), or a
service call that never answers (work that is not SQL). The answer must be code TIMEOUT with no
SQL in it, a mutation must leave neither its change nor its outbox event behind, and every
connection the request took must be back in the pool with no statement still running.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
import websockets
from sqlalchemy import Text, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from websockets.typing import Subprotocol

from cli.composition import local_system
from gateway.app import create_app
from gateway_core.persistence import reads
from gateway_core.persistence import tables as t
from gateway_core.persistence.repositories import TaskRepository
from gateway_core.persistence.uow import UnitOfWork
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.internal_api import internal
from taskstream.invocation import STATEMENT_TIMEOUT_HEADER, ServiceInvoker
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, statement_timeout
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.security.conftest import free_port

pytestmark = pytest.mark.integration

SLEEP = "SELECT pg_sleep(30)"
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"


def gateway(settings: Settings, engine: AsyncEngine, **limits: float) -> Runtime:
    """The gateway's runtime with these limits, on the test database."""
    return bootstrap(
        settings.model_copy(update=limits),
        app_id="gateway",
        engine=engine,
        transport=MemoryTransport(),
    )


@pytest.fixture
async def served(
    alice: GraphQLClient,
) -> AsyncIterator[Callable[[Runtime], Awaitable[GraphQLClient]]]:
    """A factory: a client of the gateway of a runtime, acting as Alice.

    Alice signs up through the usual gateway: hashing her password may take longer than
    the short deadlines these tests give.
    """
    clients: list[httpx.AsyncClient] = []

    async def client(runtime: Runtime) -> GraphQLClient:
        transport = httpx.ASGITransport(app=create_app(runtime))
        http = httpx.AsyncClient(transport=transport, base_url="http://taskstream.test")
        clients.append(http)
        gql = GraphQLClient(http)
        gql.token = alice.token
        return gql

    yield client
    for http in clients:
        await http.aclose()


async def sleeping_backends(engine: AsyncEngine) -> int:
    """Sessions of this database running a pg_sleep now (other than this query)."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()"
            )
        )
    return int(found or 0)


async def settled(engine: AsyncEngine, checked_out: int) -> None:
    """Every connection back in the pool and no sleeping statement left on the server."""
    assert engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
    assert await sleeping_backends(engine) == 0


async def assert_nothing_stored(engine: AsyncEngine, title: str) -> None:
    """Neither a task with this title nor an outbox event carrying it exists."""
    async with engine.connect() as connection:
        tasks = await connection.scalar(
            select(func.count()).select_from(t.tasks).where(t.tasks.c.title == title)
        )
        events = await connection.scalar(
            select(func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.payload.cast(Text).contains(title))
        )
    assert (tasks, events) == (0, 0)


def slow_task_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """`task(id:)` runs a slow statement on its own connection before its real read."""
    real = reads.tasks_by_id

    async def slow(connection: AsyncConnection, *args: Any, **kwargs: Any) -> Any:
        await connection.execute(text(SLEEP))
        return await real(connection, *args, **kwargs)

    monkeypatch.setattr(reads, "tasks_by_id", slow)


def slow_before_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A createTask's unit of work places the task (its read), then runs a slow statement before
    the write of its rows and events (the write that commits them)."""
    real = TaskRepository.place

    async def slow(self: TaskRepository, task: Any) -> None:
        await real(self, task)
        await self.connection.execute(text(SLEEP))

    monkeypatch.setattr(TaskRepository, "place", slow)


def assert_timeout(body: dict[str, Any]) -> str:
    """The single error of the body is TIMEOUT, with nothing of the SQL in it."""
    [error] = body["errors"]
    assert error["extensions"]["code"] == "TIMEOUT", error
    message: str = error["message"]
    assert "pg_sleep" not in message and "SELECT" not in message and "cancel" not in message
    return message


async def test_a_slow_statement_is_cancelled_as_timeout_and_its_connection_returned(
    settings: Settings, engine: AsyncEngine, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await served(
        gateway(settings, engine, statement_timeout_seconds=0.2, request_timeout_seconds=60)
    )
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    slow_task_reads(monkeypatch)
    body = await client.execute(
        "query($id: ID!) { task(id: $id) { id } }", {"id": str(uuid.uuid4())}
    )
    assert_timeout(body)
    await settled(engine, before)


async def test_a_mutation_whose_statement_times_out_changes_nothing_and_emits_nothing(
    settings: Settings, engine: AsyncEngine, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await served(
        gateway(settings, engine, statement_timeout_seconds=0.2, request_timeout_seconds=60)
    )
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    slow_before_commit(monkeypatch)
    title = f"timed out {uuid.uuid4().hex}"
    assert_timeout(await client.execute(CREATE, {"i": {"title": title}}))
    await settled(engine, before)
    await assert_nothing_stored(engine, title)


async def test_the_request_deadline_cancels_a_running_mutation_and_rolls_it_back(
    settings: Settings, engine: AsyncEngine, served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The statement timeout is far; the request's deadline ends it first.
    client = await served(
        gateway(settings, engine, statement_timeout_seconds=60, request_timeout_seconds=0.3)
    )
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    slow_before_commit(monkeypatch)
    title = f"past deadline {uuid.uuid4().hex}"
    assert "deadline" in assert_timeout(await client.execute(CREATE, {"i": {"title": title}}))
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]
    await assert_nothing_stored(engine, title)
    # The cancelled statement does not keep running on the server either.
    async with asyncio.timeout(10):
        while await sleeping_backends(engine):
            await asyncio.sleep(0.05)


async def test_the_deadline_covers_work_that_is_not_sql(
    settings: Settings, engine: AsyncEngine, served: Any
) -> None:
    runtime = gateway(settings, engine, request_timeout_seconds=0.3)
    never = asyncio.Event()

    async def audit_service_that_never_answers(scope: Scope, receive: Receive, send: Send) -> None:
        await never.wait()

    runtime.invoker.add_local("audit", audit_service_that_never_answers)
    client = await served(runtime)
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    body = await client.execute("{ auditLog(first: 5) { totalCount } }")
    assert "deadline" in assert_timeout(body)
    assert engine.pool.checkedout() == before  # type: ignore[attr-defined]


async def test_statements_outside_requests_keep_the_engines_own_timeout(
    database_url: str,
) -> None:
    # Workers get the engine's (larger) timeout; a request's is set only within its block.
    pooled = create_engine(database_url, pool_size=2, statement_timeout=7)

    async def current() -> str:
        async with pooled.connect() as connection:
            return str(await connection.scalar(text("SHOW statement_timeout")))

    try:
        assert await current() == "7s"
        with statement_timeout(0.25):
            assert await current() == "250ms"
        assert await current() == "7s"
        with statement_timeout(0):
            assert await current() == "0"
    finally:
        await pooled.dispose()


async def test_a_cancellation_during_commit_lets_the_commit_finish(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The request deadline arriving while COMMIT is under way must not report as stopped a
    # change that PostgreSQL committed: the commit finishes and the cancellation is absorbed.
    started, gate = asyncio.Event(), asyncio.Event()
    name = f"committed-{uuid.uuid4().hex}"

    async def work() -> str:
        async with UnitOfWork(engine) as unit:
            await unit.connection.execute(
                insert(t.outbox).values(
                    event_id=uuid.uuid4(),
                    topic="probe",
                    partition_key="probe",
                    type="probe",
                    payload={"probe": name},
                )
            )
            await unit.commit()
        return "committed"

    real_commit = AsyncTransaction.commit

    async def held_commit(transaction: AsyncTransaction) -> None:
        started.set()
        await gate.wait()
        await real_commit(transaction)

    monkeypatch.setattr(AsyncTransaction, "commit", held_commit)
    task = asyncio.create_task(work())
    async with asyncio.timeout(10):
        await started.wait()
    task.cancel()
    gate.set()
    assert await task == "committed"
    async with engine.begin() as connection:
        found = await connection.scalar(
            delete(t.outbox).where(t.outbox.c.type == "probe").returning(t.outbox.c.payload)
        )
    assert found == {"probe": name}


async def test_a_statement_timeout_in_a_service_called_for_a_request_is_timeout(
    settings: Settings, engine: AsyncEngine, alice: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # auditLog is answered by the audit service through service invocation: the request's
    # statement timeout travels with the call, and the service's TIMEOUT comes back as such.
    from workers.audit import trail

    real = trail.page

    async def slow(connection: AsyncConnection, **kwargs: Any) -> Any:
        await connection.execute(text(SLEEP))
        return await real(connection, **kwargs)

    monkeypatch.setattr(trail, "page", slow)
    quick = settings.model_copy(
        update={"statement_timeout_seconds": 0.2, "request_timeout_seconds": 60}
    )
    before = engine.pool.checkedout()  # type: ignore[attr-defined]
    async with (
        local_system(quick, engine=engine, transport=MemoryTransport()) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
        ) as http,
    ):
        client = GraphQLClient(http)
        client.token = alice.token
        assert_timeout(await client.execute("{ auditLog(first: 5) { totalCount } }"))
    await settled(engine, before)


async def test_service_calls_carry_the_statement_timeout_of_the_request_they_serve(
    database_url: str,
) -> None:
    pooled = create_engine(database_url, pool_size=2, statement_timeout=7)

    async def show(request: Request) -> Any:
        async with pooled.connect() as connection:
            timeout = str(await connection.scalar(text("SHOW statement_timeout")))
        return {"header": request.headers.get(STATEMENT_TIMEOUT_HEADER), "timeout": timeout}

    service = Starlette(routes=[Route("/t", internal(show, app_token=None))])
    invoker = ServiceInvoker.in_process(app_token=None)
    invoker.add_local("probe", service)
    try:
        assert await invoker.call("probe", "GET", "/t") == {"header": None, "timeout": "7s"}
        with statement_timeout(0.25):
            answer = await invoker.call("probe", "GET", "/t")
        assert answer == {"header": "250", "timeout": "250ms"}
        # The service applies the header itself: through Dapr no context travels with a call.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service), base_url="http://probe"
        ) as http:
            response = await http.get("/t", headers={STATEMENT_TIMEOUT_HEADER: "300"})
        assert response.json() == {"header": "300", "timeout": "300ms"}
    finally:
        await invoker.close()
        await pooled.dispose()


async def test_operations_over_a_websocket_run_under_the_statement_timeout(
    settings: Settings, engine: AsyncEngine, alice: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = settings.model_copy(
        update={"statement_timeout_seconds": 0.2, "request_timeout_seconds": 60}
    )
    slow_task_reads(monkeypatch)
    async with local_system(quick, engine=engine, transport=MemoryTransport()) as app:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            async with asyncio.timeout(30):
                while not server.started:
                    await asyncio.sleep(0.02)
                async with websockets.connect(
                    f"ws://127.0.0.1:{config.port}/graphql",
                    subprotocols=[Subprotocol("graphql-transport-ws")],
                ) as ws:
                    init = {"authorization": f"Bearer {alice.token}"}
                    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                    assert json.loads(await ws.recv())["type"] == "connection_ack"
                    query = f'{{ task(id: "{uuid.uuid4()}") {{ id }} }}'
                    message = {"id": "1", "type": "subscribe", "payload": {"query": query}}
                    await ws.send(json.dumps(message))
                    answer = json.loads(await ws.recv())
            assert answer["type"] == "next", answer
            assert_timeout(answer["payload"])
        finally:
            server.should_exit = True
            await serving
    assert await sleeping_backends(engine) == 0


async def test_a_cancellation_while_a_connection_gets_its_timeout_leaves_no_connection_behind(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deadline may strike while a checked-out connection is being given its timeout (a SET
    # in flight): the pool discards that connection, closed, and nothing is left checked out.
    pooled = create_engine(database_url, pool_size=2, statement_timeout=7)
    real_execute = asyncpg.Connection.execute
    setting: list[asyncpg.Connection] = []
    started = asyncio.Event()

    async def slow_set(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        if query.startswith("SET statement_timeout"):
            setting.append(self)
            started.set()
            # Still on the server when the cancellation comes.
            query = f"SELECT pg_sleep(0.5); {query}"
        return await real_execute(self, query, *args, **kwargs)

    async def checkout() -> None:
        with statement_timeout(0.25):
            async with pooled.connect() as connection:
                await connection.execute(text("SELECT 1"))

    try:
        async with pooled.connect() as connection:  # a pooled connection at the default
            await connection.execute(text("SELECT 1"))
        monkeypatch.setattr(asyncpg.Connection, "execute", slow_set)
        task = asyncio.create_task(checkout())
        async with asyncio.timeout(10):
            await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pooled.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert setting[0].is_closed()
    finally:
        monkeypatch.undo()
        await pooled.dispose()
