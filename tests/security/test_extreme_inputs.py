"""Extreme values in every argument: data or BAD_USER_INPUT naming the field, never INTERNAL.

Dates at the ends of what PostgreSQL and Python hold (0001, 9999, with offsets that push them
past either end), integers at and beyond 32 bits, empty and very long strings: each through
GraphQL on the whole in-process system.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

EXTREME_TIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00-05:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59+05:00",
    "9999-12-31T23:59:59.999999-23:59",
]
EXTREME_INTS = [0, -1, 2**31 - 1, -(2**31), 2**31, 2**53, -(2**63)]
EXTREME_STRINGS = ["", " ", "x" * 100_000]
# UNAUTHENTICATED: logIn with credentials that match no account.
ALLOWED = {"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "UNAUTHENTICATED"}


@pytest.fixture(scope="module")
async def user(whole: httpx.AsyncClient) -> GraphQLClient:
    """A user of the whole system."""
    client = GraphQLClient(whole)
    await client.sign_up()
    return client


async def assert_no_internal(user: GraphQLClient, query: str, variables: dict[str, Any]) -> Any:
    """The answer is data or errors with a contract code for the client's input."""
    body = await user.execute(query, variables)
    for error in body.get("errors") or []:
        code = error["extensions"]["code"]
        assert code in ALLOWED, (query, variables, error)
        if code == "BAD_USER_INPUT":
            assert ":" in error["message"] or "$" in error["message"], error
    return body


async def a_task(user: GraphQLClient, **fields: Any) -> str:
    """A new task's id."""
    data = await user.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {"i": {"title": "extreme", **fields}},
    )
    task_id: str = data["createTask"]["id"]
    return task_id


async def test_extreme_times_in_every_datetime_argument(user: GraphQLClient) -> None:
    task_id = await a_task(user)
    for when in EXTREME_TIMES:
        cases: list[tuple[str, dict[str, Any]]] = [
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id dueAt } }",
                {"i": {"title": "t", "dueAt": when}},
            ),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": "t", "dueAt": when, "reminders": [{"beforeDue": 60}]}},
            ),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": "t", "reminders": [{"remindAt": when}]}},
            ),
            (
                "mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) "
                "{ id dueAt } }",
                {"id": task_id, "i": {"dueAt": when}},
            ),
            (
                "query($f: DateTime, $t: DateTime) { tasks(filter: {dueFrom: $f, dueTo: $t}) "
                "{ totalCount } }",
                {"f": when, "t": None},
            ),
            (
                "query($f: DateTime, $t: DateTime) { tasks(filter: {dueFrom: $f, dueTo: $t}) "
                "{ totalCount } }",
                {"f": None, "t": when},
            ),
            (
                "query($f: DateTime) { auditLog(from: $f) { totalCount } }",
                {"f": when},
            ),
            (
                "query($t: DateTime) { auditLog(to: $t) { totalCount } }",
                {"t": when},
            ),
        ]
        for query, variables in cases:
            await assert_no_internal(user, query, variables)


async def test_extreme_ints_in_every_int_argument(user: GraphQLClient) -> None:
    task_id = await a_task(user, dueAt="2030-01-01T00:00:00Z")
    reminder = await user.data(
        "mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) "
        "{ reminders { id } } }",
        {"id": task_id, "i": {"reminders": [{"beforeDue": 5}]}},
    )
    reminder_id = reminder["updateTask"]["reminders"][0]["id"]
    for number in EXTREME_INTS:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("query($n: Int) { tasks(first: $n) { totalCount } }", {"n": number}),
            ("query($n: Int) { notifications(first: $n) { totalCount } }", {"n": number}),
            ("query($n: Int) { auditLog(first: $n) { totalCount } }", {"n": number}),
            (
                'query($n: Int!) { previewRecurrence(rule: "FREQ=DAILY", limit: $n) }',
                {"n": number},
            ),
            (
                "query($id: ID!, $n: Int!) "
                "{ task(id: $id) { recurrence { upcoming(limit: $n) } } }",
                {"id": task_id, "n": number},
            ),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {
                    "i": {
                        "title": "t",
                        "dueAt": "2030-01-01T00:00:00Z",
                        "reminders": [{"beforeDue": number}],
                    }
                },
            ),
            (
                "mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) "
                "{ id } }",
                {"id": task_id, "i": {"expectedVersion": number, "title": "t"}},
            ),
            (
                "mutation($id: ID!, $n: Int!) { snoozeReminder(id: $id, minutes: $n) { id } }",
                {"id": reminder_id, "n": number},
            ),
        ]
        for query, variables in cases:
            await assert_no_internal(user, query, variables)


async def test_empty_and_very_long_strings_in_string_arguments(user: GraphQLClient) -> None:
    task_id = await a_task(user)
    for text in EXTREME_STRINGS:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("query($s: String) { tasks(filter: {text: $s}) { totalCount } }", {"s": text}),
            ("query($s: ID!) { task(id: $s) { id } }", {"s": text}),
            ("query($s: ID) { auditLog(taskId: $s) { totalCount } }", {"s": text}),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": text}},
            ),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": "t", "tags": [text]}},
            ),
            (
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {"i": {"title": "t", "recurrence": {"rule": "FREQ=DAILY", "timezone": text}}},
            ),
            (
                "mutation($id: ID!, $s: String!) { renameTag(id: $id, name: $s) { id } }",
                {"id": task_id, "s": text},
            ),
            ("mutation($s: String!) { updateMe(timezone: $s) { id } }", {"s": text}),
            ("mutation($s: String!) { registerWebhook(url: $s) { secret } }", {"s": text}),
            (
                'mutation($s: String!) { logIn(email: $s, password: "whatever1") { token } }',
                {"s": text},
            ),
        ]
        for query, variables in cases:
            await assert_no_internal(user, query, variables)
