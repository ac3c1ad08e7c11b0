"""Limits at the gateway's door: request body size, the client's address, WebSockets open."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskstream.edge import TrustedProxies

TOO_LARGE = (
    b'{"errors":[{"message":"request body too large","extensions":{"code":"BAD_USER_INPUT"}}]}'
)


class _TooLarge(Exception):
    """Raised inside the app when the body read so far passes the limit."""


class BodySizeLimit:
    """Refuses HTTP requests to `paths` whose body is larger than `max_bytes` (413)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, paths: frozenset[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length first, then count what actually arrives."""
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        # Chunked bodies declare no length: count the bytes as the app reads them.
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(TOO_LARGE)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": TOO_LARGE})


def forwarded_hops(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """Client addresses of Forwarded (RFC 7239 `for=`) or else X-Forwarded-For, in order."""
    forwarded = [v for k, v in headers if k == b"forwarded"]
    hops: list[str] = []
    if forwarded:
        for value in b",".join(forwarded).decode("latin-1").split(","):
            for pair in value.split(";"):
                name, _, raw = pair.strip().partition("=")
                if name.strip().lower() == "for":
                    hops.append(_forwarded_node(raw.strip()))
        return hops
    for header in (v for k, v in headers if k == b"x-forwarded-for"):
        hops.extend(h.strip() for h in header.decode("latin-1").split(",") if h.strip())
    return hops


def _forwarded_node(raw: str) -> str:
    """The address of a `for=` node: quotes, [IPv6] brackets and :port removed."""
    node = raw.strip('"')
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


class ClientAddress:
    """Sets the scope's client to the address forwarded headers name, but only when the direct
    peer is a trusted proxy (TASKSTREAM_TRUSTED_PROXIES); anyone else's headers are ignored,
    so rotating X-Forwarded-For gains a client nothing."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve the client of HTTP and WebSocket scopes, then pass on."""
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and client[0] in self.proxies:
            hops = forwarded_hops(scope["headers"])
            if hops:
                address = self.proxies.client(client[0], hops)
                scope = {**scope, "client": (address, 0 if address != client[0] else client[1])}
        await self.app(scope, receive, send)


class SocketTicket:
    """One open WebSocket's place in the counts; `refusal` set when a cap turned it away."""

    def __init__(self, counter: SocketCounter, address: str) -> None:
        self.counter = counter
        self.address = address
        self.account: str | None = None
        self.refusal: str | None = None

    def claim_account(self, account: str) -> bool:
        """Count the socket for the account it authenticated as; False past the cap."""
        if self.account is not None:
            return True
        held = self.counter.accounts.get(account, 0)
        if held >= self.counter.per_account:
            self.refusal = (
                f"too many WebSockets for this account (at most {self.counter.per_account})"
            )
            return False
        self.counter.accounts[account] = held + 1
        self.account = account
        return True

    def release(self) -> None:
        """The socket ended: give back its places."""
        self.counter._drop(self.counter.addresses, self.address)
        if self.account is not None:
            self.counter._drop(self.counter.accounts, self.account)
            self.account = None


class SocketCounter:
    """Open WebSockets per client address and per account in one gateway process."""

    def __init__(self, *, per_address: int, per_account: int) -> None:
        self.per_address = per_address
        self.per_account = per_account
        self.addresses: dict[str, int] = {}
        self.accounts: dict[str, int] = {}

    def open(self, address: str) -> SocketTicket | None:
        """A ticket for a new socket of the address; None past the per-address cap."""
        held = self.addresses.get(address, 0)
        if held >= self.per_address:
            return None
        self.addresses[address] = held + 1
        return SocketTicket(self, address)

    @staticmethod
    def _drop(counts: dict[str, int], key: str) -> None:
        left = counts.get(key, 0) - 1
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)
