"""The error-code and WebSocket close-code reference, docs/errors.md, generated from here.

Each code's HTTP status under each media type is not written down: it is computed by
gateway/graphql_http.py's own `status_of` for the stage the code occurs at, so the page follows
the code. tests/docs/test_error_reference.py checks that the committed page is current, that
every code the gateway can send is listed (and nothing else), and the same of close codes.
Run `python -m gateway.error_reference` after changing either list.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, status_of
from taskstream.errors import UNAVAILABLE_RETRY_AFTER_SECONDS

Stage = Literal["request", "field"]
PAGE = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@dataclass(frozen=True)
class ErrorCode:
    """One `extensions.code`: when it is sent, whether to retry, and an example error."""

    code: str
    when: str
    retry: str
    # Request error: nothing ran, no `data`; field error: execution began, `data` present.
    stages: tuple[Stage, ...]
    message: str
    # Answers given before GraphQL runs (the edge, the HTTP view), the same under both media
    # types: (status, what).
    transport: tuple[tuple[int, str], ...] = ()
    extensions: tuple[tuple[str, Any], ...] = ()

    def example(self) -> dict[str, Any]:
        """One error of this code as a client receives it."""
        error: dict[str, Any] = {
            "message": self.message,
            "extensions": {"code": self.code, **dict(self.extensions)},
        }
        if "field" in self.stages:
            error["path"] = ["createTask"]
        return error

    def status(self, stage: Stage, media_type: str) -> int:
        """The HTTP status of a response whose only error is this one, at `stage`."""
        extensions = {"code": self.code, **dict(self.extensions)}
        response: dict[str, Any] = {"errors": [{"message": self.message, "extensions": extensions}]}
        if stage == "field":
            response["data"] = None
        return status_of(response, media_type)


CODES: tuple[ErrorCode, ...] = (
    ErrorCode(
        "BAD_USER_INPUT",
        "The request or an argument broke a rule: a syntax or validation error, a variable of "
        "the wrong type, a limit (depth, aliases, list sizes), or a domain rule (the message "
        "names the field and what is allowed). Nothing was changed.",
        "No: change the request as the message says.",
        ("request", "field"),
        "title: must be 1 to 500 characters after trimming",
        transport=(
            (400, "the body is not a JSON GraphQL request"),
            (405, "a mutation over GET (`Allow: GET, POST`)"),
            (413, "the body is larger than the limit"),
            (415, "a Content-Type other than application/json"),
            (431, "the request headers are too large"),
        ),
    ),
    ErrorCode(
        "UNAUTHENTICATED",
        "No bearer token, or one that is invalid, expired or revoked (every operation but "
        "`signUp` and `logIn` needs one).",
        "No: log in again (`logIn`) and retry with the new token.",
        ("field",),
        "a valid bearer token is required",
    ),
    ErrorCode(
        "NOT_FOUND",
        "The object does not exist or belongs to someone else (the two are answered alike).",
        "No.",
        ("field",),
        "task 7d0f3c1e-0000-4000-8000-000000000000 not found",
    ),
    ErrorCode(
        "CONFLICT",
        "The change collides with the current state: an email already taken, or a stale "
        "`expectedVersion`. Nothing was changed.",
        "After reading the current state again (a stale version); not as is.",
        ("field",),
        "expectedVersion: the task is at version 4, not 3; read it again and retry",
    ),
    ErrorCode(
        "FORBIDDEN",
        "A member of a shared project whose role does not allow the change; a document the "
        "trusted-documents policy does not allow; a cross-origin preflight.",
        "No.",
        ("request", "field"),
        "projectId: this needs the EDITOR role in project 42, you are VIEWER",
        transport=((403, "a CORS preflight (the API grants no other origin anything)"),),
    ),
    ErrorCode(
        "RATE_LIMITED",
        "Too many attempts (log-ins, sign-ups, mutations a minute), too few cost points left "
        "in the caller's bucket, or too many connections from one address or account.",
        "Yes, after the wait the message gives.",
        ("request", "field"),
        "too many mutations; try again in 12 s",
        transport=((429, "the connection caps of an address or account (HTTP and SSE)"),),
    ),
    ErrorCode(
        "COST_LIMIT",
        "The operation's static cost is above the budget (`TASKSTREAM_GRAPHQL_MAX_COST`); it "
        "did not run.",
        "No: ask for fewer or smaller lists.",
        ("request",),
        "query cost 31,000 exceeds the budget of 20,000; ask for fewer or smaller lists",
    ),
    ErrorCode(
        "TIMEOUT",
        "The request passed its deadline (request error) or a statement its statement "
        "timeout (field error); its transaction was rolled back. Nothing was changed.",
        "Yes, once; if it recurs, ask for less.",
        ("request", "field"),
        "the request took too long and was stopped; nothing was changed",
    ),
    ErrorCode(
        "PERSISTED_QUERY_NOT_FOUND",
        "A persisted-query hash the gateway does not hold (Apollo's automatic persisted queries).",
        "Yes, at once, with the query text beside the hash (clients do this by themselves).",
        ("request",),
        "PersistedQueryNotFound: no document is stored under this hash; send it again with "
        "the query",
    ),
    ErrorCode(
        "UNAVAILABLE",
        "The database cannot serve the request now: stopped or restarting, unreachable, out "
        "of disk, read-only, or no pooled connection within its timeout. Nothing was changed, "
        "unless the message says the connection failed while the change was being committed "
        "(its outcome is then unknown).",
        "Yes, after `extensions.retryAfter` seconds (the `Retry-After` header of a 503); "
        "after a failed commit, read the object back first.",
        ("request", "field"),
        "the database is unavailable right now; nothing was changed; retry later",
        extensions=(("retryAfter", UNAVAILABLE_RETRY_AFTER_SECONDS),),
    ),
    ErrorCode(
        "INTERNAL",
        "An unexpected failure; the details are in the gateway's log, never in the answer.",
        "Once at most; report it if it recurs.",
        ("field",),
        "internal error; it has been logged",
    ),
)


@dataclass(frozen=True)
class CloseCode:
    """One WebSocket close code the gateway sends: when, and what a client should do."""

    code: int
    when: str
    client: str
    source: str


CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(
        1008,
        "The handshake is refused before the socket is accepted (answered as HTTP 403).",
        "Do not reconnect as is: check the URL and the subprotocol.",
        "Strawberry (`reject_websocket`)",
    ),
    CloseCode(
        1013,
        "The subscriber fell behind: more events than its queue holds were waiting, or events "
        "were missed while the broadcast connection was re-established; or, at "
        "`connection_init`, the token could not be checked because the database is "
        "unavailable (UNAVAILABLE's case on a socket).",
        "Reconnect after a short backoff (a few seconds when the database is unavailable), "
        "resubscribe, and refetch what the view shows.",
        "gateway/shared_streams.py, graphql_schema/tasks/subscriptions.py, "
        "graphql_schema/projects/live.py, gateway/graphql_app.py (`on_ws_connect`)",
    ),
    CloseCode(
        4400,
        "A message that is not valid graphql-transport-ws (bad JSON, an invalid "
        "`connection_init` payload) or a subscription document that does not parse or "
        "validate.",
        "Do not reconnect with the same message: fix the client.",
        "Strawberry (graphql-transport-ws)",
    ),
    CloseCode(
        4401,
        "`subscribe` was sent before the server acknowledged `connection_init`.",
        "Wait for `connection_ack` before subscribing (a client-library bug otherwise).",
        "Strawberry (graphql-transport-ws)",
    ),
    CloseCode(
        4403,
        "No valid bearer token in `connection_init` (missing, invalid, expired), or the "
        "socket's token was revoked (log-out, password change) while it was open.",
        "Get a new token (`logIn`), then reconnect with it; do not retry with the old one.",
        "gateway/graphql_app.py (`on_ws_connect`), gateway/sessions.py",
    ),
    CloseCode(
        4406,
        "The client offered no subprotocol the gateway speaks (only `graphql-transport-ws`).",
        "Use graphql-transport-ws (graphql-ws's client), or Server-Sent Events.",
        "Strawberry",
    ),
    CloseCode(
        4408,
        "No `connection_init` within `TASKSTREAM_WS_INIT_TIMEOUT_SECONDS`.",
        "Reconnect and send `connection_init` at once.",
        "Strawberry (`connection_init_wait_timeout`)",
    ),
    CloseCode(
        4409,
        "A `subscribe` reused the id of a subscription still running on the socket.",
        "Use a fresh id per operation (a client bug otherwise).",
        "Strawberry (graphql-transport-ws)",
    ),
    CloseCode(
        4429,
        "Too many sockets from this address or this account "
        "(`TASKSTREAM_MAX_CONNECTIONS_PER_ADDRESS`, `TASKSTREAM_MAX_WEBSOCKETS_PER_ACCOUNT`), "
        "or a second `connection_init` on one socket.",
        "Close sockets you no longer use; reconnect later with backoff, never in a tight loop.",
        "gateway/graphql_app.py (`_serve_socket`), Strawberry",
    ),
)

HEADER = """# Error codes and WebSocket close codes

