"""Issue 13's recurrence probes through the API: costly rules and out-of-range dates are
BAD_USER_INPUT, and expansion runs off the event loop (the loop answers while a rule expands).

Off the loop is proven without a clock: the expansion, when it starts, asks the event loop to set
an event and waits for it. On the loop's own thread that request cannot run until the expansion
returns, so the wait would give up (after 10 s, only when the code under test is wrong).
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any

import pytest

from taskstream.recurrence import Recurrence
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

PREVIEW = (
    "query($r: String!, $s: DateTime, $n: Int) "
    '{ previewRecurrence(rule: $r, start: $s, timezone: "UTC", limit: $n) }'
)
CREATE = (
    "mutation($i: CreateTaskInput!) "
    "{ createTask(input: $i) { id recurrence { upcoming(limit: 100) } } }"
)
PROBE = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9"
PROBE_START = "2044-02-29T09:00:00Z"
# Legal and about the costliest per call: 100 occurrences of Feb 29 (400 years of days).
FEB_29 = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=9"


def recurrence(rule: str, start: str) -> dict[str, Any]:
    return {
        "title": "sparse",
        "dueAt": start,
        "recurrence": {"rule": rule, "timezone": "UTC"},
    }


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"r": PROBE, "s": PROBE_START, "n": 100}, "recurrence.rule"),
        ({"r": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY;UNTIL=99991231", "s": "2026-05-04T09:00:00Z"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY;UNTIL=00010101T000000Z"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY;COUNT=0"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY;INTERVAL=0"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY;INTERVAL=2147483648"}, "recurrence.rule"),
    ],
)
async def test_preview_refuses_costly_rules_and_out_of_range_dates(
    alice: GraphQLClient, variables: dict[str, Any], field: str
) -> None:
    error = await alice.error(PREVIEW, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("rule", "start", "field"),
    [
        (PROBE, PROBE_START, "recurrence.rule"),
        ("FREQ=DAILY;UNTIL=99991231", "2026-05-04T09:00:00Z", "recurrence.rule"),
    ],
)
async def test_create_task_refuses_costly_rules_and_out_of_range_dates(
    alice: GraphQLClient, rule: str, start: str, field: str
) -> None:
    error = await alice.error(CREATE, {"i": recurrence(rule, start)})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"{field}: ")
    tasks = await alice.data("{ tasks(first: 5) { totalCount } }")
    assert tasks["tasks"]["totalCount"] == 0


@pytest.mark.parametrize("start", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
async def test_starts_out_of_range_are_bad_user_input(alice: GraphQLClient, start: str) -> None:
    """The DateTime scalar already bounds the years (the rule's own check is a unit test)."""
    for query, variables in (
        (PREVIEW, {"r": "FREQ=DAILY", "s": start}),
        (CREATE, {"i": recurrence("FREQ=DAILY", start)}),
    ):
        error = await alice.error(query, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "between the years" in error["message"]


@pytest.fixture
async def loop_answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Wraps `Recurrence.parse` and `Recurrence.upcoming`: each call records whether the event
    loop ran a callback once it had started (it can only if the call runs on another thread)."""
    loop = asyncio.get_running_loop()
    answered: list[tuple[str, bool]] = []

    def loop_is_free(name: str) -> None:
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        answered.append((name, ran.wait(timeout=10)))

    parse, upcoming = Recurrence.parse, Recurrence.upcoming

    def parse_checked(**kwargs: Any) -> Recurrence:
        loop_is_free("parse")
        return parse(**kwargs)

    def upcoming_checked(self: Recurrence, after: datetime, limit: int) -> list[datetime]:
        loop_is_free("upcoming")
        return upcoming(self, after, limit)

    monkeypatch.setattr(Recurrence, "parse", staticmethod(parse_checked))
    monkeypatch.setattr(Recurrence, "upcoming", upcoming_checked)
    return answered


async def test_preview_expands_off_the_event_loop(
    alice: GraphQLClient, loop_answers: list[tuple[str, bool]]
) -> None:
    dates = (await alice.data(PREVIEW, {"r": FEB_29, "s": "2028-02-29T09:00:00Z", "n": 100}))[
        "previewRecurrence"
    ]
    assert len(dates) == 100 and dates[-1] == "2436-02-29T09:00:00+00:00"
    assert loop_answers == [("parse", True), ("upcoming", True)]


async def test_stored_rules_expand_off_the_event_loop(
    alice: GraphQLClient, loop_answers: list[tuple[str, bool]]
) -> None:
    created = (await alice.data(CREATE, {"i": recurrence(FEB_29, "2028-02-29T09:00:00Z")}))[
        "createTask"
    ]
    upcoming = created["recurrence"]["upcoming"]
    assert len(upcoming) == 100 and upcoming[-1] == "2440-02-29T09:00:00+00:00"
    updated = await alice.data(
        "mutation($id: ID!, $i: UpdateTaskInput!) { updateTask(id: $id, input: $i) { id } }",
        {"id": created["id"], "i": {"recurrence": {"rule": FEB_29 + ";COUNT=5"}}},
    )
    assert updated["updateTask"]["id"] == created["id"]
    skipped = await alice.data(
        "mutation($id: ID!) { skipOccurrence(id: $id) { dueAt } }", {"id": created["id"]}
    )
    assert skipped["skipOccurrence"]["dueAt"] == "2032-02-29T09:00:00+00:00"
    assert loop_answers == [
        ("parse", True),  # createTask validates the rule
        ("upcoming", True),  # the `upcoming` field
        ("parse", True),  # updateTask validates the new rule
        ("upcoming", True),  # skipOccurrence finds the next occurrence
    ]
