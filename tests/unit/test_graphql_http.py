"""Media-type negotiation and request-error classification (gateway/graphql_http.py)."""

from __future__ import annotations

import json

import pytest

from gateway.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    RequestError,
    is_request_error,
    request_error_response,
    response_media_type,
    status_of,
    wants_event_stream,
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("text/html, */*;q=0.8", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", JSON),
        ("application/json;q=0.5, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0, application/json", JSON),
        ("application/graphql-response+json;q=oops", JSON),
        ("application/graphql-response+json;charset=utf-8", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_response_media_type(accept: str | None, expected: str) -> None:
    assert response_media_type(accept) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/event-stream", True),
        ("text/event-stream; charset=utf-8", True),
        # urql's Accept on every request: JSON wins.
        ("application/graphql-response+json, application/json, text/event-stream", False),
        ("application/json", False),
        (None, False),
    ],
)
def test_wants_event_stream(accept: str | None, expected: bool) -> None:
    assert wants_event_stream(accept) is expected


def test_a_request_error_has_no_path_and_no_data() -> None:
    syntax = {"data": None, "errors": [{"message": "x", "extensions": {"code": "BAD_USER_INPUT"}}]}
    field = {"data": None, "errors": [{"message": "x", "path": ["me"]}]}
    partial = {"data": {"me": None}, "errors": [{"message": "x"}]}
    assert is_request_error(syntax)
    assert not is_request_error(field) and not is_request_error(partial)
    assert not is_request_error({"data": None})


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("BAD_USER_INPUT", 400),
        ("COST_LIMIT", 400),
        ("PERSISTED_QUERY_NOT_FOUND", 400),
        ("FORBIDDEN", 403),
        ("RATE_LIMITED", 429),
        ("TIMEOUT", 504),
    ],
)
def test_status_of_a_request_error(code: str, status: int) -> None:
    body = {"errors": [{"message": "x", "extensions": {"code": code}}]}
    assert status_of(body, GRAPHQL_RESPONSE_JSON) == status
    assert status_of(body, JSON) == 200
    assert status_of({"data": None, **body}, GRAPHQL_RESPONSE_JSON) == 200


def test_request_error_responses() -> None:
    malformed = request_error_response(RequestError("body: bad"), accept="application/json")
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(bytes(malformed.body)) == {
        "errors": [{"message": "body: bad", "extensions": {"code": "BAD_USER_INPUT"}}]
    }
    well_formed = RequestError("unknown", code="PERSISTED_QUERY_NOT_FOUND", well_formed=True)
    assert request_error_response(well_formed, accept=None).status_code == 200
    modern = request_error_response(well_formed, accept=GRAPHQL_RESPONSE_JSON)
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    allowed = RequestError("GET", status=405, headers={"Allow": "GET, POST"})
    assert request_error_response(allowed, accept=None).headers["allow"] == "GET, POST"
