"""Benchmark: next occurrence of a 20-year-old daily series, Taskstream vs stock dateutil.

Run: ``.venv/bin/python bench/recurrence_next.py [--runs N]``. Prints a table and writes
``bench/results/recurrence_next.json``. The acceptance limit is p50 <= 100 us for
``Recurrence.upcoming(now, 1)``; stock dateutil replays the series from DTSTART on every call.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, rrule

from taskstream import recurrence
from taskstream.recurrence import Recurrence, RepeatFrom

ZONE = ZoneInfo("Europe/Berlin")
DTSTART = datetime(2006, 5, 2, 9, 0, tzinfo=ZONE)  # twenty years before NOW
NOW = datetime(2026, 5, 2, 12, 34, 56, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results" / "recurrence_next.json"
LIMIT_P50_US = 100.0


@dataclass(frozen=True)
class Row:
    name: str
    runs: int
    p50_us: float
    p99_us: float
    mean_us: float


def measure(
    name: str, call: Callable[[int], object], runs: int, before: Callable[[], None] | None = None
) -> Row:
    """Per-call wall time of ``call(i)`` for i in range(runs), after a short warm-up."""
    for i in range(min(20, runs)):
        call(i)
    samples: list[float] = []
    for i in range(runs):
        if before is not None:
            before()  # outside the timed span
        began = time.perf_counter_ns()
        call(i)
        samples.append((time.perf_counter_ns() - began) / 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return Row(name, runs, statistics.median(samples), p99, statistics.fmean(samples))


def clear_caches() -> None:
    """Forget every cached expansion, so the next call pays for all of it."""
    recurrence._series_of.cache_clear()
    recurrence._build_rrule.cache_clear()
    recurrence._find_count_end.cache_clear()
    recurrence._density_problem.cache_clear()


def main() -> None:
    """Run every case and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="calls per Taskstream case")
    parser.add_argument("--stock-runs", type=int, default=200, help="calls per dateutil case")
    args = parser.parse_args()

    series = Recurrence.parse(
        rule="FREQ=DAILY",
        repeat_from=RepeatFrom.DUE_DATE,
        timezone=ZONE.key,
        dtstart=DTSTART,
        now=NOW,
    )
    restart = Recurrence(
        rule=series.rule, repeat_from=RepeatFrom.COMPLETION, timezone=ZONE.key, dtstart=DTSTART
    )

    # Each call asks at a different moment (a minute apart), as a stream of queries would.
    def moment(i: int) -> datetime:
        return NOW + timedelta(minutes=i)

    due = datetime(2026, 5, 1, 9, 0, tzinfo=ZONE)

    def stock_between(at: datetime) -> datetime:
        start = at.astimezone(ZONE).replace(tzinfo=None)
        found: datetime = stock.between(start, start + timedelta(days=2))[0]
        return found

    stock = rrule(DAILY, dtstart=DTSTART.replace(tzinfo=None))
    stock_aware = rrule(DAILY, dtstart=DTSTART)

    rows = [
        measure("Recurrence.upcoming(now, 1)", lambda i: series.upcoming(moment(i), 1), args.runs),
        measure(
            "Recurrence.upcoming(now, 1), caches cleared",
            lambda i: series.upcoming(moment(i), 1),
            args.runs,
            before=clear_caches,
        ),
        measure(
            "Recurrence.next_due DUE_DATE",
            lambda i: series.next_due(due_at=due, completed_at=moment(i), instance_number=7300),
            args.runs,
        ),
        measure(
            "Recurrence.next_due COMPLETION",
            lambda i: restart.next_due(due_at=due, completed_at=moment(i), instance_number=7300),
            args.runs,
        ),
        measure(
            "dateutil rrule.after(now) from DTSTART, naive",
            lambda i: stock.after(moment(i).astimezone(ZONE).replace(tzinfo=None)),
            args.stock_runs,
        ),
        measure(
            "dateutil rrule.after(now) from DTSTART, aware",
            lambda i: stock_aware.after(moment(i)),
            args.stock_runs,
        ),
        # The peer: stock between(), the window [now, now + 2 days) holds the next one.
        measure(
            "dateutil rrule.between(now, now + 2 days)[0] from DTSTART, naive",
            lambda i: stock_between(moment(i)),
            args.stock_runs,
        ),
    ]

    # The two sides must agree before their speed means anything.
    ours = series.upcoming(NOW, 1)[0]
    theirs = stock.after(NOW.astimezone(ZONE).replace(tzinfo=None))
    assert theirs is not None
    assert ours == theirs.replace(tzinfo=ZONE), (ours, theirs)
    assert ours == stock_between(NOW).replace(tzinfo=ZONE)

    width = max(len(row.name) for row in rows)
    print(f"{'case':<{width}}  {'runs':>6}  {'p50 us':>10}  {'p99 us':>10}  {'mean us':>10}")
    for row in rows:
        print(
            f"{row.name:<{width}}  {row.runs:>6}  {row.p50_us:>10.1f}  {row.p99_us:>10.1f}"
            f"  {row.mean_us:>10.1f}"
        )
    speedup = rows[4].p50_us / rows[0].p50_us
    passed = rows[0].p50_us <= LIMIT_P50_US and rows[1].p50_us <= LIMIT_P50_US
    print(f"p50 speed-up over stock dateutil (naive): {speedup:.0f}x")
    print(f"acceptance p50 <= {LIMIT_P50_US:.0f} us: {'PASS' if passed else 'FAIL'}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "recurrence_next",
        "series": {"rule": series.rule, "timezone": ZONE.key, "dtstart": DTSTART.isoformat()},
        "now": NOW.isoformat(),
        "python": platform.python_version(),
        "dateutil": version("python-dateutil"),
        "machine": platform.machine(),
        "limit_p50_us": LIMIT_P50_US,
        "passed": passed,
        "speedup_p50": round(speedup, 1),
        "speedup_p50_vs_between": round(rows[6].p50_us / rows[0].p50_us, 1),
        "results": [asdict(row) for row in rows],
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
