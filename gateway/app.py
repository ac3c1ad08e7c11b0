"""The gateway's ASGI app factory: routes and the lifespan that builds its clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.graphql_app import GraphQLApp
from gateway.internal import internal_routes
from gateway.limits import BodySizeLimit, ClientAddress
from gateway.metrics import GatewayMetrics, MetricsMiddleware
from gateway.security_headers import WebAppHeaders, security_headers
from gateway_core.live import LiveHub, live_subscriptions
from gateway_core.persistence import tables
from graphql_schema.context import Services
from graphql_schema.schema import build_schema
from taskstream.auth import PasswordHashing, TokenService
from taskstream.bootstrap import Runtime
from taskstream.edge import TrustedProxies
from taskstream.messaging.dapr import DaprTransport
from taskstream.persistence.db import pending_migrations
from taskstream.persistence.outbox import OutboxRelay
from taskstream.ratelimit import RateLimits
from taskstream.service import metrics_app
from taskstream.settings import Settings

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"

PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Taskstream</title></head>
<body><h1>Taskstream</h1>
<p>The web app has not been built. The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
</body></html>
"""


class SinglePageApp(StaticFiles):
    """The built web app; any other path under / serves index.html so deep links load."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file at `path`, or the app's index page when there is none."""
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            if error.status_code != 404 or scope["method"] not in ("GET", "HEAD"):
                raise
            if path.startswith("assets/"):
                # A missing bundle is a 404, not the page (which would be cached as the asset).
                return PlainTextResponse("Not Found", status_code=404)
            return await super().get_response("index.html", scope)


def token_service(settings: Settings) -> TokenService:
    """The token service of these settings; the signing key must be configured."""
    if settings.jwt_secret is None:
        raise RuntimeError(
            "TASKSTREAM_JWT_SECRET is not set: the gateway cannot sign tokens without a key"
        )
    return TokenService(
        secret=settings.jwt_secret.get_secret_value(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(seconds=settings.token_ttl_seconds),
    )


def create_app(runtime: Runtime) -> Starlette:
    """The public gateway app over a runtime; its lifespan runs the transport and the relay."""
    settings, engine, transport = runtime.settings, runtime.engine, runtime.transport
    live = LiveHub(settings.live_broadcast_url, queue_size=settings.live_queue_size)
    services = Services(
        engine=engine,
        tokens=token_service(settings),
        settings=settings,
        invoker=runtime.invoker,
        live=live,
        limits=RateLimits(
            logins_per_minute=settings.login_attempts_per_minute,
            logins_per_address_per_minute=settings.login_attempts_per_address_per_minute,
            mutations_per_minute=settings.mutations_per_minute,
            login_free_failures=settings.login_free_failures,
            login_backoff_seconds=settings.login_backoff_seconds,
            login_backoff_max_seconds=settings.login_backoff_max_seconds,
            signups_per_address_per_hour=settings.signups_per_address_per_hour,
            cost_capacity=5 * settings.graphql_max_cost,
            cost_per_second=settings.graphql_cost_per_second,
        ),
        hashing=PasswordHashing(concurrency=settings.password_hash_concurrency),
    )
    graphql = GraphQLApp(build_schema(settings), services=services)
    metrics = GatewayMetrics()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            if await pending_migrations(engine):
                return JSONResponse(
                    {"status": "unready", "reason": "migrations pending"}, status_code=503
                )
        except Exception:
            return JSONResponse(
                {"status": "unready", "reason": "database unreachable"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    async def placeholder(request: Request) -> Response:
        headers = {**security_headers(request.scope), "cache-control": "no-cache"}
        return HTMLResponse(PLACEHOLDER_PAGE, headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await transport.start()
        await live.start()
        await transport.subscribe(live_subscriptions(live))
        relay = None
        if settings.outbox_relay:
            relay = asyncio.create_task(
                OutboxRelay(
                    engine,
                    transport,
                    outbox=tables.outbox,
                    poll_seconds=settings.outbox_poll_seconds,
                ).run(),
                name="outbox-relay",
            )
        try:
            yield
        finally:
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            await transport.close()
            await live.stop()
            await runtime.close()

    routes: list[BaseRoute] = [
        # Every method: the view answers HEAD, OPTIONS and 405s itself (gateway/graphql_http.py).
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if isinstance(transport, DaprTransport):
        # Under Dapr the sidecar reaches this port: serve its delivery routes and the
        # token-guarded internal API here. In-process, the invoker calls internal_app().
        routes.extend(transport.routes())
        routes.extend(internal_routes(runtime))
    if (WEB_DIST / "index.html").exists():
        routes.append(Mount("/", WebAppHeaders(SinglePageApp(directory=WEB_DIST, html=True))))
    else:
        routes.append(Route("/", placeholder))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            # First: everything after it sees the client's address, not its proxy's.
            Middleware(ClientAddress, proxies=TrustedProxies(settings.trusted_proxy_networks)),
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(
                BodySizeLimit,
                max_bytes=settings.graphql_max_body_bytes,
                paths=frozenset({"/graphql"}),
            ),
        ],
    )
    app.state.services = services
    # /metrics is not on this (public) port: the command serves this on the metrics listener.
    app.state.metrics_app = metrics_app(metrics.endpoint)
    return app


def create_internal_app(runtime: Runtime) -> Starlette:
    """The internal API alone, for in-process invocation in `taskstream up`."""
    return Starlette(routes=internal_routes(runtime))
