"""The Strawberry ASGI view: authentication of HTTP requests and WebSocket connections.

Where GraphQL over HTTP needs more than Strawberry does (media types, status codes, JSON
request errors, GET, HEAD and OPTIONS), the view's overrides below hand over to
gateway/graphql_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError, get_operation_ast, parse
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.http.types import QueryParams
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.graphql_http import (
    ALLOWED_METHODS,
    RequestError,
    event,
    graphql_response,
    is_request_error,
    request_error_response,
    response_media_type,
    status_of,
    wants_event_stream,
)
from gateway.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    Claim,
    Idempotency,
    Replay,
    fingerprint,
    parse_key,
)
from gateway.limits import SocketCounter, SocketTicket
from gateway.security_headers import security_headers
from gateway.sessions import KnownSessions
from gateway.shared_streams import SharedStreams, SharedTransportWSHandler
from gateway_core.domain.users import User
from graphql_schema.context import Context, Services
from graphql_schema.persisted import (
    DocumentStore,
    LruDocumentStore,
    PersistedQueries,
    PersistedQueryError,
    Resolved,
    SharedDocumentStore,
    trusted_documents_of,
)
from graphql_schema.sqljson import COMPILED_READS
from taskstream.auth import TokenClaims, bearer_token
from taskstream.errors import (
    UNAVAILABLE_RETRY_AFTER_SECONDS,
    Timeout,
    Unauthenticated,
    Unavailable,
)
from taskstream.persistence.db import is_database_unavailable, statement_timeout
from taskstream.sharedstate import StateUnavailable

# The scope key under which a WebSocket's SocketTicket travels to on_ws_connect.
SOCKET_TICKET = "taskstream.socket_ticket"
# Set on a WebSocket's scope when its token could not be checked (the database unavailable):
# the close is 1013 (try again later), not on_ws_connect's only code, 4403.
SOCKET_UNAVAILABLE = "taskstream.socket_unavailable"
TRY_AGAIN_LATER = 1013

# The event loop's time by which an HTTP operation must answer (its deadline), on its scope.
ANSWER_BY = "taskstream.answer_by"
# All automatically persisted documents of a replica together, in characters.
PERSISTED_CHARS = 16 * 1024 * 1024

SUBSCRIPTIONS_OVER_HTTP = (
    "subscriptions are served over a WebSocket at /graphql (graphql-transport-ws), "
    "not over HTTP; send queries with GET or POST and mutations with POST"
)
REQUEST_SHAPE = (
    "send a JSON object with query (a string), and optionally variables (an object), "
    "operationName (a string) and extensions (an object)"
)


class EventStream:
    """One Server-Sent Events response, as the session registry sees it: revocable."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.revoked = asyncio.Event()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """End the stream (its token was revoked)."""
        self.revoked.set()

    async def events(
        self, source: AsyncIterator[str], *, release: Callable[[], None]
    ) -> AsyncIterator[str]:
        """The source's events until it ends or the token is revoked (then an error and
        `complete`); `release` runs when the stream ends, however it ends."""
        revoked = asyncio.ensure_future(self.revoked.wait())
        item: asyncio.Future[str] | None = None
        try:
            while True:
                item = asyncio.ensure_future(anext(source))
                await asyncio.wait({item, revoked}, return_when=asyncio.FIRST_COMPLETED)
                if not item.done():
                    error = {
                        "message": "the token was revoked",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                    yield event("next", {"errors": [error]})
                    yield event("complete")
                    return
                try:
                    yield item.result()
                except StopAsyncIteration:
                    return
        finally:
            release()
            revoked.cancel()
            # A pending read must end before the source (and its heartbeat task) is closed.
            if item is not None and not item.done():
                item.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await item
            if isinstance(source, AsyncGenerator):
                with contextlib.suppress(Exception):
                    await source.aclose()


class SubResponse(Response):
    """The per-request response Strawberry lets resolvers touch, with the negotiated type."""

    media_type_negotiated: str = "application/json"


@dataclasses.dataclass
class Processed(ExecutionResult):
    """A result whose response is already made: a replay, or one stored for replays."""

    response: GraphQLHTTPResponse = dataclasses.field(default_factory=dict)  # type: ignore[assignment]


def _is_mutation(query: str | None, operation_name: str | None) -> bool:
    """Whether the document's chosen operation is a mutation (unparsable: no)."""
    if query is None:
        return False
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return False
    return operation is not None and operation.operation.value == "mutation"


