"""The Strawberry ASGI view: authentication of HTTP requests and WebSocket connections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graphql_schema.context import Context, Services
from taskstream.auth import bearer_token
from taskstream.domain.errors import Unauthenticated


class GraphQLApp(GraphQL[Context, None]):
    """GraphQL over HTTP POST and graphql-transport-ws, with bearer-token authentication."""

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

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        """A fresh context; HTTP callers are identified by their Authorization header."""
        user_id = None
        if isinstance(request, Request):
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                try:
                    user_id = self.services.tokens.verify(token)
                except Unauthenticated:
                    user_id = None
        return Context(
            services=self.services,
            request=request,
            user_id=user_id,
            now=datetime.now(UTC),
            response=response,
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Accept a socket only with a valid token in connection_init; else close 4403."""
        params = getattr(context, "connection_params", None)
        header = params.get("authorization") if isinstance(params, dict) else None
        token = bearer_token(header if isinstance(header, str) else None)
        if token is None:
            raise ConnectionRejectionError({"message": "a valid bearer token is required"})
        try:
            context.user_id = self.services.tokens.verify(token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        return None
