"""The HTTP server's edge: header size and time limits, connections per address, proxies.

uvicorn bounds none of these by itself: httptools accepts request heads of any size, nothing
bounds the time a head may take to arrive, and a connection that never sends a byte stays open
forever. The protocol built here (uvicorn's httptools protocol, subclassed: h11 has a size
limit but halves the request rate) closes those gaps below the ASGI app, where a request does
not exist yet:

- a request head larger than `max_header_bytes` is answered 431 and the connection closed;
- a connection idle for `keepalive_seconds` (fresh, or after a response) is closed, and once a
  head has started it must be complete within `header_timeout_seconds`;
- a client address holds at most `max_connections_per_address` connections (HTTP and upgraded
  WebSockets alike); beyond, the connection is answered 429 (RATE_LIMITED) and closed;
- a peer in `trusted_proxies` (whose forwarded headers the gateway honours) is not capped
  itself; a peer in `proxy_protocol_from` may start the connection with a PROXY protocol v1
  line naming the real client, which is then the address the cap, the app and the log-in
  throttling see (`stack up`'s TCP proxy does this; its sidecars, sending no such line, are
  not capped either).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from taskstream.settings import Network, Settings

TOO_MANY_CONNECTIONS = (
    b'{"errors":[{"message":"too many connections from this address",'
    b'"extensions":{"code":"RATE_LIMITED"}}]}'
)
HEADERS_TOO_LARGE = (
    b'{"errors":[{"message":"request headers too large","extensions":{"code":"BAD_USER_INPUT"}}]}'
)
# A PROXY protocol v1 line is at most 107 bytes with its CRLF (HAProxy's specification).
PROXY_LINE_MAX = 107


class TrustedProxies:
    """The configured proxies: only they may say who the client is."""

    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)

    def __contains__(self, address: object) -> bool:
        if not self.networks or not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def client(self, peer: str, hops: list[str]) -> str:
        """The client behind `peer`: walk forwarded hops right to left past trusted proxies.

        The rightmost entry was added by the proxy we trust; anything left of the first
        untrusted entry may have been written by the client itself and is ignored.
        """
        address = peer
        for hop in reversed(hops):
            if address not in self:
                break
            address = hop
        return address


class ConnectionCounter:
    """Open connections per client address, shared by every protocol of one server."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._by_address: dict[str, int] = {}
        self._holders: dict[int, str] = {}

    def acquire(self, holder: object, address: str) -> bool:
        """Count one more connection of `address`; False (nothing counted) past the limit."""
        count = self._by_address.get(address, 0)
        if self.limit is not None and count >= self.limit:
            return False
        self._by_address[address] = count + 1
        self._holders[id(holder)] = address
        return True

    def release(self, holder: object) -> None:
        """Forget the connection `holder` counted (no-op when it counted none)."""
        address = self._holders.pop(id(holder), None)
        if address is None:
            return
        left = self._by_address[address] - 1
        if left:
            self._by_address[address] = left
        else:
            del self._by_address[address]

    def count(self, address: str) -> int:
        """Open connections of the address."""
        return self._by_address.get(address, 0)


@dataclass(frozen=True)
class EdgeLimits:
    """The limits one server enforces below the app."""

    max_header_bytes: int
    header_timeout_seconds: float
    keepalive_seconds: float
    max_connections_per_address: int | None
    trusted_proxies: TrustedProxies
    proxy_protocol_from: TrustedProxies

    @classmethod
    def of(cls, settings: Settings, *, cap_addresses: bool = True) -> EdgeLimits:
        """The limits of these settings; workers (called by their sidecar only) skip the cap."""
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            header_timeout_seconds=settings.http_header_timeout_seconds,
            keepalive_seconds=settings.http_keepalive_seconds,
            max_connections_per_address=(
                settings.max_connections_per_address if cap_addresses else None
            ),
            trusted_proxies=TrustedProxies(settings.trusted_proxy_networks),
            proxy_protocol_from=TrustedProxies(settings.proxy_protocol_networks),
        )


def _raw_response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


