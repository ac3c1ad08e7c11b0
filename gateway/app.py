"""The gateway's parts, and its ASGI app assembled from them by the service runtime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
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
from taskstream.persistence.pruning import pruning_loop
from taskstream.ratelimit import RateLimits
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings
from taskstream.sharedstate import SharedState, open_shared_state

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"

PLACEHOLDER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Taskstream</title></head>
<body><h1>Taskstream</h1>
<p>The web app has not been built. The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
</body></html>
"""

# How often the gateway purges the tombstones of deleted tasks past the restore window.
TOMBSTONE_PRUNE_SECONDS = 60.0


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


def build(runtime: Runtime) -> ServiceParts:
    """The gateway's parts: GraphQL API, web app, live hub, internal API, outbox, metrics."""
    settings, engine = runtime.settings, runtime.engine
    # Limits, persisted documents and idempotency keys, alike on every replica.
    state = open_shared_state(settings, engine)
    live = LiveHub(
        settings.live_broadcast_url,
        queue_size=settings.live_queue_size,
        membership_ttl=settings.live_membership_ttl_seconds,
    )
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
            state=state,
            lease_fraction=settings.rate_limit_lease_fraction,
            lease_seconds=settings.rate_limit_lease_seconds,
        ),
        hashing=PasswordHashing(concurrency=settings.password_hash_concurrency),
        state=state,
    )
    graphql = GraphQLApp(build_schema(settings), services=services)
    metrics = GatewayMetrics()

    async def placeholder(request: Request) -> Response:
        headers = {**security_headers(request.scope), "cache-control": "no-cache"}
        return HTMLResponse(PLACEHOLDER_PAGE, headers=headers)

    @contextlib.asynccontextmanager
    async def live_hub() -> AsyncIterator[LiveHub]:
        await live.start()
        try:
            yield live
        finally:
            await live.stop()

    @contextlib.asynccontextmanager
    async def shared_state() -> AsyncIterator[SharedState]:
        try:
            yield state
        finally:
            # Slices being topped up in the background finish before the store closes.
            await services.limits.settled()
            await state.close()

    routes: list[BaseRoute] = [
        # Every method: the view answers HEAD, OPTIONS and 405s itself (gateway/graphql_http.py).
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
    ]
    if (WEB_DIST / "index.html").exists():
        routes.append(Mount("/", WebAppHeaders(SinglePageApp(directory=WEB_DIST, html=True))))
    else:
        routes.append(Route("/", placeholder))
    return ServiceParts(
        name="gateway",
        subscriptions=live_subscriptions(live),
        internal_routes=internal_routes(runtime),
        routes=routes,
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
        outbox=tables.outbox,
        resources=[live_hub, shared_state],
        # Deleted tasks stay restorable for the window only: their tombstones go after it.
        background=[
            pruning_loop(
                runtime.engine,
                tables.task_tombstones.c.deleted_at,
                timedelta(seconds=settings.task_restore_window_seconds),
                interval=TOMBSTONE_PRUNE_SECONDS,
            )
        ],
        public=True,
        # The gateway serves every service's clients: ready once the whole schema is current.
        migrations="all",
        metrics=metrics.endpoint,
        state={"services": services},
    )


def create_app(runtime: Runtime) -> Starlette:
    """The public gateway app over a runtime (assembled by the service runtime, like workers).

    Its state carries `services` and `metrics_app` (the metrics listener's app).
    """
    return Service(build(runtime), runtime).app()


def create_internal_app(runtime: Runtime) -> Starlette:
    """The internal API alone, for in-process invocation (the audit report command)."""
    return Starlette(routes=internal_routes(runtime))