def _connection_param(params: object, name: str) -> object:
    """A connection_init payload entry, its key matched case-insensitively."""
    if not isinstance(params, dict):
        return None
    for key, value in params.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


class GraphQLApp(GraphQL[Context, None]):
    """GraphQL over HTTP POST and graphql-transport-ws, with bearer-token authentication."""

    # Identical subscriptions of one account share one execution (gateway/shared_streams.py).
    graphql_transport_ws_handler_class = SharedTransportWSHandler

    def __init__(self, schema: Any, *, services: Services) -> None:
        development = not services.settings.is_production
        super().__init__(
            schema,
            graphql_ide="graphiql" if development else None,
            allow_queries_via_get=True,
            # Server-Sent Events (graphql-sse, distinct connections mode) for clients that
            # cannot use a WebSocket; never offered as a WebSocket subprotocol.
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL],
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
        # Automatic persisted queries: in the shared state (registered on one replica, known
        # on all), with this replica's LRU in front; only the LRU without a shared state.
        settings = services.settings
        local = LruDocumentStore(
            max_entries=settings.graphql_persisted_queries, max_chars=PERSISTED_CHARS
        )
        store: DocumentStore = local
        self.idempotency: Idempotency | None = None
        if services.state is not None:
            store = SharedDocumentStore(
                services.state, ttl=settings.graphql_persisted_query_ttl_seconds, local=local
            )
            self.idempotency = Idempotency(
                services.state,
                ttl_seconds=settings.idempotency_ttl_seconds,
                # Past the deadline and a commit under way, a holder that has not answered
                # has died: its claim lapses so that the key is usable again.
                pending_seconds=2 * settings.request_timeout_seconds + 10,
            )
        self.persisted = PersistedQueries(
            store,
            trusted_documents_of(settings),
            enabled=settings.graphql_persisted_queries > 0,
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
                except Exception as error:
                    # The token cannot be checked against its account: nothing will run.
                    if not is_database_unavailable(error):
                        raise
                    unavailable = Unavailable()
                    raise RequestError(
                        unavailable.message,
                        code=unavailable.code,
                        well_formed=True,
                        retry_after=unavailable.retry_after,
                    ) from error
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
        # Clients spell it Authorization as often as authorization (HTTP headers are
        # case-insensitive, and libraries copy them into the payload).
        header = _connection_param(params, "authorization")
        token = bearer_token(header if isinstance(header, str) else None)
        if token is None:
            raise ConnectionRejectionError({"message": "a valid bearer token is required"})
        try:
            claims, _ = await self.authenticate(token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            if context.request is not None:
                context.request.scope[SOCKET_UNAVAILABLE] = True
            raise ConnectionRejectionError({"message": Unavailable().message}) from error
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
            elif scope["type"] == "http":
                await self._serve_http(scope, receive, send)
            else:
                await super().__call__(scope, receive, send)

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request: every answer, request errors included, is a GraphQL response."""
        method = scope["method"]
        headers = Headers(scope=scope)
        accept = headers.get("accept")
        response: Response
        if method == "OPTIONS" and "access-control-request-method" in headers:
            # A CORS preflight: the API grants no other origin anything.
            error = RequestError(
                "cross-origin requests are not allowed; call the API from its own origin",
                code="FORBIDDEN",
                status=403,
            )
            response = request_error_response(error, accept=accept)
        elif method == "OPTIONS":
            response = Response(
                status_code=204, headers={"Allow": f"{ALLOWED_METHODS}, HEAD, OPTIONS"}
            )
        elif method not in ("GET", "HEAD", "POST"):
            error = RequestError(
                f"{method} is not supported: send queries with GET or POST, mutations with POST",
                status=405,
                headers={"Allow": ALLOWED_METHODS},
            )
            response = request_error_response(error, accept=accept)
        else:
            # HEAD answers what GET would, without the body (the server leaves it out).
            served = {**scope, "method": "GET"} if method == "HEAD" else scope
            try:
                response = await self.run(Request(served, receive))
            except RequestError as error:
                response = request_error_response(error, accept=accept)
            except HTTPException as error:
                response = request_error_response(
                    RequestError(error.reason, status=error.status_code), accept=accept
                )
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """The IDE only for a browser's plain GET, and only where it is enabled."""
        params = request.query_params
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """The sub-response, remembering which media type the client accepts."""
        sub_response = SubResponse()
        sub_response.status_code = None  # type: ignore[assignment]
        del sub_response.headers["content-length"]
        sub_response.media_type_negotiated = response_media_type(request.headers.get("accept"))
        return sub_response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData:
        """The request's parameters, from the query string (GET) or a JSON body (POST)."""
        data: object
        if request.method == "GET":
            data = self._parse_query_params(request.query_params)
        else:
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type != "application/json":
                raise RequestError(
                    f"Content-Type: {content_type or 'none'} is not supported; {REQUEST_SHAPE} "
                    "as application/json",
                    status=415,
                )
            try:
                data = self.decode_json(await request.get_body())
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise RequestError(f"the body is not valid JSON; {REQUEST_SHAPE}") from error
        if isinstance(data, list):
            raise RequestError("batched requests are not supported: send one operation per request")
        if not isinstance(data, dict):
            raise RequestError(f"the body is not a JSON object; {REQUEST_SHAPE}")
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        for name, value, kind in (
            ("query", query, str),
            ("operationName", operation_name, str),
            ("variables", variables, dict),
            ("extensions", extensions, dict),
        ):
            if value is not None and not isinstance(value, kind):
                wanted = "a string" if kind is str else "an object"
                raise RequestError(f"{name}: must be {wanted} or null")
        sse = wants_event_stream(request.headers.get("accept"))
        return GraphQLRequestData(
            query=query,
            variables=variables,
            operation_name=operation_name,
            extensions=extensions,
            protocol="sse" if sse else "http",
        )

    def _parse_query_params(self, params: QueryParams) -> dict[str, object]:
        """GET parameters; variables and extensions are JSON text."""
        data: dict[str, object] = {}
        for name in ("query", "operationName", "variables", "extensions"):
            value = params.get(name)
            if isinstance(value, list):
                raise RequestError(f"{name}: give it once, not {len(value)} times")
            if value is None or value == "":
                continue
            if name in ("variables", "extensions"):
                try:
                    data[name] = self.decode_json(value)
                except json.JSONDecodeError as error:
                    raise RequestError(f"{name}: not valid JSON; must be a JSON object") from error
            else:
                data[name] = value
        return data

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """The response of a result; a request error (nothing ran) has no `data` entry."""
        if isinstance(result, Processed):
            return result.response
        response = await super().process_result(request, result)
        if is_request_error(response):
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """The JSON response under the negotiated media type, with the specification's status."""
        media_type = getattr(sub_response, "media_type_negotiated", "application/json")
        status = 200
        if not isinstance(response_data, list):
            status = status_of(response_data, media_type)
        response = graphql_response(response_data, media_type=media_type, status=status)  # type: ignore[arg-type]
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

    async def create_streaming_response(
        self,
        request: Request | WebSocket,
        stream: Callable[[], AsyncIterator[str]],
        sub_response: Response,
        headers: Mapping[str, str],
    ) -> Response:
        """A Server-Sent Events stream, counted against the caller's connection caps like a
        WebSocket, and ended (UNAUTHENTICATED, then `complete`) when its token is revoked."""
        claims = None
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            with contextlib.suppress(Unauthenticated):
                claims = self.services.tokens.claims(token)
        client = request.scope.get("client")
        ticket = self.sockets.open(client[0] if client else "unknown")
        if ticket is None or (claims and not ticket.claim_account(str(claims.user_id))):
            refusal = ticket.refusal if ticket is not None else None
            if ticket is not None:
                ticket.release()
            raise RequestError(
                refusal or "too many connections from this address",
                code="RATE_LIMITED",
                status=429,
            )
        stream_state = EventStream(request.scope)
        if claims is not None:
            self.sessions.opened(stream_state, claims)

        def release() -> None:
            ticket.release()
            self.sessions.closed(request.scope)

        return StreamingResponse(
            stream_state.events(stream(), release=release),
            status_code=200,
            headers={**sub_response.headers, **headers},
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run one operation: queries over GET or POST, mutations over POST only.

        Strawberry answers an unknown operation name or an operation type the method does not
        allow with a text/plain 400; the specification wants a GraphQL request error, and 405
        for a mutation over GET.
        """
        allowed = {OperationType.QUERY}
        if request_adapter.method == "POST":
            allowed.add(OperationType.MUTATION)
        try:
            resolved = await self.persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as error:
            raise RequestError(error.message, code=error.code, well_formed=True) from error
        if resolved.query is not None and resolved.query in self.persisted.trusted:
            # A registered document: its reads may answer as one statement's JSON, which
            # create_response sends as it is (graphql_schema/sqljson.py).
            request.scope[COMPILED_READS] = True
        claim = None
        key = parse_key(request.headers.get(HEADER))
        if (
            key is not None
            and self.idempotency is not None
            and context.user_id is not None
            and request_adapter.method == "POST"
            and _is_mutation(resolved.query, request_data.operation_name)
        ):
            print_ = fingerprint(
                resolved.query, request_data.operation_name, request_data.variables
            )
            try:
                begun = await self.idempotency.begin(
                    context.user_id, key, print_, answer_by=request.scope[ANSWER_BY]
                )
            except StateUnavailable as error:
                # Running without the key could repeat a retried change: refuse, retryably.
                raise RequestError(
                    "Idempotency-Key: keys cannot be checked at the moment; nothing was "
                    "changed, send the request again in a few seconds",
                    code="UNAVAILABLE",
                    status=503,
                    well_formed=True,
                    retry_after=UNAVAILABLE_RETRY_AFTER_SECONDS,
                ) from error
            if isinstance(begun, Replay):
                sub_response.headers[REPLAYED_HEADER] = "true"
                return Processed(data=None, errors=None, response=begun.response)  # type: ignore[arg-type]
            claim = begun
        if claim is None:
            return await self._execute_single(
                request, request_adapter, context, root_value, request_data, resolved, allowed
            )
        try:
            result = await self._execute_single(
                request, request_adapter, context, root_value, request_data, resolved, allowed
            )
        except RequestError:
            with contextlib.suppress(StateUnavailable):
                await self.idempotency.release(claim)  # type: ignore[union-attr]
            raise
        # Processed once here, so the stored response is the one this request answers.
        response = await self.process_result(request, result)
        await self._finish(claim, response)
        return Processed(data=result.data, errors=result.errors, response=response)

    async def _finish(self, claim: Claim, response: GraphQLHTTPResponse) -> None:
        """Store the response under the claimed key (or free it)."""
        assert self.idempotency is not None
        # Not cancelled with the request: the change is made, so its response must be kept.
        # When the store fails now, the client still gets its response; the claim lapses.
        with contextlib.suppress(StateUnavailable):
            await asyncio.shield(self.idempotency.finish(claim, dict(response)))

    async def _execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
        resolved: Resolved,
        allowed: set[OperationType],
    ) -> ExecutionResult:
        """Execute the resolved document (the part of execute_single after the key)."""
        try:
            result = await self.schema.execute(
                resolved.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as error:
            name = request_data.operation_name
            message = (
                "the document has no operation to run"
                if name is None
                else f"operationName: the document has no operation named {name!r}"
            )
            raise RequestError(message, well_formed=True) from error
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.SUBSCRIPTION:
                raise RequestError(SUBSCRIPTIONS_OVER_HTTP, well_formed=True) from error
            raise RequestError(
                "mutations are sent with POST; GET runs queries only",
                status=405,
                headers={"Allow": ALLOWED_METHODS},
            ) from error
        except MissingQueryError as error:
            raise RequestError(f"query: a GraphQL document is required; {REQUEST_SHAPE}") from error
        if result.data is not None or not result.errors:
            # It parsed and validated: later requests may send the hash alone.
            await self.persisted.remember(resolved)
        return result

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
            if message["type"] == "websocket.close" and scope.get(SOCKET_UNAVAILABLE):
                reason = "the database is unavailable right now; reconnect later"
                message = {**message, "code": TRY_AGAIN_LATER, "reason": reason}
            elif message["type"] == "websocket.close" and ticket.refusal is not None:
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
        if isinstance(request_data, GraphQLRequestData) and request_data.protocol == "sse":
            # Streams bypass execute_single: persisted-query hashes are resolved here.
            try:
                resolved = await self.persisted.resolve(request_data.query, request_data.extensions)
            except PersistedQueryError as refused:
                raise RequestError(
                    refused.message, code=refused.code, well_formed=True
                ) from refused
            request_data = dataclasses.replace(request_data, query=resolved.query)
        try:
            async with asyncio.timeout(deadline) as scope:
                request.scope[ANSWER_BY] = scope.when()
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
