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
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from gateway.limits import SocketCounter, SocketTicket
from gateway.security_headers import security_headers
from gateway.sessions import KnownSessions
from gateway.shared_streams import SharedStreams, SharedTransportWSHandler
from gateway_core.domain.users import User
from graphql_schema.context import Context, Services
from taskstream.auth import TokenClaims, bearer_token
from taskstream.errors import Timeout, Unauthenticated
from taskstream.persistence.db import statement_timeout

# The scope key under which a WebSocket's SocketTicket travels to on_ws_connect.
SOCKET_TICKET = "taskstream.socket_ticket"


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
        self.sockets = SocketCounter(
            per_address=services.settings.max_connections_per_address,
            per_account=services.settings.max_websockets_per_account,
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
        ticket = context.request.scope.get(SOCKET_TICKET) if context.request else None
        if isinstance(ticket, SocketTicket) and not ticket.claim_account(str(claims.user_id)):
            raise ConnectionRejectionError({"message": ticket.refusal})
        context.user_id = claims.user_id
        context.token = claims
        if isinstance(context.request, WebSocket):
            # Closed with 4403 when its token is revoked (gateway/sessions.py).
            self.sessions.opened(context.request, claims)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request or socket; every statement it causes runs under the timeout.

        Tasks started while serving (DataLoader batches, a socket's operations, shared
        subscription producers) inherit the limit with the rest of the context.
        """
        with statement_timeout(self.services.settings.statement_timeout_seconds):
            if scope["type"] == "websocket":
                await self._serve_socket(scope, receive, send)
            else:
                await super().__call__(scope, receive, send)

    async def _serve_socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket past its address's or account's cap is closed with 4429; a socket
        leaves the session registry when it ends."""
        client = scope.get("client")
        ticket = self.sockets.open(client[0] if client else "unknown")
        if ticket is None:
            # Behind a trusted proxy the server's own per-address cap sees only the proxy.
            socket = WebSocket(scope, receive, send)
            offered = scope.get("subprotocols") or []
            await socket.accept(GRAPHQL_TRANSPORT_WS_PROTOCOL if offered else None)
            await socket.close(4429, "too many connections from this address")
            return

        async def capped_send(message: Message) -> None:
            if message["type"] == "websocket.close" and ticket.refusal is not None:
                # on_ws_connect can only reject as 4403; say what really happened.
                message = {**message, "code": 4429, "reason": ticket.refusal}
            await send(message)

        scope[SOCKET_TICKET] = ticket
        try:
            await super().__call__(scope, receive, capped_send)
        finally:
            ticket.release()
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
