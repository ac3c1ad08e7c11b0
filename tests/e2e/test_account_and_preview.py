"""`updateMe` (time zone) and `previewRecurrence` (a rule's dates before saving)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

PREVIEW = (
    "query($r: String!, $s: DateTime, $tz: String, $n: Int) "
    "{ previewRecurrence(rule: $r, start: $s, timezone: $tz, limit: $n) }"
)


async def test_preview_keeps_wall_clock_time_across_dst(alice: GraphQLClient) -> None:
    dates = (
        await alice.data(
            PREVIEW,
            {"r": "FREQ=DAILY", "s": "2030-03-30T09:00:00+01:00", "tz": "Europe/Berlin", "n": 3},
        )
    )["previewRecurrence"]
    # Berlin moves to summer time on 31 March 2030: 09:00 local is 08:00, then 07:00 UTC.
    assert dates == [
        "2030-03-30T08:00:00+00:00",
        "2030-03-31T07:00:00+00:00",
        "2030-04-01T07:00:00+00:00",
    ]


async def test_preview_without_start_begins_after_now(alice: GraphQLClient) -> None:
    dates = (await alice.data(PREVIEW, {"r": "FREQ=WEEKLY;BYDAY=MO", "n": 4}))["previewRecurrence"]
    parsed = [datetime.fromisoformat(d) for d in dates]
    assert len(parsed) == 4 and parsed == sorted(parsed)
    assert parsed[0] > datetime.now(UTC)
    assert all(d.weekday() == 0 for d in parsed)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"r": "FREQ=MINUTELY"}, "recurrence.rule"),
        ({"r": "FREQ=DAILY", "tz": "Nowhere/Land"}, "recurrence.timezone"),
        ({"r": "FREQ=DAILY", "n": 0}, "limit"),
    ],
)
async def test_preview_refuses_bad_input(
    alice: GraphQLClient, variables: dict[str, object], field: str
) -> None:
    error = await alice.error(PREVIEW, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(field)


async def test_update_me_changes_the_default_zone_of_new_recurrences(gql: GraphQLClient) -> None:
    await gql.sign_up(timezone="UTC")
    changed = await gql.data('mutation { updateMe(timezone: "Asia/Tokyo") { timezone } }')
    assert changed == {"updateMe": {"timezone": "Asia/Tokyo"}}
    assert (await gql.data("{ me { timezone } }")) == {"me": {"timezone": "Asia/Tokyo"}}
    task = await gql.data(
        'mutation { createTask(input: {title: "t", dueAt: "2030-01-01T00:00:00Z", '
        'recurrence: {rule: "FREQ=DAILY"}}) { recurrence { timezone } } }'
    )
    assert task["createTask"]["recurrence"] == {"timezone": "Asia/Tokyo"}
    error = await gql.error('mutation { updateMe(timezone: "Mars/Base") { timezone } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("timezone")
    assert (await gql.data("{ me { timezone } }")) == {"me": {"timezone": "Asia/Tokyo"}}


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-14:00", "1899-12-31T23:59:59Z"]
)
async def test_instants_far_outside_any_plan_are_bad_input(alice: GraphQLClient, when: str) -> None:
    for operation, variables in (
        (PREVIEW, {"r": "FREQ=YEARLY", "s": when}),
        (
            'mutation($d: DateTime) { createTask(input: {title: "x", dueAt: $d}) { id } }',
            {"d": when},
        ),
    ):
        error = await alice.error(operation, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "between the years 1900 and 9000" in error["message"]
