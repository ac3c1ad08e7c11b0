"""What a service is made of, and how it runs: alone, or inside `taskstream up`.

The gateway and every worker are assembled here the same way: a service gives its parts
(consumer, routes, loops, outbox, resources) and this runtime adds what all of them share:
/healthz and /readyz, the Dapr delivery routes, the outbox relay, the pruning of processed
event ids, the metrics listener's app and the lifespan that starts and stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import Table, text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from taskstream.bootstrap import Runtime
from taskstream.exposition import metrics_response
from taskstream.messaging.bus import Subscription
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.dapr import DaprTransport
from taskstream.persistence.db import migration_branches, pending_migrations
from taskstream.persistence.outbox import OutboxRelay
from taskstream.persistence.pruning import pruning_loop

BackgroundLoop = Callable[[], Coroutine[Any, Any, None]]
Resource = Callable[[], contextlib.AbstractAsyncContextManager[Any]]
MetricsEndpoint = Callable[[Request], Awaitable[Response]]
# How often a worker prunes its processed_events table (the retention is in Settings).
PROCESSED_EVENTS_PRUNE_SECONDS = 3600.0


@dataclass
class ServiceParts:
    """What one service is made of; Service adds what every service shares."""

    name: str
    consumer: Consumer | None = None
    # Subscriptions beyond the consumer's (the gateway's live hub forwards events to browsers).
    subscriptions: list[Subscription] = field(default_factory=list)
    # What other services call: served in-process in `up`, on the app's port under Dapr.
    internal_routes: list[BaseRoute] = field(default_factory=list)
    # What clients call (the gateway's GraphQL API and web app); after every other route.
    routes: list[BaseRoute] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    background: list[BackgroundLoop] = field(default_factory=list)
    # The service's outbox table: relayed to the transport when Settings.outbox_relay is on.
    outbox: Table | None = None
    # Started before the first delivery, stopped after the transport closed (last in, first out).
    resources: list[Resource] = field(default_factory=list)
    # A public service's port is exposed by the ingress: its internal routes are served there
    # only under Dapr (whose sidecar reaches the app on that port, with the app token).
    public: bool = False
    # /readyz waits for the service's own migration branch, or (the gateway) for every branch.
    migrations: Literal["own", "all"] = "own"
    # /metrics of the metrics listener; the process-wide registry when None.
    metrics: MetricsEndpoint | None = None
    # Set on the app's state (e.g. the gateway's Services, which tests reach).
    state: dict[str, Any] = field(default_factory=dict)


class Service:
    """Runs one service's parts against a runtime: standalone (app) or in `up` (serving)."""

    def __init__(self, parts: ServiceParts, runtime: Runtime) -> None:
        self.parts = parts
        self.runtime = runtime

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Subscribe and run the background loops until the block ends (transport started)."""
        subscriptions = list(self.parts.subscriptions)
        if self.parts.consumer is not None:
            subscriptions = [*self.parts.consumer.subscriptions(), *subscriptions]
        if subscriptions:
            await self.runtime.transport.subscribe(subscriptions)
        loops = [
            asyncio.create_task(loop(), name=f"{self.parts.name}-{index}")
            for index, loop in enumerate(self.background())
        ]
        try:
            yield
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def serving(self, *, owns_transport: bool) -> AsyncIterator[None]:
        """Resources, the transport (when this service owns it) and running(), in that order."""
        async with contextlib.AsyncExitStack() as stack:
            for resource in self.parts.resources:
                await stack.enter_async_context(resource())
            if owns_transport:
                # Closed even when starting fails half way (as the services always did).
                stack.push_async_callback(self.runtime.transport.close)
                await self.runtime.transport.start()
            await stack.enter_async_context(self.running())
            yield

    def background(self) -> list[BackgroundLoop]:
        """The service's own loops, its outbox relay and the pruning of processed-event ids."""
        loops = list(self.parts.background)
        settings = self.runtime.settings
        if self.parts.outbox is not None and settings.outbox_relay:
            relay = OutboxRelay(
                self.runtime.engine,
                self.runtime.transport,
                outbox=self.parts.outbox,
                poll_seconds=settings.outbox_poll_seconds,
            )
            loops.append(relay.run)
        consumer = self.parts.consumer
        if consumer is not None:
            # Every consumer records each event it applies; without pruning that record grows
            # forever. The retention (Settings) is far longer than any redelivery.
            keep = timedelta(hours=settings.processed_events_retention_hours)
            loops.append(
                pruning_loop(
                    consumer.engine,
                    consumer.processed.c.processed_at,
                    keep,
                    interval=PROCESSED_EVENTS_PRUNE_SECONDS,
                )
            )
            bus = urlsplit(self.runtime.settings.bus_url)
            if bus.scheme == "kafka":
                # The depth of this worker's dead-letter topics, for /metrics (under Dapr the
                # chart reads it from Kafka Exporter instead: the services do not see Kafka).
                from taskstream.messaging.deadletters import depth_loop

                topics = consumer.topics
                loops.append(lambda: depth_loop(bus.netloc, topics))
        return loops

    def internal_app(self) -> Starlette:
        """Only the internal routes: what other services call (in-process in `up`)."""
        return Starlette(routes=list(self.parts.internal_routes))

    def app(self) -> Starlette:
        """The standalone app: health, Dapr delivery, internal and public routes, lifespan.

        Its state carries `metrics_app`, served by the command on the metrics listener.
        """
        routes: list[BaseRoute] = health_routes(self.runtime, migration_branch=self._branch())
        transport = self.runtime.transport
        under_dapr = isinstance(transport, DaprTransport)
        if isinstance(transport, DaprTransport):
            routes.extend(transport.routes())
        if under_dapr or not self.parts.public:
            routes.extend(self.parts.internal_routes)
        routes.extend(self.parts.routes)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                async with self.serving(owns_transport=True):
                    yield
            finally:
                await self.runtime.close()

        app = Starlette(routes=routes, lifespan=lifespan, middleware=self.parts.middleware)
        for key, value in self.parts.state.items():
            setattr(app.state, key, value)
        # /metrics is never on the service's own port: the command serves this app apart.
        app.state.metrics_app = self.metrics_app()
        return app

    def metrics_app(self) -> Starlette:
        """/metrics alone, served on the metrics listener (never on the service's own port)."""
        return metrics_app(self.parts.metrics)

    def _branch(self) -> str | Literal[False] | None:
        if self.parts.migrations == "all":
            return None
        # A worker's own migrations are the branch named after it (alembic/versions/).
        return self.parts.name if self.parts.name in migration_branches() else False


def metrics_app(endpoint: Callable[[Request], Awaitable[Response]] | None = None) -> Starlette:
    """The app of the metrics listener: /metrics (the process-wide registry by default).

    It is served on its own host and port (TASKSTREAM_METRICS_HOST/_PORT, loopback by default),
    so the public port, which the ingress exposes, never answers /metrics.
    """

    async def process_metrics(request: Request) -> Response:
        return metrics_response(request)

    return Starlette(routes=[Route("/metrics", endpoint or process_metrics)])


def health_routes(
    runtime: Runtime, *, migration_branch: str | Literal[False] | None = False
) -> list[BaseRoute]:
    """/healthz and /readyz: the database reachable and migrations at head.

    `migration_branch`: the branch that must be at head; None for every branch, False for none.
    """

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            # A worker waits for its own branch only, not for other services' migrations.
            if migration_branch is not False and await pending_migrations(
                runtime.engine, branch=migration_branch
            ):
                return JSONResponse(
                    {"status": "unready", "reason": "migrations pending"}, status_code=503
                )
        except Exception:
            return JSONResponse(
                {"status": "unready", "reason": "database unreachable"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
