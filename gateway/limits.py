"""Request body limits: an oversized request is refused with 413 before anyone parses it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
