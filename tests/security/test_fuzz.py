"""Fuzzing through the public API: well-typed input never yields a 5xx or an INTERNAL error.

schemathesis generates operations from the exported schema (every query and mutation field,
with arguments of the right types); Hypothesis drives the fields whose parsing is hardest
(RRULEs, time-zone names, DateTime strings). Each runs in a worker thread with a synchronous
client against the whole system served by uvicorn (see `served`), so the server keeps running
on the session's event loop. Budgets are fixed so the module stays well under a minute.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes

pytestmark = pytest.mark.e2e

# Mutations after which the token the fuzzer holds no longer works.
ENDS_SESSION = {"logOut", "logOutEverywhere", "changePassword", "deleteAccount"}
SCHEMA = Path(__file__).resolve().parents[2] / "graphql_schema" / "schema.graphql"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces
    database=None,
    suppress_health_check=list(HealthCheck),
)

# RFC 3339 with an offset, as the DateTime scalar demands, plus near misses it must refuse,
# and the ends of the range with offsets that push them past year 1 or 9999 in UTC.
datetimes = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        timezones=st.sampled_from([UTC]),
    ).map(lambda d: d.isoformat()),
    st.text(max_size=40),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "9999-12-31T23:59:59.999999-23:59",
        ]
    ),
)
schemathesis.graphql.scalar("DateTime", datetimes.map(nodes.String))


def json_object(fields: dict[str, Any]) -> Any:
    """A JSON scalar's literal: an object of the generated keys and values."""
    return nodes.Object(
        [
            graphql.ObjectFieldNode(
                name=graphql.NameNode(value=key),
                value=nodes.Boolean(value)
                if isinstance(value, bool)
                else nodes.Int(value)
                if isinstance(value, int)
                else nodes.String(value),
            )
            for key, value in fields.items()
        ]
    )


# JSON (saved filters): filter-shaped objects, with keys the API knows and keys it does not.
json_values = st.dictionaries(
    st.sampled_from(["inbox", "text", "priorities", "dueFrom", "field", "bogus", "assignedToMe"]),
    st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=20)),
    max_size=4,
)
schemathesis.graphql.scalar("JSON", json_values.map(json_object))


def sign_up(base: str) -> str:
    """A fresh account's token."""
    response = httpx.post(
        f"{base}/graphql",
        json={
            "query": 'mutation($e: String!) { signUp(email: $e, password: "fuzz fuzz") { token } }',
            "variables": {"e": f"fuzz-{uuid.uuid4().hex[:12]}@example.com"},
        },
    )
    token: str = response.json()["data"]["signUp"]["token"]
    return token


def assert_contract(response: httpx.Response | Any, what: object) -> dict[str, Any]:
    """No 5xx, and every error carries a contract code other than INTERNAL."""
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    body: dict[str, Any] = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in {
            "UNAUTHENTICATED",
            "NOT_FOUND",
            "BAD_USER_INPUT",
            "CONFLICT",
            "RATE_LIMITED",
            "COST_LIMIT",
        }, (
            what,
            error,
        )
        assert "Traceback" not in error["message"] and "SELECT" not in error["message"]
    return body


def test_the_fuzzer_covers_every_root_field() -> None:
    schema = schemathesis.graphql.from_path(str(SCHEMA))
    labels = {op.ok().label for op in schema.get_all_operations() if isinstance(op, Ok)}
    # Subscriptions are not over HTTP; every query and mutation field is generated.
    assert {
        "Query.task",
        "Query.tasks",
        "Mutation.createTask",
        "Mutation.registerWebhook",
    } <= labels
    assert len(labels) >= 22