def protocols(
    limits: EdgeLimits,
) -> tuple[type[HttpToolsProtocol], type[WebSocketsSansIOProtocol]]:
    """The HTTP and WebSocket protocol classes of one server, sharing one connection count."""
    counter = ConnectionCounter(limits.max_connections_per_address)
    # Client addresses given by PROXY lines, by transport, for the WebSocket protocol to take
    # over on upgrade (uvloop's transports take no attributes).
    proxied: dict[int, tuple[str, int]] = {}

    class EdgeWebSocketProtocol(WebSocketsSansIOProtocol):
        """uvicorn's WebSocket protocol; an upgraded connection still counts for its address."""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            """Keep the client address the HTTP protocol settled on (PROXY line included)."""
            super().connection_made(transport)
            client = proxied.get(id(transport))
            if client is not None:
                self.client = client

        def connection_lost(self, exc: Exception | None) -> None:
            """Release the count taken when the connection was made."""
            counter.release(self.transport)
            proxied.pop(id(self.transport), None)
            super().connection_lost(exc)

    class EdgeHttpProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with the edge limits of the module docstring."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # uvicorn's setting is whole seconds; tests use fractions.
            self.timeout_keep_alive = limits.keepalive_seconds  # type: ignore[assignment]
            self._head_timer: asyncio.TimerHandle | None = None
            # From the first byte of a request to the end of its headers (llhttp's callbacks).
            self._head_open = False
            # The head's size twice over: as parsed (exact, for heads that end in one chunk) and
            # as received while still incomplete (so an endless header is cut off early).
            self._head_parsed = 0
            self._head_received = 0
            self._head_too_large = False
            self._awaiting_proxy_line = False
            self._proxy_buffer = b""
            self._refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            """Count the connection (or refuse it) and start the idle timer."""
            super().connection_made(transport)
            peer = self.client[0] if self.client else ""
            if peer in limits.proxy_protocol_from:
                self._awaiting_proxy_line = True
            elif peer in limits.trusted_proxies:
                pass  # a proxy's address is shared by all its clients: never capped
            elif not self._admit(peer):
                return
            # uvicorn arms its keep-alive timer only after a response; a connection that never
            # sends a byte would stay open forever without this.
            self.timeout_keep_alive_task = self.loop.call_later(
                limits.keepalive_seconds, self.timeout_keep_alive_handler
            )

        def _admit(self, address: str) -> bool:
            if counter.acquire(self.transport, address):
                return True
            self._refuse(b"429 Too Many Requests", TOO_MANY_CONNECTIONS)
            return False

        def _refuse(self, status: bytes, body: bytes) -> None:
            """Answer with a raw response and half-close; closing at once could reset the
            connection before the client reads the answer (unread request bytes → RST)."""
            self._refused = True
            self._cancel_head_timer()
            self._unset_keepalive_if_required()
            self.transport.write(_raw_response(status, body))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(limits.header_timeout_seconds, self.transport.close)

        def data_received(self, data: bytes) -> None:
            """Parse the PROXY line if one is due, then bound the head's size and time."""
            if self._refused:
                return  # drained and ignored until the client or the timer closes
            if self._awaiting_proxy_line:
                data = self._proxy_line(data)
                if not data:
                    return
            super().data_received(data)
            if self._refused or self.transport.is_closing():
                self._cancel_head_timer()
                return
            if not self._head_open:
                self._cancel_head_timer()
                return
            # The head is still incomplete, so this chunk was head (a pipelined request
            # before it aside): llhttp would buffer a header value of any length.
            self._head_received += len(data)
            if self._head_received > limits.max_header_bytes:
                self._refuse(b"431 Request Header Fields Too Large", HEADERS_TOO_LARGE)
            elif self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    limits.header_timeout_seconds, self._head_timed_out
                )

        def _proxy_line(self, data: bytes) -> bytes:
            """Take a leading PROXY v1 line off the stream; what follows is returned."""
            self._proxy_buffer += data
            if not b"PROXY ".startswith(self._proxy_buffer[:6]):
                # Not a PROXY line: the trusted peer speaks for itself (a sidecar, a probe).
                self._awaiting_proxy_line = False
                rest, self._proxy_buffer = self._proxy_buffer, b""
                return rest
            line, found, rest = self._proxy_buffer.partition(b"\r\n")
            if not found:
                if len(self._proxy_buffer) > PROXY_LINE_MAX:
                    self.transport.close()
                return b""
            self._awaiting_proxy_line = False
            self._proxy_buffer = b""
            parts = line.split(b" ")
            if len(parts) == 6 and parts[1] in (b"TCP4", b"TCP6"):
                try:
                    source = str(ipaddress.ip_address(parts[2].decode("ascii")))
                    port = int(parts[4])
                except ValueError:
                    self.transport.close()
                    return b""
                self.client = proxied[id(self.transport)] = (source, port)
                if not self._admit(source):
                    return b""
            elif parts[:2] != [b"PROXY", b"UNKNOWN"]:
                self.transport.close()
                return b""
            return rest

        def on_message_begin(self) -> None:
            """A request's first byte: its head is open."""
            super().on_message_begin()
            self._head_open = True

        def on_url(self, url: bytes) -> None:
            """Count the target against the head's limit."""
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            """Count each header against the head's limit."""
            self._count_head(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _count_head(self, size: int) -> None:
            self._head_parsed += size
            if self._head_parsed > limits.max_header_bytes:
                # Raised through llhttp: uvicorn answers parser errors with send_400_response.
                self._head_too_large = True
                raise ValueError("request head too large")

        def on_headers_complete(self) -> None:
            """The head is complete: its timer and count end here."""
            self._head_open = False
            self._head_parsed = self._head_received = 0
            self._cancel_head_timer()
            super().on_headers_complete()

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self._head_open and not self.transport.is_closing():
                self.transport.close()

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def send_400_response(self, msg: str) -> None:
            """431 when the head outgrew the limit (it reaches here as a parser error)."""
            if self._head_too_large:
                self._refuse(b"431 Request Header Fields Too Large", HEADERS_TOO_LARGE)
                return
            super().send_400_response(msg)

        def handle_websocket_upgrade(self) -> None:
            """Hand over to the WebSocket protocol, which releases the count when it ends."""
            self._cancel_head_timer()
            super().handle_websocket_upgrade()

        def connection_lost(self, exc: Exception | None) -> None:
            """Release the count (an upgraded connection is released by its WebSocket)."""
            self._cancel_head_timer()
            counter.release(self.transport)
            proxied.pop(id(self.transport), None)
            super().connection_lost(exc)

    return EdgeHttpProtocol, EdgeWebSocketProtocol


def server_config(
    app: ASGIApp,
    settings: Settings,
    *,
    lifespan: Literal["on", "off"] = "on",
    cap_addresses: bool = True,
    **options: Any,
) -> uvicorn.Config:
    """A uvicorn config with the edge limits of these settings (and no header trust of its own)."""
    limits = EdgeLimits.of(settings, cap_addresses=cap_addresses)
    http, ws = protocols(limits)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=http,
        ws=ws,
        # uvicorn's own forwarded-header handling trusts 127.0.0.1 by default, so any local
        # client could claim any address: the gateway resolves forwarded headers itself,
        # from TASKSTREAM_TRUSTED_PROXIES only (gateway/limits.py).
        proxy_headers=False,
        lifespan=lifespan,
        **options,
    )
