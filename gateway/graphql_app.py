"""The Strawberry ASGI view: authentication of HTTP requests and WebSocket connections."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.security_headers import security_headers
from gateway.shared_streams import SharedStreams, SharedTransportWSHandler
from graphql_schema.context import Context, Services
from taskstream.auth import bearer_token
from taskstream.domain.errors import Unauthenticated
from taskstream.domain.users import User


class KnownUsers:
    """Accounts recently seen to exist, so a valid token costs a lookup only now and then.

    A token stays valid until it expires, but the account it names may be gone (or may never
    have existed if the key leaked): such a token must authenticate no one. Positive answers
    are kept for `ttl_seconds` only, so a removed account stops working that soon everywhere.
    """

    def __init__(self, services: Services, *, ttl_seconds: float = 10.0, size: int = 10_000):
        self.services = services
        self.ttl_seconds = ttl_seconds
        self.size = size
        self._seen: dict[uuid.UUID, float] = {}

    async def check(self, user_id: uuid.UUID) -> tuple[bool, User | None]:
        """Whether the account exists, with the account when it had to be loaded."""
        now = time.monotonic()
        if self._seen.get(user_id, 0.0) > now:
            return True, None
        async with self.services.uow() as uow:
            user = await uow.users.get(user_id)
        if user is None:
            self._seen.pop(user_id, None)
            return False, None
        if len(self._seen) >= self.size:
            # Bounded memory: forgetting costs one lookup per account, nothing more.
            self._seen.clear()
        self._seen[user_id] = now + self.ttl_seconds
        return True, user


class GraphQLApp(GraphQL[Context, None]):
    """GraphQL over HTTP POST and graphql-transport-ws, with bearer-token authentication."""

    # Identical subscriptions of one account share one execution (gateway/shared_streams.py).
    graphql_transport_ws_handler_class = SharedTransportWSHandler

    def __init__(self, schema: Any, *, services: Services) -> None:
        development = not services.settings.is_production
        super().__init__(
            schema,
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=False,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            multipart_uploads_enabled=False,
            # A socket that does not authenticate promptly is closed with 4408.
            connection_init_wait_timeout=timedelta(
                seconds=services.settings.ws_init_timeout_seconds
            ),
        )
        self.services = services
        self.known_users = KnownUsers(services)
        self.shared_streams = SharedStreams(
            queue_size=services.settings.live_queue_size,
            max_tokens=services.settings.graphql_max_tokens,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """The GraphQL IDE (development only), under its own laxer security headers."""
        response = await super().render_graphql_ide(request)
        # GraphiQL is an inline script loading its bundles from a CDN: the app's policy
        # would block it (gateway/security_headers.py).
        response.headers.update(security_headers(request.scope, ide=True))
        response.headers["cache-control"] = "no-cache"
        return response

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a request or socket message; absurd nesting is a parse error, not a crash."""
        try:
            return super().decode_json(data)
        except RecursionError as error:
            # json.loads recurses per nesting level; Strawberry answers parse errors with 400
            # over HTTP and closes a socket with 4400, where a RecursionError would be a 500.
            text = data.decode(errors="replace") if isinstance(data, bytes) else data
            raise json.JSONDecodeError("nesting too deep", text[:64], 0) from error

    async def authenticate(self, token: str) -> tuple[uuid.UUID, User | None]:
        """The id (and maybe the account) behind a token; UNAUTHENTICATED unless it exists."""
        user_id = self.services.tokens.verify(token)
        exists, user = await self.known_users.check(user_id)
        if not exists:
            raise Unauthenticated("the token is invalid or expired")
        return user_id, user

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        """A fresh context; HTTP callers are identified by their Authorization header."""
        user_id, user = None, None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                try:
                    user_id, user = await self.authenticate(token)
                except Unauthenticated:
                    user_id, user = None, None
        return Context(
            services=self.services,
            request=request,
            user_id=user_id,
            now=datetime.now(UTC),
            response=response,
            _user=user,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Accept a socket only with a valid token in connection_init; else close 4403."""
        params = getattr(context, "connection_params", None)
        header = params.get("authorization") if isinstance(params, dict) else None
        token = bearer_token(header if isinstance(header, str) else None)
        if token is None:
            raise ConnectionRejectionError({"message": "a valid bearer token is required"})
        try:
            context.user_id, _ = await self.authenticate(token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        return None
