"""Building blocks of the internal APIs services offer each other (reached via Dapr).

Every internal route checks the app API token that daprd adds to calls it forwards, so the
routes are useless to anyone who reaches the app port without going through Dapr.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from taskstream.errors import InvalidInput, TaskstreamError, Timeout
from taskstream.invocation import APP_TOKEN_HEADER, STATEMENT_TIMEOUT_HEADER, Endpoint, Req, Resp
from taskstream.persistence.db import is_query_canceled, statement_timeout

InternalEndpoint = Callable[[Request], Awaitable[Any]]

_STATUS = {
    "NOT_FOUND": 404,
    "BAD_USER_INPUT": 400,
    "CONFLICT": 409,
    "UNAUTHENTICATED": 401,
    "TIMEOUT": 504,
}


def _caller_statement_timeout(request: Request) -> float | None:
    """The statement timeout of the client request this call serves (None: not for one)."""
    raw = request.headers.get(STATEMENT_TIMEOUT_HEADER)
    if raw is None or not raw.isdigit() or len(raw) > 9:
        return None
    milliseconds = int(raw)
    return milliseconds / 1000 if milliseconds > 0 else None


def internal(
    endpoint: InternalEndpoint, *, app_token: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that checks the app token and maps errors to status and code."""

    async def handle(request: Request) -> Response:
        if app_token is not None:
            presented = request.headers.get(APP_TOKEN_HEADER, "")
            if not hmac.compare_digest(presented.encode(), app_token.encode()):
                return JSONResponse(
                    {"code": "UNAUTHENTICATED", "message": "app token required"}, status_code=401
                )
        try:
            # A call made for a client's request keeps that request's statement timeout.
            with statement_timeout(_caller_statement_timeout(request)):
                result = await endpoint(request)
        except TaskstreamError as error:
            return _error(error)
        except Exception as error:
            if not is_query_canceled(error):
                raise
            return _error(Timeout())
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result)

    return handle


def _error(error: TaskstreamError) -> Response:
    return JSONResponse(
        {"code": error.code, "message": error.message},
        status_code=_STATUS.get(error.code, 500),
    )


def serve(
    endpoint: Endpoint[Req, Resp],
    handler: Callable[[Req], Awaitable[Resp]],
    *,
    app_token: str | None,
) -> Route:
    """The route of `endpoint`: the request parsed into its model, the answer dumped from its."""

    async def handle(request: Request) -> Any:
        answer = await handler(await read_request(endpoint, request))
        return answer.model_dump(mode="json", by_alias=True)

    return Route(endpoint.path, internal(handle, app_token=app_token), methods=[endpoint.method])


async def read_request(endpoint: Endpoint[Req, Any], request: Request) -> Req:
    """The typed request of a call: path, query string or body; BAD_USER_INPUT naming the field."""
    fields: dict[str, Any]
    if endpoint.method == "POST":
        fields = await json_body(request)
    else:
        fields = {}
        for name, value in request.query_params.multi_items():
            if name in fields:
                raise InvalidInput(name, "must be given once")
            fields[name] = value
    for name, value in request.path_params.items():
        if name in fields:
            raise InvalidInput(name, "is given by the path; it must not be repeated")
        fields[name] = value
    try:
        return endpoint.request.model_validate(fields)
    except ValidationError as error:
        raise invalid_input(error) from error


def invalid_input(error: ValidationError) -> InvalidInput:
    """BAD_USER_INPUT naming the first field a model refused (by its wire name) and why."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return InvalidInput(field, str(first["msg"]))


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body (an empty object when there is none)."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise InvalidInput("body", "must be JSON") from error
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    return body