async def test_schemathesis_finds_no_5xx_and_no_internal(served: str) -> None:
    def fuzz() -> None:
        token = sign_up(served)
        schema = schemathesis.graphql.from_path(str(SCHEMA))
        schema.config.update(base_url=f"{served}/graphql")
        answered: list[bool] = []

        @FUZZ
        @given(case=schema.as_strategy())
        def check(case: Any) -> None:
            nonlocal token
            response = case.call(
                base_url=f"{served}/graphql", headers={"Authorization": f"Bearer {token}"}
            )
            body = assert_contract(response, case.body)
            answered.append("errors" not in body)
            codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
            if "UNAUTHENTICATED" in codes or (body.get("data") or {}).keys() & ENDS_SESSION:
                # The fuzzer logged itself out (logOut, changePassword, deleteAccount, ...):
                # the next cases get a fresh account instead of a wall of UNAUTHENTICATED.
                token = sign_up(served)

        check()
        # Not just a wall of refusals: a good share of the generated operations were served.
        assert sum(answered) >= len(answered) // 10, (sum(answered), len(answered))

    await asyncio.to_thread(fuzz)


RRULE_PARTS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "FREQ=DAILY",
                "FREQ=WEEKLY",
                "FREQ=MONTHLY",
                "FREQ=YEARLY",
                "FREQ=HOURLY",
                "FREQ=MINUTELY",
                "FREQ=SECONDLY",
                "INTERVAL=0",
                "INTERVAL=-1",
                "INTERVAL=99999999",
                "COUNT=0",
                "COUNT=1",
                "COUNT=-5",
                "UNTIL=19700101T000000Z",
                "UNTIL=garbage",
                "BYDAY=MO,WE",
                "BYDAY=9XX",
                "BYMONTHDAY=31",
                "BYMONTHDAY=-40",
                "BYMONTH=2",
                "BYMONTH=13",
                "BYHOUR=25",
                "BYSETPOS=-1",
                "BYWEEKNO=54",
                "BYYEARDAY=366",
                "WKST=SU",
                "DTSTART=20200101T000000Z",
                "RRULE:FREQ=DAILY",
                "",
                ";",
                "=",
            ]
        ),
        st.text(max_size=20),
    ),
    max_size=6,
).map(";".join)
TIMEZONES = st.one_of(
    st.sampled_from(
        [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+14",
            "../../etc/passwd",
            "Europe/../UTC",
            "/etc/localtime",
            "localtime",
            "",
            " ",
            "Europe/Berlin\x00",
            "+01:00",
        ]
    ),
    st.text(max_size=40),
)


async def test_hypothesis_rrules_timezones_and_dates_are_data_or_bad_user_input(
    served: str,
) -> None:
    create = (
        "mutation($i: CreateTaskInput!) { createTask(input: $i) "
        "{ id dueAt recurrence { rule timezone upcoming(limit: 3) } } }"
    )

    def fuzz() -> None:
        token = sign_up(served)
        headers = {"Authorization": f"Bearer {token}"}

        @FUZZ
        @given(rule=RRULE_PARTS, zone=TIMEZONES, due=datetimes)
        def check(rule: str, zone: str, due: str) -> None:
            variables = {
                "i": {
                    "title": "fuzz",
                    "dueAt": due,
                    "recurrence": {"rule": rule, "timezone": zone},
                }
            }
            response = httpx.post(
                f"{served}/graphql",
                json={"query": create, "variables": variables},
                headers=headers,
                timeout=30,
            )
            body = assert_contract(response, variables)
            if body.get("errors"):
                error = body["errors"][0]
                assert error["extensions"]["code"] == "BAD_USER_INPUT", (variables, error)
                # Names the field: ours say "field: ...", GraphQL's coercion names the variable.
                assert (
                    error["message"].split(":")[0]
                    in {
                        "dueAt",
                        "recurrence.rule",
                        "recurrence.timezone",
                        "recurrence",
                    }
                    or "$i" in error["message"]
                ), (variables, error)
            else:
                assert body["data"]["createTask"]["recurrence"]["rule"]

        check()

    await asyncio.to_thread(fuzz)
