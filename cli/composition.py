"""The composition root of `taskstream up`: every service in one process.

The gateway and the workers each get their own Runtime, sharing one engine and one in-process
transport; their internal APIs are registered with the in-process invoker, so workers reach
the gateway exactly as they would through Dapr, minus the network.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from taskstream import telemetry
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.messaging.bus import Transport
from taskstream.service import ServiceParts, WorkerService
from taskstream.settings import Settings

WORKERS = {
    "recurrence": "workers.recurrence.main:build",
    "notifications": "workers.notifications.main:build",
    "audit": "workers.audit.main:build",
}


def load_worker(name: str) -> Callable[[Runtime], ServiceParts]:
    """The build function of a worker, imported only when that worker runs."""
    if name not in WORKERS:
        raise SystemExit(f"unknown worker {name!r}; choose one of {', '.join(sorted(WORKERS))}")
    module_name, _, attribute = WORKERS[name].partition(":")
    build: Callable[[Runtime], ServiceParts] = getattr(
        importlib.import_module(module_name), attribute
    )
    return build


@contextlib.asynccontextmanager
async def local_system(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[Starlette]:
    """The gateway app with every worker running beside it, until the block ends.

    The app's own lifespan (transport, outbox relay) runs inside this context, so callers
    serve the returned app with lifespan handling off or simply call it in-process.
    """
    from gateway.app import create_app, create_internal_app

    gateway = bootstrap(settings, app_id="gateway", engine=engine, transport=transport)
    workers = []
    for name in WORKERS:
        runtime = bootstrap(
            settings,
            app_id=name,
            engine=gateway.engine,
            transport=gateway.transport,
            invoker=gateway.invoker,
        )
        workers.append(WorkerService(load_worker(name)(runtime), runtime))
    gateway.invoker.add_local("gateway", create_internal_app(gateway))
    for worker in workers:
        gateway.invoker.add_local(worker.parts.name, worker.internal_app())
    app = create_app(gateway)
    telemetry.instrument_app(app)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        for worker in workers:
            await stack.enter_async_context(worker.running())
        yield app
