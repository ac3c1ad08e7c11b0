"""RFC 5545 recurrence for task series: rule validation, occurrences and next due dates.

Pure logic, no I/O. Occurrences are computed by dateutil in *naive wall-clock time* of the
series' IANA zone and only then placed in the zone, so a daily 09:00 Europe/Berlin series stays
at 09:00 local time across DST changes. Placing a wall-clock time in the zone follows RFC 5545
section 3.3.5:

* a time repeated when clocks go back (e.g. 02:30 on the last Sunday of October in Berlin) means
  its first occurrence (``fold=0``, summer time);
* a time skipped when clocks go forward (e.g. 02:30 on the last Sunday of March in Berlin) is read
  with the offset before the gap, i.e. it is shifted forward by the gap (02:30 becomes 03:30
  CEST). When that makes two occurrences the same instant (an hourly series), it occurs once.

Series semantics (RFC 5545, with dateutil's expansion of the rule):

* DTSTART (``Recurrence.dtstart``) is always the first occurrence, like RFC 5545 says, even when
  it does not match the rule (a task due on a Wednesday that repeats every Monday); COUNT counts
  it. Its wall-clock time and date fill in what the rule leaves out (time of day, weekday of a
  WEEKLY rule, day of a MONTHLY rule, ...).
* UNTIL is inclusive. ``...Z`` is an instant; a floating ``YYYYMMDDTHHMMSS`` is wall-clock time in
  the series' zone; a date ``YYYYMMDD`` includes that whole local day.
* Skipped dates (EXDATEs) are removed after COUNT is applied, as in RFC 5545.

Speed: finding the next occurrence must not replay the series from DTSTART. For a query after
``t`` the expansion starts at the last period boundary of the rule's grid (INTERVAL days, weeks,
months, years or hours counted from DTSTART) before ``t``, with every default that dateutil would
take from DTSTART made explicit, which yields exactly the occurrences the full expansion yields
from there on. COUNT rules get the same treatment after their last occurrence has been found once
(cached), because COUNT then acts as an upper bound like UNTIL.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import math
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import UTC, date, datetime, time, timedelta
from time import sleep
from typing import Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from taskstream.errors import InvalidInput

__all__ = [
    "MAX_COUNT",
    "MAX_INTERVAL",
    "MAX_UPCOMING",
    "Recurrence",
    "RepeatFrom",
    "normalize_rule",
    "validate_timezone",
]

RULE_FIELD = "recurrence.rule"
TIMEZONE_FIELD = "recurrence.timezone"

# Implementation limits, generous for tasks. INTERVAL is capped because dateutil walks month by
# month when a step overflows a month; COUNT because the end of a COUNT series is found once by
# expanding it.
MAX_INTERVAL = 10_000
MAX_COUNT = 10_000
MAX_UPCOMING = 100

# dateutil keeps expanding an empty rule (FREQ=DAILY;INTERVAL=7;BYDAY=TU from a Monday) until year
# 9999, which takes seconds. Expansion work is counted in *work units*: one per candidate day
# dateutil tests, eight when it tests that day in an iteration of its own (DAILY or HOURLY with
# an INTERVAL, whose per-day iteration costs about eight times a day of a YEARLY scan; one unit
# is roughly 0.7 us). The search for each next occurrence gets _SCAN_BUDGET units (about 110
# years of days); a search that uses them up ends the series there.
_SCAN_BUDGET = 40_000
_SCAN_BUDGET_YEARS = 100
_HEAVY_DAY = 8
# One call (the next `limit` occurrences, a preview) gets at most this many units in all, enough
# for 100 occurrences of a rule that occurs once in four years (Feb 29, about 150,000 units).
# Without it, 100 occurrences of a rule that occurs once in 28 years cost about a million units.
_CALL_BUDGET = 200_000
# A rule is accepted only if its first occurrences come at no more than this many units each on
# average (so `upcoming(100)` fits in _CALL_BUDGET), measured over this many occurrences.
_UNITS_PER_OCCURRENCE = _CALL_BUDGET // 100
_DENSITY_SAMPLE = 10
# An expansion off the event loop shares the GIL with it, and CPython takes the GIL from a busy
# thread only after its 5 ms switch interval: each wake-up of the loop (a request read, a
# statement's answer) waited that long behind an expansion, so one account expanding a sparse
# rule in a loop took other users' page p99 from 34 to 272 ms (bench/abuse.py). Such a thread
# pauses every _PAUSE_UNITS (about a millisecond of scanning) for _PAUSE_SECONDS, and the loop,
# waiting for the GIL, takes it then.
_PAUSE_UNITS = 1_500
_PAUSE_SECONDS = 0.00005
# Finding the last occurrence of a COUNT series (once per series, cached).
_COUNT_END_BUDGET = 2 * _CALL_BUDGET
# Dates a series may start at or end by: arithmetic around them (a day of slack, zone offsets)
# must stay within datetime's years 1 to 9999.
_FIRST_YEAR = 1900
_LAST_YEAR = 9998

_Freq = Literal[0, 1, 2, 3, 4]
_FREQS: dict[str, _Freq] = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
}
_FREQ_NAMES = {value: name for name, value in _FREQS.items()}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Canonical order of the parts in a normalised rule (the order dateutil prints them in).
_PART_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
)
_ALLOWED_TEXT = "FREQ, INTERVAL, COUNT, UNTIL, " + ", ".join(_PART_ORDER[4:])
_FREQ_TEXT = "HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY"
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_UNTIL_RE = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_INT_RE = re.compile(r"[+-]?\d{1,6}")
_ONE_SECOND = timedelta(seconds=1)
_GAP_WINDOW = timedelta(hours=48)
_NO_TIME = timedelta(0)


class RepeatFrom(enum.Enum):
    """What the next instance's due date is computed from."""

    DUE_DATE = "DUE_DATE"
    COMPLETION = "COMPLETION"


