"""What a worker service is made of, and how it runs: alone, or inside `taskstream up`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from taskstream.bootstrap import Runtime
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.dapr import DaprTransport
from taskstream.persistence.db import migration_branches, pending_migrations
from taskstream.persistence.pruning import pruning_loop

BackgroundLoop = Callable[[], Coroutine[Any, Any, None]]
# How often a worker prunes its processed_events table (the retention is in Settings).
PROCESSED_EVENTS_PRUNE_SECONDS = 3600.0


@dataclass
class ServiceParts:
    """A worker's consumer, the internal routes it offers, and its background loops."""

    name: str
    consumer: Consumer | None = None
    internal_routes: list[BaseRoute] = field(default_factory=list)
    background: list[BackgroundLoop] = field(default_factory=list)


class WorkerService:
    """Runs one worker's parts against a runtime."""

    def __init__(self, parts: ServiceParts, runtime: Runtime) -> None:
        self.parts = parts
        self.runtime = runtime

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Subscribe the consumer and run the background loops until the block ends."""
        if self.parts.consumer is not None:
            await self.runtime.transport.subscribe(self.parts.consumer.subscriptions())
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

    def background(self) -> list[BackgroundLoop]:
        """The worker's own loops, and the pruning of its consumer's processed-event ids."""
        loops = list(self.parts.background)
        consumer = self.parts.consumer
        if consumer is not None:
            # Every consumer records each event it applies; without pruning that record grows
            # forever. The retention (Settings) is far longer than any redelivery.
            keep = timedelta(hours=self.runtime.settings.processed_events_retention_hours)
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
        """The standalone app: internal routes, Dapr delivery routes, health and metrics."""
        routes = list(self.parts.internal_routes)
        if isinstance(self.runtime.transport, DaprTransport):
            routes.extend(self.runtime.transport.routes())
        # A worker's own migrations are the branch named after it (alembic/versions/).
        branch = self.parts.name if self.parts.name in migration_branches() else None
        routes.extend(health_routes(self.runtime, migration_branch=branch))

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await self.runtime.transport.start()
            try:
                async with self.running():
                    yield
            finally:
                await self.runtime.transport.close()
                await self.runtime.close()

        return Starlette(routes=routes, lifespan=lifespan)

    def metrics_app(self) -> Starlette:
        """/metrics alone, served on the metrics listener (never on the service's own port)."""
        return metrics_app()


def metrics_app(endpoint: Callable[[Request], Awaitable[Response]] | None = None) -> Starlette:
    """The app of the metrics listener: /metrics (the process-wide registry by default).

    It is served on its own host and port (TASKSTREAM_METRICS_HOST/_PORT, loopback by default),
    so the public port, which the ingress exposes, never answers /metrics.
    """

    async def process_metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", endpoint or process_metrics)])


def health_routes(runtime: Runtime, *, migration_branch: str | None = None) -> list[BaseRoute]:
    """/healthz and /readyz (database reachable, own migrations at head)."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            # Only the worker's own branch: it must not wait for other services' migrations.
            if migration_branch is not None and await pending_migrations(
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
