"""Security headers of the web app and the GraphQL IDE: CSP, nosniff, referrer, framing, caching.

The bearer token sits in the browser's localStorage, so a script injected into the page could
take it: the app's policy allows scripts from this origin only (the production build has no
inline script), connections to this origin (HTTP and its WebSocket), and no framing at all.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

# The built app: bundles, styles and the favicon (a data: URL in index.html) from here only.
APP_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
# The GraphiQL page (development only) is an inline script loading GraphiQL from a CDN.
IDE_SOURCES = "https://unpkg.com https://cdn.jsdelivr.net"
IDE_POLICY = (
    "default-src 'self'",
    f"script-src 'self' 'unsafe-inline' {IDE_SOURCES}",
    f"style-src 'self' 'unsafe-inline' {IDE_SOURCES}",
    f"img-src 'self' data: {IDE_SOURCES}",
    f"font-src 'self' data: {IDE_SOURCES}",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
# Vite names every file under assets/ after a hash of its content: it never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
# index.html (and every deep link that serves it) names the current bundles: always revalidate.
REVALIDATE = "no-cache"
# A Host header is echoed into connect-src only when it is a plain host[:port].
_HOST = re.compile(r"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def content_security_policy(scope: Scope, directives: tuple[str, ...]) -> str:
    """The policy with connect-src allowing this origin over HTTP and WebSocket.

    CSP Level 3 lets 'self' cover ws:/wss: of the same host, but older browsers do not, so the
    request's own host is named with both WebSocket schemes.
    """
    connect = "connect-src 'self'"
    host = Headers(scope=scope).get("host", "")
    if _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join((*directives, connect))


def security_headers(scope: Scope, *, ide: bool = False) -> dict[str, str]:
    """Every security header of an HTML page (the GraphQL IDE's policy when `ide`)."""
    policy = content_security_policy(scope, IDE_POLICY if ide else APP_POLICY)
    return {"content-security-policy": policy, **COMMON_HEADERS}


class WebAppHeaders:
    """Adds the app's security headers and cache policy to every response of the web app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope)
        path = scope.get("path", "")
        extra["cache-control"] = IMMUTABLE if path.startswith("/assets/") else REVALIDATE

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] >= 400:
                    # A missing asset must not be cached for a year under its name.
                    extra["cache-control"] = "no-store"
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)
