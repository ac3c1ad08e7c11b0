"""Recurrence rules: validation, time zones, DST, next due dates, COUNT/UNTIL, skipped dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from taskstream.errors import InvalidInput
from taskstream.recurrence import (
    MAX_UPCOMING,
    Recurrence,
    RepeatFrom,
    _series_of,
    normalize_rule,
    validate_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 5, 1, 12, 34, 56, tzinfo=UTC)  # a Friday; 14:34:56 in Berlin


def make(
    rule: str,
    dtstart: datetime | None,
    *,
    timezone: str = "Europe/Berlin",
    repeat_from: RepeatFrom = RepeatFrom.DUE_DATE,
    now: datetime = NOW,
) -> Recurrence:
    return Recurrence.parse(
        rule=rule, repeat_from=repeat_from, timezone=timezone, dtstart=dtstart, now=now
    )


def refusal(rule: str, dtstart: datetime | None = None, *, timezone: str = "Europe/Berlin") -> str:
    """The message of the InvalidInput a rule is refused with (it must name the field)."""
    start = dtstart or datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    with pytest.raises(InvalidInput) as caught:
        make(rule, start, timezone=timezone)
    error = caught.value
    assert error.code == "BAD_USER_INPUT"
    assert str(error) == f"{error.field}: {error.message.split(': ', 1)[1]}"
    return str(error)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY"])
def test_more_frequent_than_hourly_is_refused(freq: str) -> None:
    assert refusal(f"FREQ={freq}") == (
        f"recurrence.rule: FREQ={freq} is not allowed; the most frequent rule allowed is hourly"
    )


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=HOURLY;BYMINUTE=0,30", "BYMINUTE=0,30"),
        ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0,59", "BYMINUTE=0,59"),
        ("FREQ=WEEKLY;BYSECOND=0,30", "BYSECOND=0,30"),
    ],
)
def test_two_occurrences_within_an_hour_are_refused(rule: str, part: str) -> None:
    message = refusal(rule)
    assert message.startswith(f"recurrence.rule: {part} makes occurrences less than an hour apart")
    assert "hourly" in message


def test_hourly_with_one_minute_is_allowed() -> None:
    rec = make("FREQ=HOURLY;BYMINUTE=15", datetime(2026, 5, 4, 9, 15, tzinfo=BERLIN))
    assert [d.hour for d in rec.upcoming(datetime(2026, 5, 4, 9, 15, tzinfo=BERLIN), 3)] == [
        10,
        11,
        12,
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("", "must not be empty"),
        ("RRULE:FREQ=DAILY", "without the 'RRULE:' prefix"),
        ("DTSTART:20260504T090000Z\nRRULE:FREQ=DAILY", "single RRULE value on one line"),
        ("FREQ=DAILY;DTSTART=20260504T090000Z", "DTSTART is not allowed inside the rule"),
        ("FREQ=DAILY;EXDATE=20260504T090000Z", "EXDATE is not allowed inside the rule"),
        ("INTERVAL=2", "FREQ is required"),
        ("FREQ=FORTNIGHTLY", "FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
        ("FREQ=DAILY;COLOR=RED", "unknown rule part 'COLOR'"),
        ("FREQ=DAILY;INTERVAL", "is not a NAME=VALUE part"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number from 1 to 10000"),
        ("FREQ=DAILY;INTERVAL=-1", "INTERVAL must be a whole number from 1 to 10000"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a whole number"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number from 1 to 10000"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z", "COUNT and UNTIL cannot both be given"),
        ("FREQ=DAILY;UNTIL=2027-01-01", "UNTIL must be a date YYYYMMDD"),
        ("FREQ=DAILY;UNTIL=20270230", "not a real date"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY values must be weekdays"),
        ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY numbers must not be 0"),
        ("FREQ=MONTHLY;BYDAY=6MO", "BYDAY number 6 for MO is out of range"),
        ("FREQ=DAILY;BYDAY=1MO", "only allowed with FREQ=MONTHLY or FREQ=YEARLY"),
        ("FREQ=MONTHLY;BYDAY=MO,1TU", "all plain weekdays"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY values must be 1 to 31 or -31 to -1"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values must be 1 to 12"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR values must be 0 to 23"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is not allowed with FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO is only allowed with FREQ=YEARLY"),
        ("FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY is only allowed with FREQ=YEARLY or FREQ=HOURLY"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY... part"),
        ("FREQ=WEEKLY;WKST=XX", "WKST must be one of MO, TU"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "BYMONTHDAY=30 never falls in BYMONTH=2"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field_and_what_is_allowed(
    rule: str, expected: str
) -> None:
    message = refusal(rule)
    assert message.startswith("recurrence.rule: ")
    assert expected in message


def test_a_rule_that_never_occurs_is_refused() -> None:
    monday = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    message = refusal("FREQ=DAILY;INTERVAL=7;BYDAY=TU", monday)  # only ever Mondays
    assert message.startswith("recurrence.rule: the rule has no occurrence within 100 years")


def test_until_before_dtstart_is_refused() -> None:
    message = refusal("FREQ=DAILY;UNTIL=20260501T000000Z", datetime(2026, 5, 4, 9, tzinfo=BERLIN))
    assert message.startswith("recurrence.rule: UNTIL=20260501T000000Z is before the first")


def test_until_in_the_past_is_refused_without_due_date() -> None:
    with pytest.raises(InvalidInput, match=r"^recurrence.rule: UNTIL=20260401 is in the past"):
        make("FREQ=DAILY;UNTIL=20260401", None)


def test_rule_is_stored_normalised() -> None:
    rec = make(" freq=weekly; byday=we,mo ;interval=2; ", datetime(2026, 5, 4, 9, tzinfo=BERLIN))
    assert rec.rule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE"
    assert normalize_rule("BYSETPOS=-1;BYDAY=+1MO,-1FR;FREQ=MONTHLY") == (
        "FREQ=MONTHLY;BYDAY=1MO,-1FR;BYSETPOS=-1"
    )
    assert normalize_rule("FREQ=DAILY;UNTIL=20261231t235959z") == (
        "FREQ=DAILY;UNTIL=20261231T235959Z"
    )


def test_naive_due_date_is_refused_and_naive_now_is_a_programming_error() -> None:
    with pytest.raises(InvalidInput, match=r"^dueAt: must include a UTC offset"):
        make("FREQ=DAILY", datetime(2026, 5, 4, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        make("FREQ=DAILY", None, now=datetime(2026, 5, 4, 9))


# --- time zones ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_iana_zones_are_accepted(name: str) -> None:
    assert validate_timezone(name) == ZoneInfo(name)
    assert make("FREQ=DAILY", None, timezone=name).timezone == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "CEST", "+02:00", "UTC+2", "localtime", "Factory", "", "../etc"]
)
def test_non_iana_zones_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make("FREQ=DAILY", None, timezone=name)
    assert caught.value.field == "recurrence.timezone"
    assert str(caught.value).startswith("recurrence.timezone: ")
    assert "IANA time zone name such as Europe/Berlin" in str(caught.value)


def test_zone_refusal_suggests_the_right_spelling_and_uses_the_given_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_timezone("europe/berlin")
    assert caught.value.field == "timezone"
    assert "did you mean Europe/Berlin?" in str(caught.value)


# --- DST ----------------------------------------------------------------------------------


def test_daily_0900_berlin_stays_at_0900_across_both_dst_changes() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN))
    spring = rec.upcoming(datetime(2026, 3, 27, 0, 0, tzinfo=UTC), 4)
    assert [(d.day, d.hour, d.minute) for d in spring] == [(day, 9, 0) for day in (27, 28, 29, 30)]
    assert [d.utcoffset() for d in spring] == [timedelta(hours=h) for h in (1, 1, 2, 2)]
    assert [d.astimezone(UTC).hour for d in spring] == [8, 8, 7, 7]
    autumn = rec.upcoming(datetime(2026, 10, 23, 12, 0, tzinfo=UTC), 3)
    assert [(d.day, d.hour) for d in autumn] == [(24, 9), (25, 9), (26, 9)]
    assert [d.utcoffset() for d in autumn] == [timedelta(hours=h) for h in (2, 1, 1)]
    assert all(d.tzinfo == BERLIN for d in spring + autumn)


def test_new_york_weekly_keeps_local_time_across_dst() -> None:
    rec = make(
        "FREQ=WEEKLY;BYDAY=SU",
        datetime(2026, 3, 1, 9, 0, tzinfo=NEW_YORK),
        timezone="America/New_York",
    )
    march = rec.upcoming(datetime(2026, 3, 1, 12, 0, tzinfo=NEW_YORK), 2)
    assert [(d.month, d.day, d.hour, d.utcoffset()) for d in march] == [
        (3, 8, 9, timedelta(hours=-4)),  # the day clocks go forward
        (3, 15, 9, timedelta(hours=-4)),
    ]
    november = rec.upcoming(datetime(2026, 10, 26, tzinfo=NEW_YORK), 2)
    assert [(d.month, d.day, d.hour, d.utcoffset()) for d in november] == [
        (11, 1, 9, timedelta(hours=-5)),  # the day clocks go back
        (11, 8, 9, timedelta(hours=-5)),
    ]


def test_a_time_in_the_spring_forward_gap_is_shifted_forward_by_the_gap() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN))
    days = rec.upcoming(datetime(2026, 3, 28, 0, 0, tzinfo=UTC), 3)
    assert [(d.day, d.hour, d.minute) for d in days] == [(28, 2, 30), (29, 3, 30), (30, 2, 30)]


def test_a_repeated_time_at_fall_back_occurs_once_at_its_first_occurrence() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 10, 24, 2, 30, tzinfo=BERLIN))
    days = rec.upcoming(datetime(2026, 10, 24, 0, 0, tzinfo=UTC), 3)
    assert [(d.day, d.hour, d.utcoffset()) for d in days] == [
        (24, 2, timedelta(hours=2)),
        (25, 2, timedelta(hours=2)),  # 02:30 CEST, not 02:30 CET an hour later
        (26, 2, timedelta(hours=1)),
    ]


def test_hourly_across_dst_changes_never_repeats_an_instant() -> None:
    rec = make("FREQ=HOURLY", datetime(2026, 3, 28, 23, 30, tzinfo=BERLIN))
    spring = rec.upcoming(datetime(2026, 3, 28, 22, 0, tzinfo=UTC), 4)
    assert [d.astimezone(BERLIN).strftime("%H:%M%z") for d in spring] == [
        "23:30+0100",
        "00:30+0100",
        "01:30+0100",
        "03:30+0200",  # 02:30 does not exist that night
    ]
    autumn = rec.upcoming(datetime(2026, 10, 24, 23, 0, tzinfo=UTC), 3)
    instants = [d.astimezone(UTC) for d in autumn]
    assert instants == sorted(set(instants))


def test_an_occurrence_shifted_out_of_a_gap_is_found_just_after_the_gap() -> None:
    # Daily at 02:30 by way of an hourly rule: on 2026-03-29 02:30 does not exist and becomes
    # 03:30 CEST, which must still be found when asking from 03:10, after the gap.
    rec = make("FREQ=HOURLY;BYHOUR=2;BYMINUTE=30", datetime(2026, 3, 20, 2, 30, tzinfo=BERLIN))
    after_gap = datetime(2026, 3, 29, 3, 10, tzinfo=BERLIN)
    assert rec.upcoming(after_gap, 2) == [
        datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN),
        datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN),
    ]


def test_until_in_the_repeated_hour_is_compared_as_an_instant() -> None:
    # UNTIL is 02:45 CET (the second 02:45 of 2026-10-25); that day's 02:50 means 02:50 CEST,
    # which is an hour earlier, so it is still in the series.
    rec = make("FREQ=DAILY;UNTIL=20261025T014500Z", datetime(2026, 10, 20, 2, 50, tzinfo=BERLIN))
    last = rec.upcoming(datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN), 5)
    assert last == [datetime(2026, 10, 25, 2, 50, tzinfo=BERLIN)]
    assert last[0].utcoffset() == timedelta(hours=2)


# --- dtstart from the rule when the task has no due date ----------------------------------


def test_without_due_date_the_first_occurrence_after_now_is_the_start() -> None:
    # now is 14:34:56 Berlin on Friday 2026-05-01; the time of day comes from now (to the minute)
    assert make("FREQ=DAILY", None).dtstart == datetime(2026, 5, 2, 14, 34, tzinfo=BERLIN)
    weekly = make("FREQ=WEEKLY;BYDAY=MO", None).dtstart
    assert weekly == datetime(2026, 5, 4, 14, 34, tzinfo=BERLIN)
    # naming the hour without a minute means on the hour
    assert make("FREQ=DAILY;BYHOUR=9", None).dtstart == datetime(2026, 5, 2, 9, 0, tzinfo=BERLIN)
    later_today = make("FREQ=DAILY;BYHOUR=18;BYMINUTE=30", None).dtstart
    assert later_today == datetime(2026, 5, 1, 18, 30, tzinfo=BERLIN)
    assert make("FREQ=HOURLY", None).dtstart == datetime(2026, 5, 1, 15, 34, tzinfo=BERLIN)


def test_dtstart_is_normalised_to_the_zone_and_whole_seconds() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 5, 4, 7, 0, 0, 123456, tzinfo=UTC))
    assert rec.dtstart == datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    assert rec.dtstart.tzinfo == BERLIN


# --- next due date ------------------------------------------------------------------------


def test_due_date_mode_skips_missed_occurrences() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    due = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    late = datetime(2026, 5, 7, 15, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=due, completed_at=late, instance_number=1) == datetime(
        2026, 5, 8, 9, 0, tzinfo=BERLIN
    )
    early = datetime(2026, 5, 3, 20, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=due, completed_at=early, instance_number=1) == datetime(
        2026, 5, 5, 9, 0, tzinfo=BERLIN
    )


def test_due_date_mode_weekly_catch_up() -> None:
    rec = make("FREQ=WEEKLY;BYDAY=MO,TH", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    due = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    completed = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)  # Tuesday of the next week
    assert rec.next_due(due_at=due, completed_at=completed, instance_number=1) == datetime(
        2026, 5, 14, 9, 0, tzinfo=BERLIN
    )


def test_completion_mode_restarts_the_rule_at_the_completion_date() -> None:
    rec = make(
        "FREQ=DAILY;INTERVAL=3",
        datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN),
        repeat_from=RepeatFrom.COMPLETION,
    )
    due = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    completed = datetime(2026, 5, 10, 15, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=due, completed_at=completed, instance_number=1) == datetime(
        2026, 5, 13, 9, 0, tzinfo=BERLIN
    )
    # Completed before the series' time of day: the restarted rule's first occurrence after the
    # completion is that same day (the contract's "first occurrence after the completion time").
    morning = datetime(2026, 5, 10, 7, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=due, completed_at=morning, instance_number=1) == datetime(
        2026, 5, 10, 9, 0, tzinfo=BERLIN
    )


def test_completion_mode_takes_weekday_and_month_day_from_the_completion() -> None:
    weekly = make(
        "FREQ=WEEKLY;INTERVAL=2",
        datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN),  # a Monday
        repeat_from=RepeatFrom.COMPLETION,
    )
    thursday = datetime(2026, 5, 7, 18, 0, tzinfo=BERLIN)
    due = weekly.dtstart
    assert weekly.next_due(due_at=due, completed_at=thursday, instance_number=1) == datetime(
        2026, 5, 21, 9, 0, tzinfo=BERLIN
    )
    monthly = make(
        "FREQ=MONTHLY;BYMONTHDAY=1",
        datetime(2026, 5, 1, 8, 0, tzinfo=BERLIN),
        repeat_from=RepeatFrom.COMPLETION,
    )
    assert monthly.next_due(
        due_at=monthly.dtstart, completed_at=datetime(2026, 5, 20, tzinfo=UTC), instance_number=1
    ) == datetime(2026, 6, 1, 8, 0, tzinfo=BERLIN)


def test_count_is_exhausted_after_count_instances() -> None:
    rec = make("FREQ=DAILY;COUNT=3", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    assert rec.upcoming(datetime(2026, 5, 1, tzinfo=UTC), 10) == [
        datetime(2026, 5, day, 9, 0, tzinfo=BERLIN) for day in (4, 5, 6)
    ]
    due = datetime(2026, 5, 5, 9, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=due, completed_at=due, instance_number=2) == datetime(
        2026, 5, 6, 9, 0, tzinfo=BERLIN
    )
    last = datetime(2026, 5, 6, 9, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=last, completed_at=last, instance_number=3) is None
    # catching up past the last occurrence also ends the series
    first = rec.dtstart
    later = datetime(2026, 5, 9, tzinfo=UTC)
    assert rec.next_due(due_at=first, completed_at=later, instance_number=1) is None


def test_count_counts_instances_in_completion_mode() -> None:
    rec = make(
        "FREQ=WEEKLY;COUNT=2",
        datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN),
        repeat_from=RepeatFrom.COMPLETION,
    )
    done = datetime(2026, 6, 30, 12, 0, tzinfo=BERLIN)  # long after the rule's 2nd occurrence
    assert rec.next_due(due_at=rec.dtstart, completed_at=done, instance_number=1) == datetime(
        2026, 7, 7, 9, 0, tzinfo=BERLIN
    )
    assert rec.next_due(due_at=rec.dtstart, completed_at=done, instance_number=2) is None


def test_dtstart_not_matching_the_rule_is_the_first_occurrence_and_counts() -> None:
    wednesday = datetime(2026, 5, 6, 9, 0, tzinfo=BERLIN)
    rec = make("FREQ=WEEKLY;BYDAY=MO;COUNT=3", wednesday)
    assert rec.upcoming(datetime(2026, 5, 1, tzinfo=UTC), 10) == [
        wednesday,
        datetime(2026, 5, 11, 9, 0, tzinfo=BERLIN),
        datetime(2026, 5, 18, 9, 0, tzinfo=BERLIN),
    ]


def test_until_is_inclusive_and_ends_the_series() -> None:
    rec = make("FREQ=DAILY;UNTIL=20260506T070000Z", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    assert [d.day for d in rec.upcoming(datetime(2026, 5, 1, tzinfo=UTC), 10)] == [4, 5, 6]
    last = datetime(2026, 5, 6, 9, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=last, completed_at=last, instance_number=3) is None
    by_date = make("FREQ=DAILY;UNTIL=20260506", datetime(2026, 5, 4, 23, 30, tzinfo=BERLIN))
    assert [d.day for d in by_date.upcoming(datetime(2026, 5, 1, tzinfo=UTC), 10)] == [4, 5, 6]


def test_until_applies_in_completion_mode() -> None:
    rec = make(
        "FREQ=DAILY;UNTIL=20260510T235959Z",
        datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN),
        repeat_from=RepeatFrom.COMPLETION,
    )
    completed = datetime(2026, 5, 10, 12, 0, tzinfo=BERLIN)
    assert rec.next_due(due_at=rec.dtstart, completed_at=completed, instance_number=1) is None


# --- skipped dates ------------------------------------------------------------------------


def test_skipped_occurrences_never_occur() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    skip = datetime(2026, 5, 5, 7, 0, tzinfo=UTC)  # 09:00 Berlin, given in another zone
    skipping = rec.with_skipped(skip).with_skipped(skip)
    assert skipping.skipped == (datetime(2026, 5, 5, 9, 0, tzinfo=BERLIN),)
    assert [d.day for d in skipping.upcoming(datetime(2026, 5, 4, 12, tzinfo=UTC), 2)] == [6, 7]
    due = rec.dtstart
    assert skipping.next_due(due_at=due, completed_at=due, instance_number=1) == datetime(
        2026, 5, 6, 9, 0, tzinfo=BERLIN
    )
    completion = skipping.with_skipped(datetime(2026, 5, 6, 9, 0, tzinfo=BERLIN))
    completion = Recurrence(
        rule=completion.rule,
        repeat_from=RepeatFrom.COMPLETION,
        timezone=completion.timezone,
        dtstart=completion.dtstart,
        skipped=completion.skipped,
    )
    assert completion.next_due(
        due_at=due, completed_at=datetime(2026, 5, 5, 10, tzinfo=BERLIN), instance_number=1
    ) == datetime(2026, 5, 7, 9, 0, tzinfo=BERLIN)


def test_skipped_dates_are_kept_sorted() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    later, sooner = (datetime(2026, 5, d, 9, 0, tzinfo=BERLIN) for d in (9, 6))
    assert rec.with_skipped(later).with_skipped(sooner).skipped == (sooner, later)


# --- upcoming -----------------------------------------------------------------------------


def test_upcoming_limit_bounds() -> None:
    rec = make("FREQ=DAILY", datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN))
    assert rec.upcoming(NOW, 0) == []
    assert len(rec.upcoming(NOW, MAX_UPCOMING)) == MAX_UPCOMING
    for limit in (-1, MAX_UPCOMING + 1):
        with pytest.raises(InvalidInput, match=r"^limit: must be a whole number from 0 to 100"):
            rec.upcoming(NOW, limit)


def test_upcoming_is_strictly_after_and_includes_dtstart_when_before_it() -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
    rec = make("FREQ=WEEKLY;BYDAY=MO,FR", start)
    assert rec.upcoming(start - timedelta(seconds=1), 2) == [
        start,
        datetime(2026, 5, 8, 9, 0, tzinfo=BERLIN),
    ]
    assert rec.upcoming(start, 1) == [datetime(2026, 5, 8, 9, 0, tzinfo=BERLIN)]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SA;BYSETPOS=-1",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
        "FREQ=HOURLY;INTERVAL=7;BYHOUR=1,8,15",
    ],
)
def test_long_series_answer_from_near_now_like_a_full_expansion(rule: str) -> None:
    start = datetime(2006, 1, 2, 9, 0, tzinfo=BERLIN)  # a Monday twenty years ago
    rec = make(rule, start)
    full = Recurrence(rule=rec.rule, repeat_from=rec.repeat_from, timezone=rec.timezone,
                      dtstart=rec.dtstart)  # fmt: skip
    fast = rec.upcoming(NOW, 5)
    expanded = _series_of(full).first_after(NOW, 5, fast=False)
    assert [d.astimezone(UTC) for d in fast] == expanded
    assert len(fast) == 5
    # The fast path starts expanding near NOW, not at DTSTART in 2006 (its speed is measured
    # by bench/recurrence_next.py, never by a timed assertion).
    scan_start = _series_of(rec)._scan_start(NOW)
    assert scan_start.year >= NOW.year - 1, f"{rule}: expansion starts at {scan_start}"
