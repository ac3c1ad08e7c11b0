"""GraphQL over HTTP: media types, status codes and request-error bodies, in one place.

Strawberry answers request-level problems with `text/plain` and one status code whatever the
client accepts, and every result with `application/json` and 200. The GraphQL-over-HTTP
specification (and clients such as urql and Apollo's persisted-query link) need more:
`application/graphql-response+json` when accepted, 4xx for request errors under it, no `data`
entry when nothing was executed, and a GraphQL JSON body with `extensions.code` for every error.
The view (gateway/graphql_app.py) routes every divergence from Strawberry through here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from graphql_schema.sqljson import RawJSON

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
# The methods /graphql serves operations on (405 answers list them).
ALLOWED_METHODS = "GET, POST"

# The status of a request error under application/graphql-response+json, by its code.
_STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "TIMEOUT": 504,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}
# The code whose answer is 503 under application/graphql-response+json even when execution
# began (`data` null): the database could not serve it, and a client should retry, not give up.
UNAVAILABLE = "UNAVAILABLE"


def response_media_type(accept: str | None) -> str:
    """The media type to answer with: graphql-response+json when the client prefers it.

    No Accept header, `*/*` and media types this endpoint cannot produce all get
    application/json, the type every client understands (the specification's legacy rule).
    """
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept or "").split(",")):
        media, _, parameters = part.strip().partition(";")
        media = media.strip().lower()
        if media not in (GRAPHQL_RESPONSE_JSON, JSON):
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        # Higher quality first; on a tie the client's order decides.
        candidate = (-quality, position, media)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best is not None else JSON


def wants_event_stream(accept: str | None) -> bool:
    """Whether the client asks for Server-Sent Events only (graphql-sse's distinct connections).

    urql lists text/event-stream beside the JSON types on every request; those clients get
    JSON, which they prefer for queries and mutations.
    """
    types = {part.split(";")[0].strip().lower() for part in (accept or "").split(",")}
    return EVENT_STREAM in types and not types & {JSON, GRAPHQL_RESPONSE_JSON}


def event(name: str, data: Mapping[str, Any] | None = None) -> str:
    """One Server-Sent Event of the graphql-sse protocol."""
    payload = json.dumps(data, separators=(",", ":")) if data is not None else ""
    return f"event: {name}\r\ndata: {payload}\r\n\r\n"


@dataclass
class RequestError(Exception):
    """A request that cannot be executed: answered with a GraphQL error body and no `data`.

    `well_formed` requests (the body was a GraphQL request, the document was not acceptable)
    are 200 under application/json, as the specification asks of legacy clients; the others
    (not JSON, wrong parameter types, wrong method) carry `status` under both media types.
    """

    message: str
    code: str = "BAD_USER_INPUT"
    status: int = 400
    well_formed: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds the client should wait before retrying (UNAVAILABLE): `extensions.retryAfter`.
    retry_after: int | None = None

    def body(self) -> dict[str, Any]:
        """The GraphQL response of this error."""
        extensions: dict[str, Any] = {"code": self.code}
        if self.retry_after is not None:
            extensions["retryAfter"] = self.retry_after
        return {"errors": [{"message": self.message, "extensions": extensions}]}


def is_request_error(response: Mapping[str, Any]) -> bool:
    """Whether a processed result is a request error: nothing ran, so no `data` entry.

    Errors raised before execution (syntax, validation, limits, cost, variables) have no
    path; a field error always has one, even when it nulls the whole of `data`.
    """
    errors = response.get("errors")
    if response.get("data") is not None or not errors:
        return False
    return all(isinstance(e, dict) and not e.get("path") for e in errors)


def status_of(response: Mapping[str, Any], media_type: str) -> int:
    """The status code of a GraphQL response under the negotiated media type."""
    if media_type != GRAPHQL_RESPONSE_JSON:
        return 200
    if response.get("data") is None and retry_after_of(response) is not None:
        return _STATUS_OF_CODE[UNAVAILABLE]
    if "data" in response:
        return 200
    errors = response.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = (first.get("extensions") or {}).get("code")
    return _STATUS_OF_CODE.get(code, 400) if isinstance(code, str) else 400


def retry_after_of(response: Mapping[str, Any]) -> int | None:
    """The `retryAfter` of the response's first UNAVAILABLE error, if it has one."""
    for error in response.get("errors") or ():
        extensions = (error.get("extensions") or {}) if isinstance(error, dict) else {}
        wait = extensions.get("retryAfter")
        if extensions.get("code") == UNAVAILABLE and isinstance(wait, int):
            return wait
    return None


def _encoded(content: Mapping[str, Any] | list[Mapping[str, Any]]) -> str:
    """The response's JSON text; `data` PostgreSQL built (a RawJSON) goes in as it is."""
    data = content.get("data") if isinstance(content, Mapping) else None
    if isinstance(data, RawJSON) and isinstance(content, Mapping):
        rest = {key: value for key, value in content.items() if key != "data"}
        tail = json.dumps(rest, separators=(",", ":"), ensure_ascii=False)[1:]
        return '{"data":' + data.text + ("," + tail if rest else tail)
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


def graphql_response(
    content: Mapping[str, Any] | list[Mapping[str, Any]],
    *,
    media_type: str,
    status: int,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON response of a GraphQL result (or batch) under the negotiated media type; a 503
    says when to come back (`Retry-After`)."""
    encoded = _encoded(content)
    all_headers = dict(headers or {})
    if status == 503 and isinstance(content, Mapping):
        wait = retry_after_of(content)
        if wait is not None:
            all_headers.setdefault("Retry-After", str(wait))
    return Response(
        encoded.encode(),
        status_code=status,
        headers=all_headers,
        media_type=f"{media_type}; charset=utf-8",
    )


def request_error_response(error: RequestError, *, accept: str | None) -> Response:
    """The response of a request error under the media type the client accepts."""
    media_type = response_media_type(accept)
    status = error.status
    if error.well_formed:
        status = status_of(error.body(), media_type)
    return graphql_response(
        error.body(), media_type=media_type, status=status, headers=error.headers
    )
