"""The Strawberry ASGI view: authentication of HTTP requests and WebSocket connections."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from gateway.sessions import KnownSessions
from gateway.shared_streams import SharedStreams, SharedTransportWSHandler
from graphql_schema.context import Context, Services
from taskstream.auth import TokenClaims, bearer_token
from taskstream.domain.errors import Timeout, Unauthenticated
from taskstream.domain.users import User
from taskstream.persistence.db import statement_timeout


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
        # Session state (revocations) per account, and this replica's authenticated sockets.
        self.sessions = KnownSessions(services)
        self.shared_streams = SharedStreams(
            queue_size=services.settings.live_queue_size,
            max_tokens=services.settings.graphql_max_tokens,
        )

    def decode_json(self, data: str | bytes) -> object:
        """JSON of a request or socket message; absurd nesting is a parse error, not a crash."""
        try:
            return super().decode_json(data)
        except RecursionError as error:
            # json.loads recurses per nesting level; Strawberry answers parse errors with 400
            # over HTTP and closes a socket with 4400, where a RecursionError would be a 500.
            text = data.decode(errors="replace") if isinstance(data, bytes) else data
            raise json.JSONDecodeError("nesting too deep", text[:64], 0) from error

    async def authenticate(self, token: str) -> tuple[TokenClaims, User | None]:
        """The claims (and maybe the account) of a token; UNAUTHENTICATED unless it is valid,
        unrevoked and its account exists."""
        claims = self.services.tokens.claims(token)
        return claims, await self.sessions.check(claims)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        """A fresh context; HTTP callers are identified by their Authorization header."""
        user_id, user, claims = None, None, None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                try:
                    claims, user = await self.authenticate(token)
                    user_id = claims.user_id
                except Unauthenticated:
                    user_id, user, claims = None, None, None
        return Context(
            services=self.services,
            request=request,
            user_id=user_id,
            now=datetime.now(UTC),
            response=response,
            _user=user,
            token=claims,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Accept a socket only with a valid token in connection_init; else close 4403."""
        params = getattr(context, "connection_params", None)
        header = params.get("authorization") if isinstance(params, dict) else None
        token = bearer_token(header if isinstance(header, str) else None)
        if token is None:
            raise ConnectionRejectionError({"message": "a valid bearer token is required"})
        try:
            claims, _ = await self.authenticate(token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        context.user_id = claims.user_id
        context.token = claims
        if isinstance(context.request, WebSocket):
            # Closed with 4403 when its token is revoked (gateway/sessions.py).
            self.sessions.opened(context.request, claims)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request or socket; every statement it causes runs under the timeout.

        Tasks started while serving (DataLoader batches, a socket's operations, shared
        subscription producers) inherit the limit with the rest of the context. A socket
        leaves the session registry when it ends.
        """
        try:
            with statement_timeout(self.services.settings.statement_timeout_seconds):
                await super().__call__(scope, receive, send)
        finally:
            if scope["type"] == "websocket":
                self.sessions.closed(scope)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Execute an HTTP operation within the request deadline; past it, code TIMEOUT.

        Cancellation rolls back an open transaction and returns its connection as the
        `async with` blocks unwind; a commit already under way finishes (UnitOfWork.commit).
        """
        deadline = self.services.settings.request_timeout_seconds
        try:
            async with asyncio.timeout(deadline) as scope:
                return await super().execute_operation(
                    request, request_adapter, request_data, context, root_value, sub_response
                )
        except TimeoutError:
            if not scope.expired():
                raise
            error = Timeout(
                f"the request took longer than its {deadline:g} s deadline and was stopped; "
                "nothing was changed"
            )
            return ExecutionResult(
                data=None,
                errors=[GraphQLError(error.message, extensions={"code": error.code})],
            )
