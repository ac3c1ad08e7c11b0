"""Recurrence expansion within a work budget: sparse-but-costly rules are refused, legitimate sparse
rules stay exact, every call is bounded, and no date makes an OverflowError.

Work is measured with the expansion's own meter (`work_spent`, candidate days tested by dateutil),
never with a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dateutil.rrule import rrulestr

from taskstream import recurrence as module
from taskstream.errors import InvalidInput
from taskstream.offload import off_loop
from taskstream.recurrence import Recurrence, RepeatFrom, work_spent

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# The probe of issue 13: Feb 29 on a Monday, once in 28 (sometimes 40) years.
PROBE = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9"
PROBE_START = datetime(2044, 2, 29, 9, 0, tzinfo=UTC)
# What refusing a rule may cost at most: the search for the first occurrence and the sample.
REFUSAL_WORK = module._SCAN_BUDGET + module._DENSITY_SAMPLE * module._UNITS_PER_OCCURRENCE


def make(rule: str, start: datetime | None, *, now: datetime = NOW) -> Recurrence:
    return Recurrence.parse(
        rule=rule, repeat_from=RepeatFrom.DUE_DATE, timezone="UTC", dtstart=start, now=now
    )


def forget_caches() -> None:
    """So that each measurement pays for its whole expansion."""
    module._series_of.cache_clear()
    module._build_rrule.cache_clear()
    module._find_count_end.cache_clear()
    module._density_problem.cache_clear()


def refused(rule: str, start: datetime | None, *, field: str = "recurrence.rule") -> str:
    with pytest.raises(InvalidInput) as caught:
        make(rule, start)
    assert caught.value.code == "BAD_USER_INPUT"
    assert caught.value.field == field
    return caught.value.message.split(": ", 1)[1]


@pytest.mark.parametrize(
    "rule",
    [
        PROBE,
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
        "FREQ=HOURLY;INTERVAL=5;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
        "FREQ=DAILY;INTERVAL=3;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO",
    ],
)
def test_a_rule_too_sparse_to_expand_is_refused_within_bounded_work(rule: str) -> None:
    forget_caches()
    before = work_spent()
    message = refused(rule, PROBE_START)
    assert "too far apart" in message and "occurs more often" in message
    assert work_spent() - before <= REFUSAL_WORK


def test_the_probe_is_refused_without_a_start_too() -> None:
    forget_caches()
    before = work_spent()
    refused(PROBE, None)
    assert work_spent() - before <= REFUSAL_WORK


def reference(rule: str, start: datetime, limit: int) -> list[datetime]:
    """Plain dateutil from DTSTART, in UTC (the zone has no DST, so no placement rules apply)."""
    text = f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}\nRRULE:{rule}"
    expanded = rrulestr(text)
    found: list[datetime] = []
    for wall in expanded:
        if len(found) == limit:
            break
        found.append(wall.replace(tzinfo=UTC))
    return found


@pytest.mark.parametrize(
    ("rule", "start"),
    [
        # Feb 29: every four years, eight across 2100; in every FREQ it can be written with.
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", datetime(2096, 2, 29, 9, tzinfo=UTC)),
        ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29", datetime(2096, 2, 29, 9, tzinfo=UTC)),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", datetime(2096, 2, 29, 9, tzinfo=UTC)),
        ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=9", datetime(2096, 2, 29, 9, tzinfo=UTC)),
        ("FREQ=YEARLY;INTERVAL=4", datetime(2028, 2, 29, 9, tzinfo=UTC)),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", datetime(2026, 1, 30, 9, tzinfo=UTC)),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", datetime(2026, 11, 26, 12, tzinfo=UTC)),
        ("FREQ=HOURLY;BYDAY=SA;BYHOUR=8,20", datetime(2026, 5, 2, 8, tzinfo=UTC)),
        ("FREQ=HOURLY", datetime(2026, 5, 2, 8, 30, tzinfo=UTC)),
        ("FREQ=DAILY;BYDAY=MO,FR;BYHOUR=7,19;COUNT=300", datetime(2026, 5, 4, 7, tzinfo=UTC)),
    ],
)
def test_sparse_legitimate_rules_are_accepted_and_exact(rule: str, start: datetime) -> None:
    forget_caches()
    recurrence = make(rule, start)
    before = work_spent()
    upcoming = recurrence.upcoming(start, module.MAX_UPCOMING)
    assert work_spent() - before <= module._CALL_BUDGET
    assert upcoming == reference(rule, start, module.MAX_UPCOMING + 1)[1:]


def test_hourly_and_daily_rules_cost_what_the_yearly_rule_they_mean_costs() -> None:
    """A sparse HOURLY rule is expanded like the YEARLY one (one step per day, not per hour)."""
    start = datetime(2028, 2, 29, 9, tzinfo=UTC)
    spent: dict[str, int] = {}
    for freq, extra in (("YEARLY", ""), ("DAILY", ""), ("HOURLY", ";BYHOUR=9")):
        rule = f"FREQ={freq};BYMONTH=2;BYMONTHDAY=29{extra}"
        forget_caches()
        recurrence = make(rule, start)
        before = work_spent()
        recurrence.upcoming(start, module.MAX_UPCOMING)
        spent[freq] = work_spent() - before
    assert spent["HOURLY"] == spent["DAILY"] == spent["YEARLY"]


def test_upcoming_of_a_rule_stored_before_the_check_is_bounded() -> None:
    """A rule stored before rules were checked still costs at most one call's budget, and what it
    answers is the start of the true series."""
    forget_caches()
    stored = Recurrence(
        rule=PROBE, repeat_from=RepeatFrom.DUE_DATE, timezone="UTC", dtstart=PROBE_START
    )
    before = work_spent()
    upcoming = stored.upcoming(PROBE_START, module.MAX_UPCOMING)
    assert work_spent() - before <= module._CALL_BUDGET + module._HEAVY_DAY
    assert 0 < len(upcoming) < module.MAX_UPCOMING
    assert upcoming == reference(PROBE, PROBE_START, len(upcoming) + 1)[1:]


def test_a_count_whose_end_is_too_costly_to_find_is_refused() -> None:
    forget_caches()
    before = work_spent()
    message = refused(
        "FREQ=YEARLY;COUNT=10000;BYMONTH=2;BYMONTHDAY=29", datetime(2028, 2, 29, tzinfo=UTC)
    )
    assert message.startswith("COUNT=10000 takes more than")
    assert work_spent() - before <= REFUSAL_WORK + module._COUNT_END_BUDGET + 400


def test_a_large_count_of_a_dense_rule_is_accepted() -> None:
    recurrence = make("FREQ=HOURLY;COUNT=10000", datetime(2026, 5, 4, 9, tzinfo=UTC))
    assert recurrence.upcoming(datetime(2026, 5, 4, 9, tzinfo=UTC), 2) == [
        datetime(2026, 5, 4, 10, tzinfo=UTC),
        datetime(2026, 5, 4, 11, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "until",
    ["99991231", "99991231T235959Z", "99991231T235959", "00010101T000000Z", "00010101", "18991231"],
)
def test_until_out_of_range_is_bad_user_input(until: str) -> None:
    message = refused(f"FREQ=DAILY;UNTIL={until}", datetime(2026, 5, 4, 9, tzinfo=UTC))
    assert message == f"UNTIL must be between 19000101 and 99981231 (got {until!r})"


def test_the_last_allowed_until_works() -> None:
    recurrence = make("FREQ=YEARLY;UNTIL=99981231", datetime(9997, 5, 4, 9, tzinfo=UTC))
    assert recurrence.upcoming(datetime(9997, 5, 4, 9, tzinfo=UTC), 5) == [
        datetime(9998, 5, 4, 9, tzinfo=UTC)
    ]


@pytest.mark.parametrize(
    "start",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
        datetime(1899, 12, 31, tzinfo=UTC),
    ],
)
def test_a_start_out_of_range_is_bad_user_input_naming_the_start(start: datetime) -> None:
    for field in ("dueAt", "start"):
        with pytest.raises(InvalidInput) as caught:
            Recurrence.parse(
                rule="FREQ=DAILY",
                repeat_from=RepeatFrom.DUE_DATE,
                timezone="Pacific/Kiritimati",
                dtstart=start,
                now=NOW,
                start_field=field,
            )
        assert caught.value.field == field
        assert "between the years 1900 and 9998" in caught.value.message


def test_a_series_reaching_the_last_year_ends_there() -> None:
    recurrence = make("FREQ=YEARLY", datetime(9997, 12, 31, 23, tzinfo=UTC))
    assert recurrence.upcoming(datetime(9997, 12, 31, 23, tzinfo=UTC), 5) == [
        datetime(9998, 12, 31, 23, tzinfo=UTC)
    ]
    assert (
        recurrence.next_due(
            due_at=datetime(9998, 12, 31, 23, tzinfo=UTC),
            completed_at=datetime(9998, 12, 31, 23, tzinfo=UTC),
            instance_number=2,
        )
        is None
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number from 1 to 10000 (got '0')"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number from 1 to 10000 (got '0')"),
        (
            "FREQ=DAILY;INTERVAL=2147483648",
            "INTERVAL must be a whole number from 1 to 10000 (got '2147483648')",
        ),
        (
            "FREQ=DAILY;COUNT=99999999999999999999",
            "COUNT must be a whole number from 1 to 10000 (got '99999999999999999999')",
        ),
    ],
)
def test_count_and_interval_extremes_are_bad_user_input(rule: str, expected: str) -> None:
    assert refused(rule, datetime(2026, 5, 4, 9, tzinfo=UTC)) == expected


def test_a_refusal_is_remembered_so_repeating_the_rule_costs_nothing_more() -> None:
    """30 aliases of one costly rule in a request pay for its check once."""
    forget_caches()
    refused(PROBE, PROBE_START)
    before = work_spent()
    for _ in range(30):
        refused(PROBE, PROBE_START)
    assert work_spent() - before <= 30 * 400  # each only finds the first occurrence again


def test_an_expansion_beside_the_loop_pauses_about_every_millisecond_of_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off the loop, an expansion lets the loop take the GIL once per _PAUSE_UNITS of work (and
    gives the same answer); on the loop's own thread it never pauses."""
    pauses: list[float] = []
    monkeypatch.setattr(module, "sleep", pauses.append)
    stored = Recurrence(
        rule=PROBE, repeat_from=RepeatFrom.DUE_DATE, timezone="UTC", dtstart=PROBE_START
    )
    forget_caches()
    before = work_spent()
    alone = stored.upcoming(PROBE_START, module.MAX_UPCOMING)
    spent = work_spent() - before
    assert pauses == [] and spent > 10 * module._PAUSE_UNITS
    forget_caches()
    with module.pausing_for_the_loop():
        beside = stored.upcoming(PROBE_START, module.MAX_UPCOMING)
    assert beside == alone
    assert spent // module._PAUSE_UNITS - 1 <= len(pauses) <= spent // module._PAUSE_UNITS
    assert set(pauses) == {module._PAUSE_SECONDS}
    # Past the block, the thread (a pooled one, reused for other work) no longer pauses.
    forget_caches()
    stored.upcoming(PROBE_START, module.MAX_UPCOMING)
    assert len(pauses) <= spent // module._PAUSE_UNITS


async def test_work_sent_off_the_loop_pauses_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """`off_loop` runs the expansion in a thread that pauses."""
    pauses: list[float] = []
    monkeypatch.setattr(module, "sleep", pauses.append)
    stored = Recurrence(
        rule=PROBE, repeat_from=RepeatFrom.DUE_DATE, timezone="UTC", dtstart=PROBE_START
    )
    forget_caches()
    upcoming = await off_loop(stored.upcoming, PROBE_START, module.MAX_UPCOMING)
    assert upcoming and len(pauses) > 10
