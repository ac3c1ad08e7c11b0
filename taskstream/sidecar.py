"""The HTTP client of an app's calls to its own Dapr sidecar: publishes and state visits.

Every event the relay publishes and every shared-state visit (rate-limit slices, sessions)
is one of these calls, so their client cost is paid per mutation. aiohttp spends about a
quarter of httpx's client CPU per request (measured against a local server: 175 µs against
600 to 800 µs; bench/results/issue19-perf.md, seventh session). Service invocation keeps httpx:
in `taskstream up` it runs over httpx's ASGI transport, with no sidecar at all.

The sidecar is on the loopback interface: one keep-alive pool, no proxy, no cookies. When
tracing is on each call is a CLIENT span whose context the request carries (`traceparent`),
so Dapr's own spans continue the caller's trace, as httpx's instrumentation did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from opentelemetry.trace import SpanKind, Status, StatusCode

from taskstream import telemetry


class SidecarUnreachable(Exception):
    """The sidecar did not answer: connection refused or reset, or the timeout passed."""


@dataclass(frozen=True)
class SidecarResponse:
    """What the sidecar answered, read whole."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def text(self) -> str:
        """The body as text (Dapr answers errors as JSON text)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class SidecarClient:
    """Requests to one sidecar's HTTP API over a pool of kept-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        api_token: str | None = None,
        timeout: float = 15.0,
        connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"dapr-api-token": api_token} if api_token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        # Made at the first call: an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _opened(self) -> aiohttp.ClientSession:
        if self._closed:
            # A late call (a background renewal after shutdown) must not open a session that
            # nobody closes again.
            raise SidecarUnreachable("the sidecar client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._connections),
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                raise_for_status=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the pooled connections; later calls fail as SidecarUnreachable."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        route: str | None = None,
    ) -> SidecarResponse:
        """Send one request (`path` from the sidecar's root); SidecarUnreachable on no answer.

        `route`: the path's template, naming the span when the path holds a key.
        """
        if not telemetry.enabled():
            return await self._send(method, path, body, params, headers)
        with telemetry.tracer().start_as_current_span(
            f"{method} {route or path}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.full": self.base_url + path},
        ) as span:
            carried = dict(headers or {})
            traceparent = telemetry.current_traceparent()
            if traceparent is not None:
                carried["traceparent"] = traceparent
            response = await self._send(method, path, body, params, carried)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> SidecarResponse:
        try:
            async with self._opened().request(
                method, self.base_url + path, data=body, params=params, headers=headers
            ) as response:
                return SidecarResponse(response.status, await response.read(), response.headers)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise SidecarUnreachable(f"{method} {path}: {error!r}") from error
