"""A worker's /readyz waits for its own migration branch, as the gateway's waits for all."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import migrate, migration_branches
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings

pytestmark = pytest.mark.integration

PENDING = {"status": "unready", "reason": "migrations pending"}


async def readiness(engine: AsyncEngine, settings: Settings, worker: str) -> dict[str, str]:
    """What the standalone app of `worker` answers on /readyz for this database."""
    runtime = bootstrap(settings, app_id=worker, engine=engine, transport=MemoryTransport())
    app = Service(ServiceParts(name=worker), runtime).app()
    # No lifespan: only the health routes are exercised, nothing is subscribed or started.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker.test") as http:
        response = await http.get("/readyz")
    await runtime.invoker.close()
    body: dict[str, str] = response.json()
    assert response.status_code == (200 if body == {"status": "ready"} else 503)
    return body


def test_every_worker_has_its_own_branch() -> None:
    assert migration_branches() == {"recurrence", "notifications", "audit"}


async def test_worker_is_ready_once_its_own_branch_is_at_head(
    scratch_engine: AsyncEngine, settings: Settings
) -> None:
    assert await readiness(scratch_engine, settings, "audit") == PENDING
    await migrate(scratch_engine, revision="0001")
    assert await readiness(scratch_engine, settings, "audit") == PENDING
    await migrate(scratch_engine, revision="audit@head")
    assert await readiness(scratch_engine, settings, "audit") == {"status": "ready"}
    # Another worker's branch is not this worker's business, and vice versa.
    assert await readiness(scratch_engine, settings, "recurrence") == PENDING
    await migrate(scratch_engine)
    for worker in sorted(migration_branches()):
        assert await readiness(scratch_engine, settings, worker) == {"status": "ready"}


async def test_unreachable_database_is_reported(settings: Settings) -> None:
    from taskstream.persistence.db import create_engine

    engine = create_engine("postgresql://nobody:wrong@127.0.0.1:1/none", pool_size=2)
    try:
        assert await readiness(engine, settings, "recurrence") == {
            "status": "unready",
            "reason": "database unreachable",
        }
    finally:
        await engine.dispose()


async def test_gateway_is_ready_once_every_branch_is_at_head(
    scratch_engine: AsyncEngine, settings: Settings
) -> None:
    from gateway.app import create_app

    runtime = bootstrap(
        settings, app_id="gateway", engine=scratch_engine, transport=MemoryTransport()
    )
    # The gateway's app, assembled by the service runtime like the workers' (no lifespan here).
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        await migrate(scratch_engine, revision="0001")
        assert (await http.get("/readyz")).json() == PENDING
        for worker in sorted(migration_branches()):
            await migrate(scratch_engine, revision=f"{worker}@head")
        # Every branch but the gateway's own newest revisions: still pending.
        answer = await http.get("/readyz")
        assert (answer.status_code, answer.json()) == (503, PENDING)
        await migrate(scratch_engine)
        answer = await http.get("/readyz")
        assert (answer.status_code, answer.json()) == (200, {"status": "ready"})
        assert (await http.get("/healthz")).json() == {"status": "ok"}
    await runtime.invoker.close()
