"""Forged cursors on every `after` argument: BAD_USER_INPUT naming it, never INTERNAL.

`tasks` decodes its cursor in the gateway, `notifications` and `auditLog` in the services that
own them (reached by service invocation): each is tried with cursors forged at every layer,
through the whole in-process system, and then with arbitrary strings by Hypothesis.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskstream.persistence.cursors import CURSOR_MAX, encode_cursor
from tests.conftest import GraphQLClient
from tests.security.test_fuzz import assert_contract, sign_up
from workers.audit.trail import ORDERING as AUDIT_ORDERING
from workers.notifications.api import NEWEST_FIRST

pytestmark = pytest.mark.e2e

QUERIES = {
    "tasks": "query($a: String) { tasks(first: 2, after: $a) { totalCount } }",
    "tasks by priority": (
        "query($a: String) { tasks(first: 2, after: $a, orderBy: [{field: PRIORITY}]) "
        "{ totalCount } }"
    ),
    "notifications": "query($a: String) { notifications(first: 2, after: $a) { totalCount } }",
    "auditLog": "query($a: String) { auditLog(first: 2, after: $a) { totalCount } }",
}


def b64(raw: bytes) -> str:
    """URL-safe base64 without padding, as our cursors are written."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rewrapped(cursor: str, values: Any) -> str:
    """A real cursor's envelope (its ordering fingerprint) around other values."""
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload["v"] = values
    return b64(json.dumps(payload).encode())


ANY_QUERY = [
    "!!!",
    "ä",
    "AAAA",
    "A" * 100_000,
    b64(b"not json"),
    b64(b"[1, 2, 3]"),
    b64(b'"text"'),
    b64(b'{"o": 1}'),
    b64(b'{"v": [1]}'),
    b64(b"[" * 700),
    b64(b"9" * 700),
    b64(json.dumps({"o": "000000000000", "v": [1]}).encode()),
]
ID = str(uuid.uuid4())
TIME = "2030-01-01T00:00:00+00:00"
# Right envelope, wrong values: the kinds of each ordering's keys, broken one way at a time.
DEFAULT_ORDER_VALUES = [
    ["x", "y", "z"],
    [1, 2, 3],
    [TIME, TIME],
    [None, None, ID],
    ["0001-01-01T00:00:00+05:00", TIME, ID],
    ["9999-12-31T23:59:59-05:00", TIME, ID],
    ["2030-01-01T00:00:00", TIME, ID],
    [TIME, TIME, "not a uuid"],
    [TIME, 10**30, ID],
    [[TIME], {"t": TIME}, ID],
]
PRIORITY_ORDER_VALUES = [
    [10**6, ID],
    [2**70, ID],
    ["HIGH", ID],
    [True, ID],
    [1.5e308, ID],
    [None, ID],
]
NOTIFICATION_VALUES: list[list[Any]] = [
    ["x", ID],
    [TIME, "not a uuid"],
    ["0001-01-01T00:00:00+05:00", ID],
    ["2030-01-01T00:00:00", ID],
    [10**30, ID],
    [TIME],
]
AUDIT_VALUES: list[list[Any]] = [[2**64], [-(2**64)], [True], ["7"], [1.5], [None], [], [1, 2]]


@pytest.fixture(scope="module")
async def user(whole: httpx.AsyncClient) -> GraphQLClient:
    """A user of the whole system with two tasks (so there is a cursor to forge from)."""
    client = GraphQLClient(whole)
    await client.sign_up()
    for title in ("one", "two", "three"):
        await client.data(
            "mutation($t: String!) { createTask(input: {title: $t, priority: HIGH}) { id } }",
            {"t": title},
        )
    return client


async def end_cursor(user: GraphQLClient, query: str) -> str:
    """The endCursor of the first page of a tasks query."""
    data = await user.data(query.replace("{ totalCount }", "{ pageInfo { endCursor } }"), {})
    cursor: str = data["tasks"]["pageInfo"]["endCursor"]
    return cursor


async def assert_refused(user: GraphQLClient, name: str, cursor: str) -> None:
    """The forged cursor is BAD_USER_INPUT naming `after`."""
    body = await user.execute(QUERIES[name], {"a": cursor})
    assert body.get("errors"), (name, cursor[:80], body)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", (name, cursor[:80], error)
    assert error["message"].startswith("after: "), (name, cursor[:80], error)


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_text_that_is_no_cursor_is_refused_everywhere(user: GraphQLClient, name: str) -> None:
    for cursor in ANY_QUERY:
        await assert_refused(user, name, cursor)


async def test_task_cursors_with_wrong_values_are_refused(user: GraphQLClient) -> None:
    real = await end_cursor(user, QUERIES["tasks"])
    for values in DEFAULT_ORDER_VALUES:
        await assert_refused(user, "tasks", rewrapped(real, values))
    by_priority = await end_cursor(user, QUERIES["tasks by priority"])
    for values in PRIORITY_ORDER_VALUES:
        await assert_refused(user, "tasks by priority", rewrapped(by_priority, values))


async def test_notification_and_audit_cursors_with_wrong_values_are_refused(
    user: GraphQLClient,
) -> None:
    for values in NOTIFICATION_VALUES:
        await assert_refused(user, "notifications", encode_cursor(NEWEST_FIRST, values))
    for values in AUDIT_VALUES:
        await assert_refused(user, "auditLog", encode_cursor(AUDIT_ORDERING, values))


async def test_a_cursor_of_another_ordering_or_list_is_refused(user: GraphQLClient) -> None:
    by_priority = await end_cursor(user, QUERIES["tasks by priority"])
    await assert_refused(user, "tasks", by_priority)
    await assert_refused(user, "auditLog", by_priority)
    await assert_refused(user, "notifications", encode_cursor(AUDIT_ORDERING, [1]))


async def test_real_cursors_still_page(user: GraphQLClient) -> None:
    for name in ("tasks", "tasks by priority"):
        cursor = await end_cursor(user, QUERIES[name])
        data = await user.data(QUERIES[name], {"a": cursor})
        assert data["tasks"]["totalCount"] == 3
    data = await user.data(QUERIES["auditLog"], {"a": encode_cursor(AUDIT_ORDERING, [1])})
    assert data["auditLog"]["totalCount"] >= 0


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
strings = st.one_of(
    st.text(max_size=CURSOR_MAX + 50),
    st.binary(max_size=200).map(b64),
    json_values.map(lambda v: b64(json.dumps(v).encode())),
)


@pytest.mark.parametrize("name", ["tasks", "notifications", "auditLog"])
async def test_hypothesis_any_string_as_after_is_data_or_bad_user_input(
    served: str, name: str
) -> None:
    def fuzz() -> None:
        headers = {"Authorization": f"Bearer {sign_up(served)}"}
        with httpx.Client(base_url=served, headers=headers, timeout=30) as client:

            @FUZZ
            @given(cursor=strings)
            def check(cursor: str) -> None:
                response = client.post(
                    "/graphql", json={"query": QUERIES[name], "variables": {"a": cursor}}
                )
                body = assert_contract(response, cursor[:80])
                for error in body.get("errors") or []:
                    assert error["extensions"]["code"] == "BAD_USER_INPUT", (cursor[:80], error)
                    assert error["message"].startswith(("after: ", "Variable '$a'")), error

            check()

    await asyncio.to_thread(fuzz)