<!-- Generated from gateway/error_reference.py by `python -m gateway.error_reference`;
     do not edit by hand (tests/docs/test_error_reference.py checks it is current). -->

Every GraphQL error carries `extensions.code`. The HTTP status depends on the media type the
client accepts ([GraphQL over HTTP](contract/CONTRACT.md#http-protocol)): under
`application/graphql-response+json` a *request error* (nothing ran: the body has `errors` and no
`data`) has a 4xx or 5xx status, and a *field error* (execution began: `data` is present, maybe
`null`) is 200, except `UNAVAILABLE`, which is 503 whenever `data` is `null`; under
`application/json` every well-formed request is answered 200. Some answers come before GraphQL
runs (the edge and the HTTP view), with the same status under both media types. No message ever
carries a stack trace, SQL or an internal path.
"""

CLOSE_HEADER = """
## WebSocket close codes

Subscriptions use `graphql-transport-ws` at `/graphql`. The gateway (or Strawberry, its GraphQL
server) closes a socket with these codes; errors of one operation travel as `error` messages
and leave the socket open.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _statuses(entry: ErrorCode, media_type: str) -> str:
    parts = [f"{stage} error: {entry.status(stage, media_type)}" for stage in entry.stages]
    parts += [f"{status} ({what})" for status, what in entry.transport]
    return "; ".join(parts)


def render() -> str:
    """The text of docs/errors.md."""
    lines = [HEADER, "## Error codes", ""]
    lines.append(
        "| Code | When | Retry? | `application/graphql-response+json` | `application/json` |"
    )
    lines.append("|---|---|---|---|---|")
    for entry in CODES:
        lines.append(
            f"| `{entry.code}` | {_cell(entry.when)} | {_cell(entry.retry)} "
            f"| {_cell(_statuses(entry, GRAPHQL_RESPONSE_JSON))} "
            f"| {_cell(_statuses(entry, JSON))} |"
        )
    lines += ["", "### Examples", ""]
    for entry in CODES:
        lines.append(f"`{entry.code}`:")
        lines.append("```json")
        lines.append(json.dumps(entry.example(), ensure_ascii=False))
        lines.append("```")
    lines.append(CLOSE_HEADER)
    lines.append("| Code | When | What a client should do | Sent by |")
    lines.append("|---|---|---|---|")
    for close in CLOSE_CODES:
        lines.append(
            f"| {close.code} | {_cell(close.when)} | {_cell(close.client)} "
            f"| {_cell(close.source)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write docs/errors.md."""
    PAGE.write_text(render())
    print(f"wrote {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
