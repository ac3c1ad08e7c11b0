"""The composition root of `taskstream up`: every service in one process.

The gateway and the workers each get their own Runtime, sharing one engine and one in-process
transport, and each is assembled by the same service runtime (taskstream/service.py) as when it
runs alone; their internal APIs are registered with the in-process invoker, so services reach
each other exactly as they would through Dapr, minus the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from taskstream import telemetry
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.messaging.bus import Transport
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.dead_letters import PostgresDeadLetters
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings

Build = Callable[[Runtime], ServiceParts]


# Each service's modules are imported only when it runs (a worker's container never loads the
# gateway), by plain imports inside these functions, which import-linter follows.
def _gateway() -> Build:
    from gateway.app import build

    return build


def _recurrence() -> Build:
    from workers.recurrence.main import build

    return build


def _notifications() -> Build:
    from workers.notifications.main import build

    return build


def _audit() -> Build:
    from workers.audit.main import build

    return build


WORKERS: dict[str, Callable[[], Build]] = {
    "recurrence": _recurrence,
    "notifications": _notifications,
    "audit": _audit,
}


def load_worker(name: str) -> Build:
    """The build function of a worker, imported only when that worker runs."""
    if name not in WORKERS:
        raise SystemExit(f"unknown worker {name!r}; choose one of {', '.join(sorted(WORKERS))}")
    return WORKERS[name]()


@contextlib.asynccontextmanager
async def local_system(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    transport: Transport | None = None,
) -> AsyncIterator[Starlette]:
    """The gateway app with every worker running beside it, until the block ends.

    The app's own lifespan (transport, live hub, outbox relay) runs inside this context, so
    callers serve the returned app with lifespan handling off or simply call it in-process.
    """
    runtime = bootstrap(settings, app_id="gateway", engine=engine, transport=transport)
    if isinstance(runtime.transport, MemoryTransport):
        # No broker keeps a dead-letter topic: PostgreSQL does, for `taskstream dlq`.
        runtime.transport.keep_dead_letter = PostgresDeadLetters(runtime.engine).keep
    gateway = Service(_gateway()(runtime), runtime)
    workers = []
    for name in WORKERS:
        worker_runtime = bootstrap(
            settings,
            app_id=name,
            engine=runtime.engine,
            transport=runtime.transport,
            invoker=runtime.invoker,
        )
        workers.append(Service(load_worker(name)(worker_runtime), worker_runtime))
    for service in [gateway, *workers]:
        runtime.invoker.add_local(service.parts.name, service.internal_app())
    app = gateway.app()
    telemetry.instrument_app(app)
    async with contextlib.AsyncExitStack() as stack:
        # The gateway's lifespan starts the shared transport and closes it last.
        await stack.enter_async_context(app.router.lifespan_context(app))
        for worker in workers:
            await stack.enter_async_context(worker.serving(owns_transport=False))
        yield app