# --------------------------------------------------------------------------------------------
# Time zones


@functools.cache
def _iana_names() -> frozenset[str]:
    # available_timezones() also lists files of the zone directory that are not zones to offer.
    return frozenset(available_timezones() - {"Factory", "localtime", "posixrules"})


def validate_timezone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The zone of an IANA time zone name; anything else is InvalidInput on ``field``."""
    if name in _iana_names():
        return ZoneInfo(name)
    hint = ""
    folded = {known.casefold(): known for known in _iana_names()}
    if isinstance(name, str) and name.strip().casefold() in folded:
        hint = f" (did you mean {folded[name.strip().casefold()]}?)"
    raise InvalidInput(
        field,
        f"{name!r} is not a known time zone{hint}; "
        "give an IANA time zone name such as Europe/Berlin or America/New_York",
    )


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """Naive wall-clock time of an aware moment in ``zone`` (fold cleared: naive values compare by
    wall clock only, and placing them again must always mean the first of two repeated times)."""
    return moment.astimezone(zone).replace(tzinfo=None, fold=0)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """UTC instant of a wall-clock time in ``zone``, per RFC 5545 3.3.5 (see module docstring)."""
    # zoneinfo gives a fold=0 time in a gap the offset from before the gap, which is exactly the
    # RFC's reading; converting to UTC normalises it to the wall-clock time after the gap.
    return wall.replace(tzinfo=zone).astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Rule parsing and validation


@dataclass(frozen=True, slots=True)
class _Until:
    """The UNTIL part, kept in the form given because two of them depend on the zone."""

    kind: Literal["utc", "local", "date"]
    value: datetime | date

    def instant(self, zone: ZoneInfo) -> datetime:
        """Last instant (inclusive) the series may occur at."""
        if self.kind == "utc":
            assert isinstance(self.value, datetime)
            return self.value
        if self.kind == "local":
            assert isinstance(self.value, datetime)
            return _instant(self.value, zone)
        assert not isinstance(self.value, datetime)
        next_midnight = datetime.combine(self.value + timedelta(days=1), time())
        return _instant(next_midnight, zone) - timedelta(microseconds=1)


@dataclass(frozen=True, slots=True, eq=False)
class _Spec:
    """A parsed, validated rule; equal and hashed by its normalised text, which determines the
    rest, so that keying caches on it is cheap."""

    text: str
    freq: _Freq
    interval: int
    count: int | None
    until: _Until | None
    wkst: int
    bymonth: tuple[int, ...] | None
    byweekno: tuple[int, ...] | None
    byyearday: tuple[int, ...] | None
    bymonthday: tuple[int, ...] | None
    byday: tuple[tuple[int, int | None], ...] | None
    byhour: tuple[int, ...] | None
    byminute: tuple[int, ...] | None
    bysecond: tuple[int, ...] | None
    bysetpos: tuple[int, ...] | None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Spec) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def numbered_byday(self) -> bool:
        """Whether BYDAY uses numbered weekdays (1MO, -1FR)."""
        return bool(self.byday) and any(n is not None for _, n in self.byday or ())


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(RULE_FIELD, message)


def _int(name: str, value: str, low: int, high: int) -> int:
    if not _INT_RE.fullmatch(value) or not low <= int(value) <= high:
        raise _refuse(f"{name} must be a whole number from {low} to {high} (got {value!r})")
    return int(value)


def _int_list(name: str, value: str, high: int, *, signed: bool, low: int = 1) -> tuple[int, ...]:
    """A comma-separated list of integers in ``low..high`` (or ``-high..-1`` when signed)."""
    allowed = f"{low} to {high}" + (f" or -{high} to -1" if signed else "")
    numbers: set[int] = set()
    for item in value.split(","):
        number = int(item) if _INT_RE.fullmatch(item) else None
        if number is None or not (low <= number <= high or (signed and -high <= number <= -1)):
            raise _refuse(f"{name} values must be {allowed} (got {item!r})")
        numbers.add(number)
    return tuple(sorted(numbers))


def _parse_until(value: str) -> _Until:
    match = _UNTIL_RE.fullmatch(value)
    problem = "UNTIL must be a date YYYYMMDD or a UTC date-time YYYYMMDDTHHMMSSZ"
    if not match:
        raise _refuse(f"{problem} (got {value!r})")
    day, clock, utc = match.groups()
    try:
        when = datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        raise _refuse(f"{problem} (got {value!r}, which is not a real date)") from None
    if not _FIRST_YEAR <= when.year <= _LAST_YEAR:
        raise _refuse(
            f"UNTIL must be between {_FIRST_YEAR}0101 and {_LAST_YEAR}1231 (got {value!r})"
        )
    if clock is None:
        return _Until("date", when.date())
    if utc:
        return _Until("utc", when.replace(tzinfo=UTC))
    return _Until("local", when)


def _parse_byday(value: str, freq: _Freq) -> tuple[tuple[int, int | None], ...]:
    days: set[tuple[int, int | None]] = set()
    for item in value.split(","):
        match = _BYDAY_RE.fullmatch(item)
        if not match:
            raise _refuse(
                f"BYDAY values must be weekdays MO, TU, WE, TH, FR, SA, SU, optionally numbered "
                f"like 1MO or -1FR (got {item!r})"
            )
        number = int(match.group(1)) if match.group(1) else None
        if number == 0:
            raise _refuse(f"BYDAY numbers must not be 0 (got {item!r})")
        days.add((_WEEKDAYS.index(match.group(2)), number))
    return tuple(sorted(days, key=lambda day: (day[0], day[1] or 0)))


def _format_byday(days: Iterable[tuple[int, int | None]]) -> str:
    return ",".join(f"{'' if n is None else n}{_WEEKDAYS[day]}" for day, n in days)


def _format_until(until: _Until) -> str:
    if until.kind == "date":
        return until.value.strftime("%Y%m%d")
    return until.value.strftime("%Y%m%dT%H%M%S") + ("Z" if until.kind == "utc" else "")


def _split_parts(rule: str) -> dict[str, str]:
    """The NAME=VALUE parts of a one-line RRULE value, upper-cased, with a clear refusal for the
    iCalendar wrappers people paste in (DTSTART lines, the RRULE: prefix, EXDATEs)."""
    if not isinstance(rule, str) or not rule.strip():
        raise _refuse("must not be empty; give an RRULE value such as FREQ=WEEKLY;BYDAY=MO")
    text = rule.strip().upper()
    if "\n" in text or "\r" in text:
        raise _refuse(
            "must be a single RRULE value on one line, such as FREQ=DAILY; DTSTART, EXDATE and "
            "other iCalendar lines are not allowed (the start is the task's dueAt)"
        )
    if text.startswith("RRULE:"):
        raise _refuse("give the rule value without the 'RRULE:' prefix, such as FREQ=DAILY")
    for word in ("DTSTART", "EXDATE", "RDATE", "EXRULE"):
        if word in text:
            raise _refuse(
                f"{word} is not allowed inside the rule; give only the RRULE value "
                "(the start is the task's dueAt, skipped dates come from skipOccurrence)"
            )
    parts: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue  # tolerate a trailing or doubled ';'
        name, equals, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not value:
            raise _refuse(f"{part!r} is not a NAME=VALUE part; allowed parts: {_ALLOWED_TEXT}")
        if name not in _PART_ORDER:
            raise _refuse(f"unknown rule part {name!r}; allowed parts: {_ALLOWED_TEXT}")
        if name in parts:
            raise _refuse(f"{name} is given twice; give each rule part once")
        parts[name] = value
    return parts


@functools.lru_cache(maxsize=2048)
def _parse_rule(rule: str) -> _Spec:
    """Parse and validate a rule; raises InvalidInput on ``recurrence.rule``."""
    parts = _split_parts(rule)
    freq_name = parts.get("FREQ")
    if freq_name is None:
        raise _refuse(f"FREQ is required ({_FREQ_TEXT})")
    if freq_name in ("MINUTELY", "SECONDLY"):
        raise _refuse(f"FREQ={freq_name} is not allowed; the most frequent rule allowed is hourly")
    if freq_name not in _FREQS:
        raise _refuse(f"FREQ must be {_FREQ_TEXT} (got {freq_name!r})")
    freq = _FREQS[freq_name]

    interval = _int("INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL) if "INTERVAL" in parts else 1
    count = _int("COUNT", parts["COUNT"], 1, MAX_COUNT) if "COUNT" in parts else None
    until = _parse_until(parts["UNTIL"]) if "UNTIL" in parts else None
    if count is not None and until is not None:
        raise _refuse("COUNT and UNTIL cannot both be given; give one of them")

    def numbers(name: str, high: int, *, signed: bool, low: int = 1) -> tuple[int, ...] | None:
        return _int_list(name, parts[name], high, signed=signed, low=low) if name in parts else None

    bymonth = numbers("BYMONTH", 12, signed=False)
    byweekno = numbers("BYWEEKNO", 53, signed=True)
    byyearday = numbers("BYYEARDAY", 366, signed=True)
    bymonthday = numbers("BYMONTHDAY", 31, signed=True)
    byhour = numbers("BYHOUR", 23, signed=False, low=0)
    byminute = numbers("BYMINUTE", 59, signed=False, low=0)
    bysecond = numbers("BYSECOND", 59, signed=False, low=0)
    bysetpos = numbers("BYSETPOS", 366, signed=True)
    byday = _parse_byday(parts["BYDAY"], freq) if "BYDAY" in parts else None
    # RFC 5545's default week start is Monday (dateutil's would be the process-wide calendar's).
    wkst_name = parts.get("WKST", "MO")
    if wkst_name not in _WEEKDAYS:
        raise _refuse(f"WKST must be one of {', '.join(_WEEKDAYS)} (got {wkst_name!r})")
    wkst = _WEEKDAYS.index(wkst_name)

    # The combinations RFC 5545 (section 3.3.10) rules out.
    if byweekno is not None and freq != YEARLY:
        raise _refuse("BYWEEKNO is only allowed with FREQ=YEARLY")
    if byyearday is not None and freq in (MONTHLY, WEEKLY, DAILY):
        raise _refuse("BYYEARDAY is only allowed with FREQ=YEARLY or FREQ=HOURLY")
    if bymonthday is not None and freq == WEEKLY:
        raise _refuse("BYMONTHDAY is not allowed with FREQ=WEEKLY; use BYDAY")
    numbered = [(day, n) for day, n in byday or () if n is not None]
    if numbered:
        if freq not in (MONTHLY, YEARLY):
            raise _refuse(
                f"numbered BYDAY values like {_format_byday(numbered[:1])} are only allowed with "
                "FREQ=MONTHLY or FREQ=YEARLY; use plain weekdays such as BYDAY=MO"
            )
        if byweekno is not None:
            raise _refuse("numbered BYDAY values are not allowed together with BYWEEKNO")
        if len(numbered) != len(byday or ()):
            # dateutil would require a day to be both (and so yield nothing) instead of either.
            raise _refuse("BYDAY must be all plain weekdays (MO,WE) or all numbered (1MO,-1FR)")
        limit = 53 if freq == YEARLY and bymonth is None else 5
        for day, n in numbered:
            if n is not None and not -limit <= n <= limit:
                raise _refuse(
                    f"BYDAY number {n} for {_WEEKDAYS[day]} is out of range; "
                    f"with FREQ={freq_name}{';BYMONTH' if bymonth and freq == YEARLY else ''} "
                    f"it must be 1 to {limit} or -{limit} to -1"
                )
    by_parts = (bymonth, byweekno, byyearday, bymonthday, byday, byhour, byminute, bysecond)
    if bysetpos is not None and all(part is None for part in by_parts):
        raise _refuse("BYSETPOS needs another BY... part (such as BYDAY) to select from")

    # More often than hourly: two occurrences within the same hour.
    for name, chosen in (("BYMINUTE", byminute), ("BYSECOND", bysecond)):
        if chosen is not None and len(chosen) > 1:
            raise _refuse(
                f"{name}={','.join(map(str, chosen))} makes occurrences less than an hour apart; "
                f"the most frequent rule allowed is hourly, so give at most one {name} value"
            )

    if bymonth is not None and bymonthday is not None:
        longest = max(_LONGEST_MONTH[month - 1] for month in bymonth)
        if all(abs(day) > longest for day in bymonthday):
            raise _refuse(
                f"BYMONTHDAY={','.join(map(str, bymonthday))} never falls in "
                f"BYMONTH={','.join(map(str, bymonth))}; the rule has no occurrence"
            )

    values: dict[str, str] = {"FREQ": freq_name}
    if "INTERVAL" in parts:
        values["INTERVAL"] = str(interval)
    if count is not None:
        values["COUNT"] = str(count)
    if until is not None:
        values["UNTIL"] = _format_until(until)
    for name, given in (
        ("BYMONTH", bymonth),
        ("BYWEEKNO", byweekno),
        ("BYYEARDAY", byyearday),
        ("BYMONTHDAY", bymonthday),
    ):
        if given is not None:
            values[name] = ",".join(map(str, given))
    if byday is not None:
        values["BYDAY"] = _format_byday(byday)
    for name, given in (
        ("BYHOUR", byhour),
        ("BYMINUTE", byminute),
        ("BYSECOND", bysecond),
        ("BYSETPOS", bysetpos),
    ):
        if given is not None:
            values[name] = ",".join(map(str, given))
    if "WKST" in parts:
        values["WKST"] = parts["WKST"]
    text = ";".join(f"{name}={values[name]}" for name in _PART_ORDER if name in values)

    return _Spec(
        text=text,
        freq=freq,
        interval=interval,
        count=count,
        until=until,
        wkst=wkst,
        bymonth=bymonth,
        byweekno=byweekno,
        byyearday=byyearday,
        bymonthday=bymonthday,
        byday=byday,
        byhour=byhour,
        byminute=byminute,
        bysecond=bysecond,
        bysetpos=bysetpos,
    )


def normalize_rule(rule: str) -> str:
    """The canonical form of a valid rule (upper case, parts in RFC order); InvalidInput if not."""
    return _parse_rule(rule).text


# --------------------------------------------------------------------------------------------
# Expansion


class _ScanExhausted(Exception):
    """A scan used up its budget of work units (for one occurrence or for the whole call)."""


class _CallExhausted(_ScanExhausted):
    """A call used up its whole budget (_CALL_BUDGET or the one it was given)."""


class _ScanBudget(threading.local):
    """Work units left in this thread: for the next occurrence and for the current call, and the
    units spent since the thread started (the meter the tests read)."""

    remaining = _SCAN_BUDGET
    call_remaining = _CALL_BUDGET
    spent = 0
    # Units spent at which this thread next pauses (never, unless it runs off the loop).
    next_pause: float = math.inf


_scan_budget = _ScanBudget()


@contextlib.contextmanager
def pausing_for_the_loop() -> Iterator[None]:
    """Within it, this thread's expansions pause about every millisecond to let the event loop
    run (for a thread beside the loop; see _PAUSE_UNITS)."""
    _scan_budget.next_pause = _scan_budget.spent + _PAUSE_UNITS
    try:
        yield
    finally:
        _scan_budget.next_pause = math.inf


class _BudgetedValues(tuple[int, ...]):
    """BYMONTH (or BYDAY) values that charge dateutil's membership tests to the scan budget.

    dateutil tests every candidate day against BYMONTH first, so counting those tests bounds the
    work of one scan even for a rule that never matches (see ``_SCAN_BUDGET``). The counter is
    per thread because the dateutil rules carrying these values are cached and shared.
    """

    __slots__ = ()
    units = 1

    def __contains__(self, value: object) -> bool:
        # Called once per candidate day: kept to a few attribute updates of the thread's budget.
        budget, units = _scan_budget, self.units
        budget.remaining -= units
        budget.call_remaining -= units
        budget.spent += units
        if budget.remaining < 0 or budget.call_remaining < 0:
            raise _CallExhausted if budget.call_remaining < 0 else _ScanExhausted
        if budget.spent >= budget.next_pause:
            budget.next_pause = budget.spent + _PAUSE_UNITS
            sleep(_PAUSE_SECONDS)
        return tuple.__contains__(self, value)


class _HeavyBudgetedValues(_BudgetedValues):
    """The same, for rules dateutil expands with one iteration per candidate day."""

    __slots__ = ()
    units = _HEAVY_DAY


_ALL_MONTHS = _BudgetedValues(range(1, 13))
_ALL_WEEKDAYS = _BudgetedValues(range(7))
_ALL_HOURS = tuple(range(24))


def _start_scan() -> None:
    """Give the scan about to run in this thread a full budget for its next occurrence."""
    _scan_budget.remaining = _SCAN_BUDGET


def _start_call(units: int = _CALL_BUDGET) -> None:
    """Give the call about to run in this thread ``units`` of work in all."""
    _scan_budget.call_remaining = units
    _scan_budget.remaining = _SCAN_BUDGET


def work_spent() -> int:
    """Work units of recurrence expansion spent in this thread so far (a meter for tests)."""
    return _scan_budget.spent


def _as_yearly(spec: _Spec) -> bool:
    """Whether a DAILY or HOURLY rule can be expanded as YEARLY with the same result.

    With INTERVAL=1 and no BYSETPOS, such a rule yields, on every day its BY parts let through,
    the times its BYHOUR/BYMINUTE/BYSECOND give; so does a YEARLY rule with the same BY parts and
    explicit times. dateutil walks a YEARLY rule's days in one tight loop where it spends an
    iteration on every day of a DAILY or HOURLY one, eight times the work: a sparse hourly rule
    (BYMONTH=2;BYMONTHDAY=29;BYHOUR=9) costs the same as the yearly rule it means.
    """
    return spec.freq in (DAILY, HOURLY) and spec.interval == 1 and spec.bysetpos is None


@functools.lru_cache(maxsize=8192)
def _build_rrule(
    spec: _Spec, anchor: datetime, start: datetime, until: datetime | None, count: int | None
) -> rrule:
    """A dateutil rule from ``start`` yielding what ``spec`` anchored at ``anchor`` yields there
    (cached: dateutil's constructor is a good part of the cost of a query; rules are not mutated).

    Whatever dateutil would take from DTSTART (time of day, weekday, day of month, month) is taken
    from ``anchor`` explicitly, so ``start`` may be any boundary of a period on the anchor's grid.
    """
    bymonth, bymonthday = spec.bymonth, spec.bymonthday
    byweekday: list[weekday] | list[int] | None = (
        [weekday(day, n) for day, n in spec.byday] if spec.byday else None
    )
    if not (spec.byweekno or spec.byyearday or spec.bymonthday or spec.byday):
        if spec.freq == YEARLY:
            bymonth = bymonth or (anchor.month,)
            bymonthday = (anchor.day,)
        elif spec.freq == MONTHLY:
            bymonthday = (anchor.day,)
        elif spec.freq == WEEKLY:
            byweekday = [anchor.weekday()]
    freq: _Freq = spec.freq
    byhour = spec.byhour or (None if spec.freq == HOURLY else (anchor.hour,))
    if _as_yearly(spec):
        freq = YEARLY
        byhour = byhour or _ALL_HOURS
        if not (spec.byyearday or spec.bymonthday or spec.byday):
            # Every day passes; said explicitly, or dateutil would default to DTSTART's date.
            byweekday = list(range(7))
    built = rrule(
        freq,
        dtstart=start,
        interval=spec.interval,
        wkst=spec.wkst,
        count=count,
        until=until,
        bysetpos=spec.bysetpos,
        bymonth=bymonth,
        bymonthday=bymonthday,
        byyearday=spec.byyearday,
        byweekno=spec.byweekno,
        byweekday=byweekday,
        byhour=byhour,
        byminute=spec.byminute or (anchor.minute,),
        bysecond=spec.bysecond or (anchor.second,),
    )
    # Install the budget counter on the first test dateutil makes for each candidate day. For a
    # YEARLY rule with numbered weekdays and no BYMONTH, dateutil reads BYMONTH to decide whether
    # "20MO" counts within the year or within each month, so count on the weekday test instead
    # (always reached: BYWEEKNO is refused with numbered weekdays).
    state = vars(built)
    if spec.freq == YEARLY and spec.numbered_byday and spec.bymonth is None:
        state["_byweekday"] = _ALL_WEEKDAYS
    else:
        heavy = freq in (DAILY, HOURLY)
        values = _HeavyBudgetedValues if heavy else _BudgetedValues
        state["_bymonth"] = values(state["_bymonth"] or range(1, 13))
    return built


def _aligned_start(spec: _Spec, anchor: datetime, target: datetime) -> datetime | None:
    """Start of the latest period of the rule's grid (periods of INTERVAL units counted from the
    anchor's period) that begins at or before ``target``; None when that is the anchor's own
    period. Starting there yields every occurrence at or after ``target``."""
    if target <= anchor:
        return None
    n = spec.interval
    if spec.freq == HOURLY:
        first = anchor.replace(minute=0, second=0)
        steps = ((target - first) // timedelta(hours=1)) // n
        return first + timedelta(hours=steps * n) if steps else None
    if spec.freq == DAILY:
        steps = (target.date() - anchor.date()).days // n
        day = anchor.date() + timedelta(days=steps * n)
    elif spec.freq == WEEKLY:
        # A full week from WKST, so a BYSETPOS sees the whole week (dateutil trims only the first).
        def week_start(day: date) -> date:
            return day - timedelta(days=(day.weekday() - spec.wkst) % 7)

        steps = (week_start(target.date()) - week_start(anchor.date())).days // 7 // n
        day = week_start(anchor.date()) + timedelta(weeks=steps * n)
    elif spec.freq == MONTHLY:
        months = (target.year - anchor.year) * 12 + target.month - anchor.month
        steps = months // n
        index = anchor.year * 12 + anchor.month - 1 + steps * n
        day = date(index // 12, index % 12 + 1, 1)
    else:
        steps = (target.year - anchor.year) // n
        day = date(anchor.year + steps * n, 1, 1)
    return datetime.combine(day, time()) if steps else None


@dataclass(frozen=True, slots=True)
class _Series:
    """Everything needed to expand one series (or a COMPLETION restart of it)."""

    spec: _Spec
    zone: ZoneInfo
    anchor: datetime  # naive wall-clock DTSTART
    include_anchor: bool  # RFC 5545: DTSTART is an occurrence even if the rule does not match
    until: datetime | None  # inclusive UTC instant
    naive_end: datetime | None  # last occurrence (wall clock) of a COUNT series
    skipped: frozenset[datetime]  # UTC instants
    anchor_instant: datetime  # UTC
    # A wall-clock bound for dateutil: COUNT's exact end, or UNTIL loosened by a day (the wall
    # clock of an instant can be off by a DST shift; instants are then filtered exactly).
    scan_until: datetime | None

    @classmethod
    def build(
        cls,
        spec: _Spec,
        zone: ZoneInfo,
        anchor: datetime,
        *,
        include_anchor: bool = True,
        with_until: bool = True,
        naive_end: datetime | None = None,
        skipped: frozenset[datetime] = frozenset(),
    ) -> _Series:
        """A series with its derived values computed once."""
        until = spec.until.instant(zone) if with_until and spec.until is not None else None
        scan_until = naive_end
        if scan_until is None and until is not None:
            scan_until = _wall(until, zone) + timedelta(days=1)
        return cls(
            spec, zone, anchor, include_anchor, until, naive_end, skipped,
            _instant(anchor, zone), scan_until,
        )  # fmt: skip

    def first_after(self, after: datetime, limit: int, *, fast: bool = True) -> list[datetime]:
        """Up to ``limit`` occurrences (UTC instants, ascending) strictly after ``after``."""
        return [moment for moment, _ in self.occurrences(after, limit, fast=fast)]

    def occurrences(
        self, after: datetime, limit: int, *, fast: bool = True
    ) -> list[tuple[datetime, datetime]]:
        """Up to ``limit`` occurrences strictly after the aware ``after``, ascending, each as
        (UTC instant, the rule's wall-clock time). ``fast=False`` expands from DTSTART.

        Fewer than ``limit`` when the series ends, when the search for one occurrence uses up
        _SCAN_BUDGET or when the call uses up _CALL_BUDGET."""
        return self.expand(after, limit, fast=fast)[0]

    def expand(
        self, after: datetime, limit: int, *, fast: bool = True, budget: int = _CALL_BUDGET
    ) -> tuple[list[tuple[datetime, datetime]], bool]:
        """``occurrences`` within ``budget`` work units, and whether the budget ran out first."""
        after = after.astimezone(UTC)
        found: list[tuple[datetime, datetime, datetime]] = []  # (instant, placed wall, rule wall)
        zone, skipped, until = self.zone, self.skipped, self.until

        def consider(wall: datetime) -> None:
            moment = _instant(wall, zone)
            if moment <= after or moment in skipped or (until is not None and moment > until):
                return
            if any(moment == seen for seen, _, _ in found):
                return  # two wall-clock times in a DST gap that land on the same instant
            found.append((moment, _wall(moment, zone), wall))
            found.sort()
            del found[limit:]

        if limit <= 0:
            return [], False
        if self.include_anchor and self.anchor_instant > after:
            consider(self.anchor)
        start = self._scan_start(after) if fast else self.anchor
        rule = _build_rrule(self.spec, self.anchor, start, self.scan_until, None)
        _start_call(budget)
        exhausted = False
        try:
            for wall in rule:
                if wall.year >= 9999:
                    break  # placing it in the zone may overflow datetime
                consider(wall)
                _start_scan()  # the budget bounds the search for each next occurrence
                # Wall-clock times come in order; only a time in a DST gap lands later than its
                # wall clock says, so once the expansion has passed the wall clock of every kept
                # occurrence nothing later can come before them.
                if len(found) >= limit and wall >= max(placed for _, placed, _ in found):
                    break
        except _CallExhausted:
            exhausted = True
        except _ScanExhausted:
            pass
        return [(moment, wall) for moment, _, wall in found], exhausted

    def _scan_start(self, after: datetime) -> datetime:
        """Where to start expanding to find occurrences after ``after`` (see _aligned_start)."""
        # An occurrence whose wall-clock time falls in a DST gap shortly before ``after`` is
        # shifted forward by the gap and may land after it, so start that much earlier.
        local = after.astimezone(self.zone)
        earlier = (after - _GAP_WINDOW).astimezone(self.zone)
        gap = max(_NO_TIME, (local.utcoffset() or _NO_TIME) - (earlier.utcoffset() or _NO_TIME))
        target = local.replace(tzinfo=None, fold=0) - gap
        if self.naive_end is not None:
            target = min(target, self.naive_end)
        return _aligned_start(self.spec, self.anchor, target) or self.anchor


def _count_end(spec: _Spec, anchor: datetime) -> datetime:
    """Wall clock of the last occurrence of a COUNT series anchored at ``anchor``."""
    return _find_count_end(spec, anchor)[0]


@functools.lru_cache(maxsize=4096)
def _find_count_end(spec: _Spec, anchor: datetime) -> tuple[datetime, bool]:
    """``_count_end`` and whether _COUNT_END_BUDGET ran out before COUNT did (cached: this is
    the one expansion from DTSTART that a COUNT series needs; COUNT <= MAX_COUNT bounds it)."""
    assert spec.count is not None
    walls: list[datetime] = []
    exhausted = False
    _start_call(_COUNT_END_BUDGET)
    try:
        for wall in _build_rrule(spec, anchor, anchor, None, spec.count):
            walls.append(wall)
            _start_scan()
    except _CallExhausted:
        # Refused when stored (see _check_density); a rule stored before that check ends where
        # the work ended.
        exhausted = True
    except _ScanExhausted:
        pass
    if not walls or walls[0] != anchor:
        # DTSTART is the first of the COUNT occurrences even though the rule does not match it.
        walls = [anchor, *walls[: spec.count - 1]]
    return walls[-1], exhausted


def _check_density(spec: _Spec, zone: ZoneInfo, start: datetime) -> None:
    """Refuse a rule whose occurrences cannot be found within bounded work: its first
    _DENSITY_SAMPLE occurrences from ``start`` must take at most _UNITS_PER_OCCURRENCE each on
    average, and the end of a COUNT series at most _COUNT_END_BUDGET."""
    problem = _density_problem(spec, zone, start)
    if problem is not None:
        raise _refuse(problem)


@functools.lru_cache(maxsize=1024)
def _density_problem(spec: _Spec, zone: ZoneInfo, start: datetime) -> str | None:
    """Why ``_check_density`` refuses the rule, or None (cached, refusals included: creating a
    task checks once off the event loop and once more in the domain, and a request may repeat
    one costly rule in every alias)."""
    series = _Series.build(spec, zone, start, include_anchor=False)
    budget = _DENSITY_SAMPLE * _UNITS_PER_OCCURRENCE
    before = _instant(start, zone) - _ONE_SECOND
    _, exhausted = series.expand(before, _DENSITY_SAMPLE, budget=budget)
    if exhausted:
        return (
            f"the rule's occurrences are too far apart to find within the work limit: its first "
            f"{_DENSITY_SAMPLE} occurrences take more than {budget} candidate days (at most "
            f"{_UNITS_PER_OCCURRENCE} an occurrence on average, e.g. one date every 5 years); "
            "give a rule that occurs more often"
        )
    if spec.count is not None and _find_count_end(spec, start)[1]:
        return (
            f"COUNT={spec.count} takes more than {_COUNT_END_BUDGET} candidate days to find the "
            "last occurrence; give a smaller COUNT or an UNTIL date"
        )
    return None


# --------------------------------------------------------------------------------------------
# The value object


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _until_text(spec: _Spec) -> str:
    """The UNTIL value of a rule as written in its normalised form."""
    return _format_until(spec.until) if spec.until is not None else ""


def _out_of_range() -> InvalidInput:
    return _refuse(
        f"the rule's dates must stay between the years {_FIRST_YEAR} and {_LAST_YEAR}; "
        "check UNTIL and the start"
    )


def _never_occurs() -> InvalidInput:
    return _refuse(
        f"the rule has no occurrence within {_SCAN_BUDGET_YEARS} years of its start; "
        "check INTERVAL against BYDAY, BYMONTHDAY, BYMONTH and BYSETPOS"
    )


def _default_anchor(spec: _Spec, now: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock DTSTART to expand from for a series without a due date: ``now`` in the zone,
    truncated to the minute, and to the hour when the rule names hours (BYHOUR=9) but no minute,
    because "daily at 9" should mean 09:00 rather than 09:<minute of creation>."""
    anchor = _wall(now, zone).replace(second=0, microsecond=0)
    if spec.byhour is not None and spec.byminute is None:
        anchor = anchor.replace(minute=0)
    return anchor


@dataclass(frozen=True, slots=True)
class Recurrence:
    """How a task series repeats: a validated RRULE in an IANA zone, anchored at DTSTART.

    ``rule`` is the normalised RRULE value (no ``RRULE:`` prefix), ``dtstart`` the due date of the
    first instance (its wall-clock time in ``timezone`` is what repeats), ``skipped`` the
    occurrences that never occur (EXDATEs). Build it with ``parse``, which validates; the
    constructor trusts values that were validated before (e.g. loaded from storage).
    """

    rule: str
    repeat_from: RepeatFrom
    timezone: str
    dtstart: datetime
    skipped: tuple[datetime, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        rule: str,
        repeat_from: RepeatFrom,
        timezone: str,
        dtstart: datetime | None,
        now: datetime,
        start_field: str = "dueAt",
    ) -> Recurrence:
        """Validate a recurrence; without ``dtstart`` it starts at the rule's first occurrence
        strictly after ``now``. Raises InvalidInput naming ``recurrence.rule``/``timezone`` (or
        ``start_field`` for the start)."""
        try:
            return cls._parse(
                rule=rule,
                repeat_from=repeat_from,
                timezone=timezone,
                dtstart=dtstart,
                now=now,
                start_field=start_field,
            )
        except OverflowError:
            # A safety net: the checks of UNTIL and of the start keep dates away from the ends
            # of datetime's range, but a client's rule must never make INTERNAL.
            raise _out_of_range() from None

    @classmethod
    def _parse(
        cls,
        *,
        rule: str,
        repeat_from: RepeatFrom,
        timezone: str,
        dtstart: datetime | None,
        now: datetime,
        start_field: str,
    ) -> Recurrence:
        spec = _parse_rule(rule)
        zone = validate_timezone(timezone, field=TIMEZONE_FIELD)
        _require_aware(now, "now")
        until = spec.until.instant(zone) if spec.until is not None else None
        if dtstart is None:
            anchor = _default_anchor(spec, now, zone)
            probe = _Series.build(spec, zone, anchor, include_anchor=False)
            first = probe.occurrences(now, 1)
            if not first:
                unbounded = _Series.build(
                    spec, zone, anchor, include_anchor=False, with_until=False
                )
                if until is not None and unbounded.occurrences(now, 1):
                    raise _refuse(
                        f"UNTIL={_until_text(spec)} is in the past: the rule has no "
                        "occurrence after now"
                    )
                raise _never_occurs()
            start = first[0][1]  # the rule's wall clock, not the one a DST gap shifted it to
        else:
            if dtstart.tzinfo is None or dtstart.utcoffset() is None:
                raise InvalidInput(
                    start_field, "must include a UTC offset, e.g. 2026-05-04T09:00:00Z"
                )
            if not _FIRST_YEAR <= dtstart.astimezone(UTC).year <= _LAST_YEAR:
                raise InvalidInput(
                    start_field,
                    f"must be between the years {_FIRST_YEAR} and {_LAST_YEAR} for a recurring "
                    f"task (got {dtstart.isoformat()})",
                )
            start = _wall(dtstart, zone).replace(microsecond=0)
            probe = _Series.build(spec, zone, start, include_anchor=False, with_until=False)
            if not probe.occurrences(_instant(start, zone) - _ONE_SECOND, 1):
                raise _never_occurs()
        first_instant = _instant(start, zone)
        if until is not None and until < first_instant:
            raise _refuse(
                f"UNTIL={_until_text(spec)} is before the first occurrence "
                f"({first_instant.astimezone(zone).isoformat()}), so the rule has no occurrence"
            )
        _check_density(spec, zone, start)
        return cls(
            rule=spec.text,
            repeat_from=RepeatFrom(repeat_from),
            timezone=timezone,
            dtstart=first_instant.astimezone(zone),
        )

    def _series(self) -> _Series:
        return _series_of(self)

    def with_skipped(self, when: datetime) -> Recurrence:
        """A copy in which the occurrence at ``when`` never occurs."""
        _require_aware(when, "when")
        zone = validate_timezone(self.timezone, field=TIMEZONE_FIELD)
        moments = {moment.astimezone(UTC) for moment in (*self.skipped, when)}
        return dc_replace(self, skipped=tuple(m.astimezone(zone) for m in sorted(moments)))

    def upcoming(self, after: datetime, limit: int) -> list[datetime]:
        """The next ``limit`` (0 to 100) occurrences strictly after ``after``, in the zone."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_UPCOMING:
            raise InvalidInput("limit", f"must be a whole number from 0 to {MAX_UPCOMING}")
        _require_aware(after, "after")
        try:
            series = self._series()
            return [moment.astimezone(series.zone) for moment in series.first_after(after, limit)]
        except OverflowError:
            raise _out_of_range() from None

    def next_due(
        self, *, due_at: datetime, completed_at: datetime, instance_number: int
    ) -> datetime | None:
        """Due date of the instance after completing the ``instance_number``-th (1-based), due at
        ``due_at``, at ``completed_at``; None when COUNT or UNTIL is exhausted."""
        _require_aware(due_at, "due_at")
        _require_aware(completed_at, "completed_at")
        if instance_number < 1:
            raise ValueError("instance_number is 1-based")
        series = self._series()
        if series.spec.count is not None and instance_number >= series.spec.count:
            return None  # COUNT counts instances: this was the last one
        if self.repeat_from is RepeatFrom.DUE_DATE:
            # Missed occurrences are not piled up: skip to the first after both moments.
            after = max(due_at.astimezone(UTC), completed_at.astimezone(UTC))
        else:
            # The rule restarted on the completion's local date at the series' time of day. Its
            # DTSTART is not an occurrence unless the rule matches it; COUNT was checked above
            # (it counts instances, not occurrences of the restarted rule); UNTIL still applies.
            restart = datetime.combine(
                _wall(completed_at, series.zone).date(), series.anchor.time()
            )
            series = _Series.build(
                series.spec, series.zone, restart, include_anchor=False, skipped=series.skipped
            )
            after = completed_at.astimezone(UTC)
        try:
            found = series.first_after(after, 1)
        except OverflowError:
            return None  # the series would continue past the last supported year
        return found[0].astimezone(series.zone) if found else None


@functools.lru_cache(maxsize=4096)
def _series_of(recurrence: Recurrence) -> _Series:
    """The expansion data of a recurrence (cached: queries on one series come in bursts)."""
    spec = _parse_rule(recurrence.rule)
    zone = validate_timezone(recurrence.timezone, field=TIMEZONE_FIELD)
    anchor = _wall(recurrence.dtstart, zone).replace(microsecond=0)
    return _Series.build(
        spec,
        zone,
        anchor,
        naive_end=_count_end(spec, anchor) if spec.count is not None else None,
        skipped=frozenset(moment.astimezone(UTC) for moment in recurrence.skipped),
    )


def recurrence_from_json(value: dict[str, Any] | None) -> Recurrence | None:
    """The Recurrence stored in a task row's JSON column."""
    if value is None:
        return None
    return Recurrence(
        rule=value["rule"],
        repeat_from=RepeatFrom(value["repeatFrom"]),
        timezone=value["timezone"],
        dtstart=datetime.fromisoformat(value["dtstart"]),
        skipped=tuple(datetime.fromisoformat(s) for s in value["skipped"]),
    )


def recurrence_to_json(recurrence: Recurrence | None) -> dict[str, Any] | None:
    """The JSON column value of a Recurrence."""
    if recurrence is None:
        return None
    return {
        "rule": recurrence.rule,
        "repeatFrom": recurrence.repeat_from.value,
        "timezone": recurrence.timezone,
        "dtstart": recurrence.dtstart.isoformat(),
        "skipped": [s.isoformat() for s in recurrence.skipped],
    }
