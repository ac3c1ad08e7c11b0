"""Prometheus metrics of the gateway."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from taskstream import telemetry
from taskstream.exposition import metrics_response


class GatewayMetrics:
    """Request counts and latencies, in a registry of this app's own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "taskstream_http_requests_total",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "taskstream_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
        )

    async def endpoint(self, request: Request) -> Response:
        """The Prometheus text exposition, or OpenMetrics (with exemplars) when asked for."""
        # The app's own metrics, then the process-wide ones (outbox, consumers, runtime).
        return metrics_response(request, self.registry, REGISTRY)


class MetricsMiddleware:
    """Times every HTTP request (WebSockets are counted by the live-update layer)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record the status and duration of one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in KNOWN_ROUTES else "other"
        status = {"code": 500}

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            # The request's server span is current here (its middleware wraps this one).
            elapsed = time.perf_counter() - started
            self.metrics.latency.labels(route).observe(elapsed, telemetry.exemplar())
            self.metrics.requests.labels(route, str(status["code"])).inc()


KNOWN_ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/"})
Handler = Callable[[Request], Awaitable[Response]]
