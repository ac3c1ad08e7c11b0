"""Building blocks of the internal APIs services offer each other (reached via Dapr).

Every internal route checks the app API token that daprd adds to calls it forwards, so the
routes are useless to anyone who reaches the app port without going through Dapr.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from taskstream.errors import InvalidInput, TaskstreamError, Timeout
from taskstream.invocation import APP_TOKEN_HEADER, STATEMENT_TIMEOUT_HEADER
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


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body (an empty object when there is none)."""
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise TaskstreamError("the body must be a JSON object")
    return body


def uuid_param(value: Any, field: str) -> uuid.UUID:
    """A UUID from an internal request, or BAD_USER_INPUT naming the field."""
    try:
        return uuid.UUID(str(value))
    except ValueError as error:
        raise InvalidInput(field, "must be a UUID") from error


def time_param(value: Any, field: str) -> datetime:
    """An aware datetime from an internal request's RFC 3339 text, or BAD_USER_INPUT."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise InvalidInput(field, "must be an RFC 3339 time") from error
    if parsed.tzinfo is None:
        raise InvalidInput(field, "needs an offset")
    return parsed
