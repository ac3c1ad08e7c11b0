"""Hostile inputs of issue 13: the most expensive request each class can still get accepted.

For each class of hostile input (aliases, lists, recurrence, search, nesting) a few probes climb
a ladder of sizes, from small to hostile, through the real gateway over the shared data sets
(bench.run: 100,000 tasks of the page user, 1,000,000 of the search user) and a few rows this
module adds (tasks with 20,000-character notes, a note with a 300-letter word, a task stored with
the probe rule). Every request is measured alone: wall time, the gateway's CPU time, the
PostgreSQL backends' CPU time and their peak memory (VmRSS sampled every 10 ms, and VmHWM,
from /proc of every child of the postmaster). The result of a probe is the largest size that was
accepted (an answer without errors, or with data) and what the refused sizes answered.

Then the p99 of ordinary users' page reads (`tasks(first: 50)` with tags and reminders of the
page user, two clients) quiet, and again while one hostile client sends the largest request of
every probe in a loop.

Bounded everywhere: each request has a client timeout ("timed out" when hit); a size is not sent
when the previous one predicts it would pass the timeout, nor once a smaller one timed out or
exceeded the memory guard; a backend passing MEMORY_GUARD_BYTES is ended with
pg_terminate_backend and the request recorded as "exceeded"; the module has a time budget, and
after a timed-out request waits for the gateway to answer /healthz again (or restarts it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import psutil

from bench.datasets import plain_url
from bench.live_clients import sign_up_users
from bench.loadgen import Connection, Request
from bench.runtime import BenchContext
from bench.stack import ServerProcess
from bench.stats import comparison, summary
from taskstream.settings import Settings

# On today's code 500 allTags names drove one backend to 23 GB (issue 13): the ladder stops
# at this many names unless TASKSTREAM_BENCH_ABUSE_MAX_TAG_NAMES says otherwise.
DEFAULT_MAX_TAG_NAMES = 100
MEMORY_GUARD_BYTES = 2 * 1024**3
GOAL_SECONDS = 1.0
GOAL_MB = 256.0
GOAL_RATIO = 2.0
# CPU seconds per second below which the gateway and PostgreSQL count as idle again.
IDLE_CPU_SECONDS = 0.2
MB = 1024 * 1024

PROBE_RULE = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9"
PROBE_START = "2044-02-29T09:00:00Z"
# Within the typo budget of nothing in the notes, but sharing a piece and most trigrams with
# "documentation": every word of every note is compared (the expensive branch of typo search).
LONG_NOTE_TYPOS = ["documentatxyz", "planningxyzq", "reportingxyz", "meetingsxyzq"]
LONG_NOTE_TEXT = "documentation planning reporting meetings "
MILLION_TYPOS = ["reprot", "invocie", "meetnig", "budegt", "gardne", "doctro", "fligth", "sldies"]

PAGE = """
query {
  tasks(first: 50, orderBy: [{field: CREATED_AT}]) {
    pageInfo { endCursor hasNextPage }
    edges { node { id title status priority dueAt
                   tags { id name }
                   reminders { id remindAt beforeDue channels state sentAt } } }
  }
}
"""
NESTED_PAGE = (
    "edges { node { id title dueAt tags { id name openTaskCount } "
    "reminders { id remindAt channels state } recurrence { rule upcoming(limit: 5) } } }"
)


# --- outcomes and the pure logic over them --------------------------------------------------


@dataclass
class Outcome:
    """What one size of a probe did."""

    size: int
    status: str  # accepted | partial | cut off | refused | timed out | exceeded | failed | skipped
    codes: list[str] = field(default_factory=list)
    message: str | None = None
    wall_ms: float | None = None
    gateway_cpu_ms: float | None = None
    postgres_cpu_ms: float | None = None
    postgres_peak_rss_mb: float | None = None
    postgres_peak_private_mb: float | None = None
    request_bytes: int | None = None
    note: str | None = None


STOPPING = ("timed out", "exceeded")
ANSWERED = ("accepted", "partial", "cut off", "refused")
# A request the server worked on: "cut off" held PostgreSQL until the statement timeout, so it
# is as costly as an accepted one, not the cheap refusal it looks like from its data.
COSTED = ("accepted", "partial", "cut off")


def classify(status: int, body: bytes) -> tuple[str, list[str], str | None]:
    """accepted / partial / cut off / refused / failed, the error codes and the first message.

    Accepted: no errors. Partial: errors beside data that is not all null (the server did part
    of the work: it counts as accepted for the cost, but a refused argument nested under a
    nullable field looks the same, so it never counts as the largest accepted size). Cut off:
    no data and a `TIMEOUT` (the server worked until its statement timeout).
    """
    try:
        answer = json.loads(body)
    except ValueError:
        return "failed", [f"HTTP {status}"], body[:200].decode("utf-8", "replace")
    if not isinstance(answer, dict):
        return "failed", [f"HTTP {status}"], "not a JSON object"
    errors = answer.get("errors") or []
    codes = sorted(
        {
            str((error.get("extensions") or {}).get("code", "no code"))
            for error in errors
            if isinstance(error, dict)
        }
    )
    message = (
        str(errors[0].get("message"))[:300] if errors and isinstance(errors[0], dict) else None
    )
    data = answer.get("data")
    has_data = isinstance(data, dict) and any(value is not None for value in data.values())
    if not errors and status == 200:
        return "accepted", [], None
    if has_data:
        return "partial", codes, message
    if "TIMEOUT" in codes:
        return "cut off", codes, message
    return "refused", codes or [f"HTTP {status}"], message


def skip_reason(done: Sequence[Outcome], size: int, timeout_s: float) -> str | None:
    """Why this size is not sent after these outcomes, or None to send it.

    Not after a smaller size timed out or exceeded the memory guard (a larger one would only do
    worse), nor when the last measured size, scaled linearly to this one, predicts more than
    the client timeout.
    """
    for earlier in done:
        if earlier.status in STOPPING:
            return f"not sent: size {earlier.size} already {earlier.status}"
    measured = [o for o in done if o.wall_ms is not None and o.status in ANSWERED]
    if measured:
        last = measured[-1]
        assert last.wall_ms is not None
        predicted_s = last.wall_ms / 1000 * size / max(1, last.size)
        if predicted_s > timeout_s:
            return (
                f"not sent: size {last.size} took {last.wall_ms / 1000:.1f} s, "
                f"so {size} would take about {predicted_s:.0f} s (> {timeout_s:.0f} s timeout)"
            )
    return None


def largest_accepted(outcomes: Sequence[Outcome]) -> Outcome | None:
    """The accepted outcome of the largest size (the most expensive measured at that size)."""
    accepted = [o for o in outcomes if o.status == "accepted"]
    if not accepted:
        return None
    return max(accepted, key=lambda o: (o.size, o.wall_ms or 0.0))


def refusals(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Size, status and codes of every size that was sent and not wholly accepted."""
    return [
        {"size": o.size, "status": o.status, "codes": o.codes, "message": o.message}
        for o in outcomes
        if o.status not in ("accepted", "skipped")
    ]


def worst_accepted(probes: dict[str, list[Outcome]]) -> tuple[str, Outcome] | None:
    """Of a class's probes, the costed request (accepted, partial or cut off) that took longest.

    The longest rather than the largest size: that is the most expensive request the class
    got through, and on a noisy machine a smaller size is sometimes the slower one.
    """
    candidates = [(name, o) for name, runs in probes.items() for o in runs if o.status in COSTED]
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[1].wall_ms or 0.0)


def peak_memory_mb(probes: dict[str, list[Outcome]]) -> float | None:
    """The highest PostgreSQL backend RSS of any costed request of these probes."""
    values = [
        o.postgres_peak_rss_mb
        for runs in probes.values()
        for o in runs
        if o.status in COSTED and o.postgres_peak_rss_mb is not None
    ]
    return max(values) if values else None


def class_summary(probes: dict[str, list[Outcome]]) -> dict[str, Any]:
    """The class's most expensive accepted request and whether it stays within the goals."""
    worst = worst_accepted(probes)
    memory = peak_memory_mb(probes)
    over_memory = any(o.status == "exceeded" for runs in probes.values() for o in runs)
    if worst is None:
        return {
            "most_expensive_accepted": None,
            "peak_postgres_rss_mb": memory,
            "within_goals": not over_memory,
        }
    name, outcome = worst
    seconds_ok = (outcome.wall_ms or 0.0) <= GOAL_SECONDS * 1000
    memory_ok = not over_memory and (memory is None or memory <= GOAL_MB)
    return {
        "most_expensive_accepted": {"probe": name, **asdict(outcome)},
        "peak_postgres_rss_mb": memory,
        "within_goals": seconds_ok and memory_ok,
    }


def attack_summary(quiet_ms: list[float], attacked_ms: list[float]) -> dict[str, Any]:
    """Both p99s of the ordinary reads and the ratio under attack / quiet (goal ≤ 2x)."""
    quiet, attacked = summary(quiet_ms), summary(attacked_ms)
    ratio = attacked["p99_ms"] / quiet["p99_ms"] if quiet["p99_ms"] else None
    return {
        "quiet": {"requests": len(quiet_ms), **quiet},
        "under_attack": {"requests": len(attacked_ms), **attacked},
        "p99_ratio": round(ratio, 2) if ratio is not None else None,
        "within_goal": ratio is not None and ratio <= GOAL_RATIO,
    }


# --- the probes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One hostile request shape; `build(size)` gives its query and variables."""

    klass: str
    name: str
    user: str  # page | search | notes | longword
    sizes: tuple[int, ...]
    build: Callable[[int, BenchSetup], tuple[str, dict[str, Any]]]
    note: str = ""


@dataclass
class BenchSetup:
    """The users and rows this module added (besides the shared data sets)."""

    notes_user: uuid.UUID
    longword_user: uuid.UUID
    recurring_task: uuid.UUID
    long_notes: int


def _aliases(count: int, field_text: str) -> str:
    return "query {\n" + "\n".join(f"  a{i}: {field_text}" for i in range(count)) + "\n}"


def _preview(limit: int) -> str:
    return f'previewRecurrence(rule: "{PROBE_RULE}", start: "{PROBE_START}", limit: {limit})'


def _upcoming(task: uuid.UUID, limit: int) -> str:
    return f'task(id: "{task}") {{ id recurrence {{ upcoming(limit: {limit}) }} }}'


def _search(words: Sequence[str], first: int = 20) -> str:
    text = " ".join(words)
    return f'tasks(filter: {{text: "{text}"}}, first: {first}) {{ edges {{ node {{ id }} }} }}'


def _cycle(words: Sequence[str], count: int) -> list[str]:
    return [words[i % len(words)] for i in range(count)]


def _inline_fragments(depth: int) -> str:
    inner = "tasks(first: 50) { edges { node { id title tags { name } } } }"
    return "query { " + "... on Query { " * depth + inner + " }" * depth + " }"


def _fragment_chain(depth: int) -> str:
    parts = ["query { ...F0 }"]
    for i in range(depth):
        parts.append(f"fragment F{i} on Query {{ ...F{i + 1} }}")
    parts.append(
        f"fragment F{depth} on Query {{ tasks(first: 50) {{ edges {{ node {{ id }} }} }} }}"
    )
    return "\n".join(parts)


def probes(max_tag_names: int) -> list[Probe]:
    """Every probe of every class, with its ladder of sizes."""
    tag_sizes = tuple(n for n in (1, 5, 10, 20, 21, 50, 100, 500) if n <= max_tag_names)
    return [
        # aliases: N copies of an expensive field in one document
        Probe(
            "aliases",
            "previewRecurrence(probe rule, limit 100) x N",
            "page",
            (1, 2, 5, 10, 30, 31),
            lambda n, s: (_aliases(n, _preview(100)), {}),
        ),
        Probe(
            "aliases",
            "upcoming(limit 100) of the stored probe rule x N",
            "notes",
            (1, 2, 5, 10, 30, 31),
            lambda n, s: (_aliases(n, _upcoming(s.recurring_task, 100)), {}),
        ),
        Probe(
            "aliases",
            "typo search over long notes x N",
            "notes",
            (1, 2, 5, 10, 30, 31),
            lambda n, s: (_aliases(n, _search(LONG_NOTE_TYPOS[:1])), {}),
        ),
        Probe(
            "aliases",
            "typo beyond budget over 1M tasks x N",
            "search",
            (1, 2, 5, 10, 30, 31),
            lambda n, s: (_aliases(n, _search(MILLION_TYPOS[:1])), {}),
        ),
        Probe(
            "aliases",
            "tasks(first: 200) with nested lists x N",
            "page",
            (1, 5, 10, 30, 31),
            lambda n, s: (_aliases(n, f"tasks(first: 200) {{ {NESTED_PAGE} }}"), {}),
        ),
        # lists: long input lists and big pages
        Probe(
            "lists",
            "tasks(filter: {allTags: N names}, first: 5) { totalCount }",
            "page",
            tag_sizes,
            lambda n, s: (
                "query($t: [String!]) { tasks(filter: {allTags: $t}, first: 5) { totalCount } }",
                {"t": [f"tag{k}" for k in range(n)]},
            ),
            note=f"ladder capped at {max_tag_names} names (500 took one backend to 23 GB)",
        ),
        Probe(
            "lists",
            "tasks(filter: {anyTags: N names}, first: 5) { totalCount }",
            "page",
            (1, 20, 21, 100, 1000, 10_000, 33_000),
            lambda n, s: (
                "query($t: [String!]) { tasks(filter: {anyTags: $t}, first: 5) { totalCount } }",
                {"t": [f"tag{k}" for k in range(n)]},
            ),
        ),
        Probe(
            "lists",
            "tasks(filter: {anyTags: 33,000 names}): one size, past PostgreSQL's 32,767 parameters",
            "page",
            (33_000,),
            lambda n, s: (
                "query($t: [String!]) { tasks(filter: {anyTags: $t}, first: 5) { totalCount } }",
                {"t": [f"tag{k}" for k in range(n)]},
            ),
        ),
        Probe(
            "lists",
            "tasks(filter: {priorities: N values})",
            "page",
            (5, 20, 21, 1000),
            lambda n, s: (
                "query($p: [Priority!]) { tasks(filter: {priorities: $p}, first: 5) "
                "{ totalCount } }",
                {"p": _cycle(["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"], n)},
            ),
        ),
        Probe(
            "lists",
            "tasks(first: N) with nested lists (tags with openTaskCount, reminders, upcoming)",
            "page",
            (10, 50, 100, 200, 201),
            lambda n, s: (f"query {{ tasks(first: {n}) {{ {NESTED_PAGE} }} }}", {}),
        ),
        # recurrence
        Probe(
            "recurrence",
            "previewRecurrence(probe rule, start 2044-02-29, limit N)",
            "page",
            (1, 5, 10, 50, 100, 101),
            lambda n, s: (f"query {{ {_preview(n)} }}", {}),
        ),
        Probe(
            "recurrence",
            "upcoming(limit N) of a task stored with the probe rule",
            "notes",
            (1, 5, 10, 50, 100, 101),
            lambda n, s: (f"query {{ {_upcoming(s.recurring_task, n)} }}", {}),
        ),
        Probe(
            "recurrence",
            "previewRecurrence(FREQ=DAILY;UNTIL=99991231)",
            "page",
            (1,),
            lambda n, s: (
                'query { previewRecurrence(rule: "FREQ=DAILY;UNTIL=99991231", '
                'start: "2026-01-01T09:00:00Z", limit: 5) }',
                {},
            ),
        ),
        Probe(
            "recurrence",
            "previewRecurrence(FREQ=DAILY;UNTIL=00010101T000000Z)",
            "page",
            (1,),
            lambda n, s: (
                'query { previewRecurrence(rule: "FREQ=DAILY;UNTIL=00010101T000000Z", '
                'start: "2026-01-01T09:00:00Z", limit: 5) }',
                {},
            ),
        ),
        # search
        Probe(
            "search",
            "typo beyond budget over the 1M-task user, N words",
            "search",
            (1, 2, 8, 9),
            lambda n, s: (f"query {{ {_search(_cycle(MILLION_TYPOS, n))} }}", {}),
        ),
        Probe(
            "search",
            "typo search over tasks with 20,000-character notes, N words",
            "notes",
            (1, 2, 8, 9),
            lambda n, s: (f"query {{ {_search(_cycle(LONG_NOTE_TYPOS, n))} }}", {}),
        ),
        Probe(
            "search",
            "typo search when a note holds a 300-letter word",
            "longword",
            (1,),
            lambda n, s: (f"query {{ {_search(LONG_NOTE_TYPOS[:1])} }}", {}),
        ),
        # nesting (no type of the schema refers back to itself: depth comes from fragments)
        Probe(
            "nesting",
            "inline fragments nested N deep around tasks(first: 50)",
            "page",
            (1, 5, 10, 11, 100, 900),
            lambda n, s: (_inline_fragments(n), {}),
        ),
        Probe(
            "nesting",
            "fragment spreads chained N deep around tasks(first: 50)",
            "page",
            (1, 5, 10, 11, 100, 500),
            lambda n, s: (_fragment_chain(n), {}),
        ),
    ]


# --- the extra rows -------------------------------------------------------------------------

NOTES_SQL = """
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version)
SELECT md5($1::text || 'n' || i)::uuid, $1::uuid, 'long note ' || i,
       substr(repeat($3::text, 20000 / length($3::text) + 1), 1, 20000),
       'OPEN', 0, NULL, NULL, NULL, NULL, 1,
       timestamptz '2025-01-01' + i * interval '1 second',
       timestamptz '2025-01-01' + i * interval '1 second', 1
FROM generate_series(0, $2 - 1) AS i
"""

ONE_TASK_SQL = """
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version)
VALUES ($1, $2, $3, $4, 'OPEN', 0, $5, NULL, $6::jsonb, $7, 1, now(), now(), 1)
"""


async def _add_user(connection: asyncpg.Connection, label: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await connection.execute(
        "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
        "VALUES ($1, $2, $2, 'not a password hash: bench users never sign in', 'UTC')",
        user_id,
        f"bench-{label}-{user_id.hex[:8]}@example.com",
    )
    return user_id


async def add_rows(url: str, long_notes: int) -> BenchSetup:
    """Users with long notes, with a 300-letter word, and a task stored with the probe rule.

    Written straight into the tables (as bench.datasets does): the probe rule must be stored
    even where createTask now refuses it, as a rule saved before the fix would be.
    """
    from datetime import UTC, datetime

    connection = await asyncpg.connect(plain_url(url))
    try:
        async with connection.transaction():
            notes_user = await _add_user(connection, "notes")
            longword_user = await _add_user(connection, "longword")
            await connection.execute(NOTES_SQL, str(notes_user), long_notes, LONG_NOTE_TEXT)
            await connection.execute(
                ONE_TASK_SQL,
                uuid.uuid4(),
                longword_user,
                "a very long word",
                "see " + "x" * 300 + " " + LONG_NOTE_TEXT,
                None,
                None,
                None,
            )
            recurring = uuid.uuid4()
            due = datetime(2044, 2, 29, 9, tzinfo=UTC)
            rule = {
                "rule": PROBE_RULE,
                "repeatFrom": "DUE_DATE",
                "timezone": "UTC",
                "dtstart": due.isoformat(),
                "skipped": [],
            }
            await connection.execute(
                ONE_TASK_SQL,
                recurring,
                notes_user,
                "stored probe rule",
                "",
                due,
                json.dumps(rule),
                recurring,
            )
        await connection.execute("ANALYZE gateway.tasks")
    finally:
        await connection.close()
    return BenchSetup(notes_user, longword_user, recurring, long_notes)


# --- measuring ------------------------------------------------------------------------------


def _status_numbers(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and RssAnon of a process, in bytes (empty once it is gone)."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as lines:
            for line in lines:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon"):
                    found[key] = int(rest.split()[0]) * 1024
    except OSError:
        return {}
    return found


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (None once it is gone)."""
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    return None


class PostgresWatch:
    """The postmaster's children: CPU time, and peak memory sampled during one request."""

    def __init__(self, postmaster: psutil.Process | None, admin: asyncpg.Connection) -> None:
        self.postmaster = postmaster
        self.admin = admin

    @classmethod
    async def open(cls, url: str) -> PostgresWatch:
        """Find the postmaster through our own backend (None when PostgreSQL is not local)."""
        admin = await asyncpg.connect(plain_url(url))
        postmaster: psutil.Process | None = None
        with contextlib.suppress(psutil.Error):
            backend = int(await admin.fetchval("SELECT pg_backend_pid()"))
            postmaster = psutil.Process(backend).parent()
        return cls(postmaster, admin)

    def children(self) -> list[psutil.Process]:
        """The backends and background processes now."""
        if self.postmaster is None:
            return []
        with contextlib.suppress(psutil.Error):
            return list(self.postmaster.children())
        return []

    def cpu_seconds(self) -> float | None:
        """CPU time of every child now (a child that ends between two readings is lost)."""
        if self.postmaster is None:
            return None
        total = 0.0
        for child in self.children():
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                total += times.user + times.system
        return total

    async def sample(self, peaks: dict[str, float], stop: asyncio.Event) -> bool:
        """Sample every 10 ms until `stop`; True (and the backend ended) past the guard."""
        if self.postmaster is None:
            return False
        start_hwm: dict[int, int] = {}
        max_rss: dict[int, int] = {}
        max_anon: dict[int, int] = {}
        last_hwm: dict[int, int] = {}
        first_cpu: dict[int, float] = {}
        last_cpu: dict[int, float] = {}
        pids: list[int] = []
        rounds = 0
        exceeded = False
        own = os.getpid()
        while True:
            if rounds % 10 == 0 or stop.is_set():  # listing children scans /proc: 100 ms
                pids = [c.pid for c in self.children() if c.pid != own]
                # Per backend, so that one the gateway's pool closes meanwhile still counts
                # (up to its last 100 ms); one that starts during the request counts from 0.
                for pid in pids:
                    seconds = _cpu_seconds(pid)
                    if seconds is not None:
                        first_cpu.setdefault(pid, seconds if rounds == 0 else 0.0)
                        last_cpu[pid] = seconds
            rounds += 1
            for pid in pids:
                numbers = _status_numbers(pid)
                if not numbers:
                    continue
                rss, hwm = numbers.get("VmRSS", 0), numbers.get("VmHWM", 0)
                start_hwm.setdefault(pid, hwm)
                max_rss[pid] = max(max_rss.get(pid, 0), rss)
                max_anon[pid] = max(max_anon.get(pid, 0), numbers.get("RssAnon", 0))
                last_hwm[pid] = hwm
                if rss > MEMORY_GUARD_BYTES and not exceeded:
                    exceeded = True
                    await self._terminate(pid)
            if exceeded or stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.01)
        # A peak between two samples still shows in VmHWM, when it rose during the request.
        peak = 0
        for pid, rss in max_rss.items():
            hwm = last_hwm.get(pid, 0)
            peak = max(peak, hwm if hwm > start_hwm.get(pid, hwm) else rss)
        peaks["rss"] = peak / MB
        peaks["private"] = max(max_anon.values(), default=0) / MB
        peaks["cpu"] = sum(last_cpu[pid] - first_cpu[pid] for pid in last_cpu)
        return exceeded

    async def _terminate(self, pid: int) -> None:
        try:
            await self.admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        except (asyncpg.PostgresError, OSError):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).terminate()

    async def close(self) -> None:
        """Close the admin connection."""
        with contextlib.suppress(Exception):
            await self.admin.close()


class Target:
    """The gateway under test; replaced by a fresh one if it stops answering."""

    def __init__(self, context: BenchContext) -> None:
        self.context = context
        self.url = context.gateway_url
        self.restarts = 0

    @property
    def server(self) -> ServerProcess | None:
        """The gateway's process, when bench.stack started it."""
        return self.context.stack.by_url.get(self.url)

    def cpu_seconds(self) -> float | None:
        """The gateway's CPU time so far."""
        server = self.server
        if server is None:
            return None
        with contextlib.suppress(psutil.Error):
            return server.cpu_seconds()
        return None

    async def healthy(self, within_s: float) -> float | None:
        """Seconds until /healthz answered 200 (None if not within `within_s`)."""
        began = time.perf_counter()
        while time.perf_counter() - began < within_s:
            with contextlib.suppress(
                OSError, TimeoutError, asyncio.IncompleteReadError, ValueError
            ):
                status, _ = await send(Request(self.url + "/healthz"), 2.0)
                if status == 200:
                    return time.perf_counter() - began
            await asyncio.sleep(0.5)
        return None

    async def recover(self, within_s: float) -> str:
        """Wait for the gateway to answer again; restart it if it does not in time."""
        waited = await self.healthy(within_s)
        if waited is not None:
            return f"gateway answered /healthz again after {waited:.1f} s"
        server = self.server
        if server is not None:
            self.context.stack.stop(server)
        self.url = await asyncio.to_thread(self.context.stack.gateway)
        self.restarts += 1
        return f"gateway did not answer /healthz within {within_s:.0f} s: restarted"


async def send(request: Request, timeout_s: float) -> tuple[int, bytes]:
    """One request on its own connection, abandoned (closed) after `timeout_s`."""
    host, port, payload = request.raw()
    connection = await asyncio.wait_for(Connection.open(host, port), timeout_s)
    try:
        return await asyncio.wait_for(connection.send(payload), timeout_s)
    finally:
        connection.writer.close()


@dataclass
class Runner:
    """Sends the probes one at a time and measures each."""

    target: Target
    watch: PostgresWatch
    setup: BenchSetup
    tokens: dict[str, str]
    timeout_s: float
    recover_s: float
    deadline: float
    log: Callable[[str], None]
    probes: list[Probe]

    def request(self, probe: Probe, size: int, url: str | None = None) -> Request:
        """The probe's request at this size, to the current gateway (or to `url`)."""
        query, variables = probe.build(size, self.setup)
        return Request.graphql(
            (url or self.target.url) + "/graphql", query, variables, token=self.tokens[probe.user]
        )

    async def measure(self, request: Request, size: int) -> Outcome:
        """Send one request alone and measure it; on a hang or the memory guard, recover."""
        cpu_gateway = self.target.cpu_seconds()
        peaks: dict[str, float] = {}
        stop = asyncio.Event()
        watcher = asyncio.create_task(self.watch.sample(peaks, stop))
        began = time.perf_counter()
        exchange = asyncio.create_task(send(request, self.timeout_s))
        await asyncio.wait({exchange, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not exchange.done() and not watcher.result():  # nothing to watch: just wait
            await asyncio.wait({exchange})
        wall_ms = (time.perf_counter() - began) * 1000
        outcome = Outcome(size, "failed", request_bytes=len(request.body or b""))
        if exchange.done():
            stop.set()
            exceeded = await watcher
            try:
                status, body = exchange.result()
            except TimeoutError:
                outcome.status = "timed out"
                outcome.note = f"no answer within {self.timeout_s:.0f} s"
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                outcome.codes, outcome.note = ["connection"], repr(error)[:300]
            else:
                outcome.status, outcome.codes, outcome.message = classify(status, body)
            if exceeded:
                outcome.status = "exceeded"
        else:  # the memory guard fired first: that backend is being ended
            exchange.cancel()
            with contextlib.suppress(BaseException):
                await exchange
            await watcher
            outcome.status = "exceeded"
        if outcome.status == "exceeded":
            outcome.note = (
                f"a PostgreSQL backend passed {MEMORY_GUARD_BYTES // 1024**3} GB: "
                "ended with pg_terminate_backend"
            )
        outcome.wall_ms = round(wall_ms, 1)
        outcome.postgres_peak_rss_mb = round(peaks["rss"], 1) if "rss" in peaks else None
        outcome.postgres_peak_private_mb = (
            round(peaks["private"], 1) if "private" in peaks else None
        )
        after_gateway = self.target.cpu_seconds()
        if cpu_gateway is not None and after_gateway is not None:
            outcome.gateway_cpu_ms = round((after_gateway - cpu_gateway) * 1000, 1)
        if "cpu" in peaks:
            outcome.postgres_cpu_ms = round(peaks["cpu"] * 1000, 1)
        if outcome.status in STOPPING or outcome.codes == ["connection"]:
            recovered = await self.recover()
            outcome.note = f"{outcome.note}; {recovered}" if outcome.note else recovered
        return outcome

    async def recover(self) -> str:
        """After an abandoned request: the gateway answers again and its work has drained.

        A request the client gave up on may still run in the gateway (a thread, the event
        loop) or in PostgreSQL; the next measurement must not share the CPU with it.
        """
        # The abandoned statement may still be growing: the memory guard keeps watching.
        stop = asyncio.Event()
        guard = asyncio.create_task(self.watch.sample({}, stop))
        try:
            said = await self.target.recover(self.recover_s)
            began = time.perf_counter()
            while time.perf_counter() - began < self.recover_s:
                before = (self.target.cpu_seconds() or 0.0) + (self.watch.cpu_seconds() or 0.0)
                await asyncio.sleep(1.0)
                after = (self.target.cpu_seconds() or 0.0) + (self.watch.cpu_seconds() or 0.0)
                if after - before < IDLE_CPU_SECONDS:
                    said += f", idle after {time.perf_counter() - began:.0f} s"
                    break
            else:
                said += f", still busy after {self.recover_s:.0f} s"
        finally:
            stop.set()
            ended = await guard
        if ended:
            said += f"; a backend passed {MEMORY_GUARD_BYTES // 1024**3} GB meanwhile: ended"
        return said

    async def climb(self, probe: Probe) -> list[Outcome]:
        """The probe's ladder, smallest size first, within the timeout and the time budget."""
        done: list[Outcome] = []
        for size in probe.sizes:
            reason = skip_reason(done, size, self.timeout_s)
            if reason is None and time.perf_counter() > self.deadline:
                reason = "not sent: the module's time budget was spent"
            if reason is not None:
                done.append(Outcome(size, "skipped", note=reason))
                continue
            outcome = await self.measure(self.request(probe, size), size)
            codes = ",".join(outcome.codes)
            self.log(
                f"  {probe.klass} · {probe.name} · {size}: {outcome.status} {codes} "
                f"{outcome.wall_ms or 0:.0f} ms, PostgreSQL peak "
                f"{outcome.postgres_peak_rss_mb or 0:.0f} MB"
            )
            done.append(outcome)
        return done


# --- ordinary readers and the hostile client ------------------------------------------------


class PageReader:
    """One ordinary user reading their page over one kept connection."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.host, self.port, self.payload = Request.graphql(
            url + "/graphql", PAGE, token=token
        ).raw()
        self.timeout_s = timeout_s
        self.connection: Connection | None = None

    async def read(self) -> tuple[float, bool]:
        """One read: its latency (ms) and whether it failed. A read that gets no answer within
        the timeout counts as the timeout (and its connection is replaced), so a frozen server
        shows in the p99 instead of stalling the benchmark."""
        began = time.perf_counter()
        failed = True
        try:
            if self.connection is None:
                self.connection = await asyncio.wait_for(
                    Connection.open(self.host, self.port), self.timeout_s
                )
            left = self.timeout_s - (time.perf_counter() - began)
            status, body = await asyncio.wait_for(self.connection.send(self.payload), left)
            failed = status != 200 or b'"errors"' in body
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            self.close()
        return (time.perf_counter() - began) * 1000, failed

    def close(self) -> None:
        """Close the connection, if open."""
        if self.connection is not None:
            self.connection.writer.close()
            self.connection = None


async def read_pages(
    target: Target, token: str, *, count: int, clients: int, max_seconds: float, timeout_s: float
) -> tuple[list[float], int]:
    """Latencies (ms) of `count` page reads from `clients` sequential readers, and how many
    failed (see PageReader.read)."""
    latencies: list[float] = []
    failures = 0
    remaining = count
    deadline = time.perf_counter() + max_seconds

    async def reader() -> None:
        nonlocal remaining, failures
        page = PageReader(target.url, token, timeout_s)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                took_ms, failed = await page.read()
                latencies.append(took_ms)
                failures += failed
        finally:
            page.close()

    await asyncio.gather(*(reader() for _ in range(clients)))
    return latencies, failures


async def hostile_loop(runner: Runner, requests: list[Request], stop: asyncio.Event) -> int:
    """Send the hostile requests in turn, one at a time, until `stop`; how many were sent."""
    sent = 0
    while not stop.is_set():
        for request in requests:
            if stop.is_set():
                break
            attempt = asyncio.create_task(send(request, runner.timeout_s))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not attempt.done():
                attempt.cancel()
            with contextlib.suppress(BaseException):
                await attempt
            sent += 1
    return sent


async def under_attack(
    runner: Runner, token: str, hostile: list[Request], *, count: int, clients: int, seconds: float
) -> dict[str, Any]:
    """Quiet page reads, then the same while the hostile client loops; both p99s and the ratio."""
    target = runner.target
    quiet, quiet_failures = await read_pages(
        target, token, count=count, clients=clients, max_seconds=seconds, timeout_s=runner.timeout_s
    )
    stop = asyncio.Event()
    attacker = asyncio.create_task(hostile_loop(runner, hostile, stop))
    try:
        attacked, attacked_failures = await read_pages(
            target,
            token,
            count=count,
            clients=clients,
            max_seconds=seconds,
            timeout_s=runner.timeout_s,
        )
    finally:
        stop.set()
        sent = await attacker
    return {
        **attack_summary(quiet, attacked),
        "failed_reads": {"quiet": quiet_failures, "under_attack": attacked_failures},
        "readers": clients,
        "hostile_requests_sent": sent,
        "hostile_request_kinds": len(hostile),
    }


def hostile_requests(
    runner: Runner, results: dict[str, dict[str, list[Outcome]]], url: str | None = None
) -> list[Request]:
    """Per probe, the largest accepted size (else the largest sent that did not hang), to the
    current gateway (or to `url`)."""
    chosen: list[Request] = []
    for probe in runner.probes:
        outcomes = results[probe.klass][probe.name]
        best = largest_accepted(outcomes)
        if best is None:
            sent = [o for o in outcomes if o.status in ("cut off", "refused", "failed")]
            best = max(sent, key=lambda o: o.size) if sent else None
        if best is not None:
            chosen.append(runner.request(probe, best.size, url))
    return chosen


# --- the attack as deployed: the account limits on, ordinary users on their own accounts ---

# The attack above runs on the benchmarks' shared gateway, which lifts the per-account bucket
# of cost points (its throughput benchmarks read one account as fast as they can): it measures
# an attacker with unlimited points. Here a gateway of its own keeps the bucket as deployed
# (TASKSTREAM_GRAPHQL_COST_PER_SECOND's default), the ordinary users are accounts of their own,
# each reading its page at an ordinary pace (2 reads a second: 3,200 of the 5,000 points a
# bucket gets back each second), and the readers start once the attacker has spent the burst
# its full buckets allow: what users get from a sustained attack.
DEPLOYED_READERS = 8
DEPLOYED_TASKS = 50
DEPLOYED_READS_PER_SECOND = 2.0


async def reader_accounts(url: str, count: int, tasks: int) -> list[str]:
    """`count` new accounts with `tasks` tasks of two tags each; their tokens."""
    async with httpx.AsyncClient(base_url=url, timeout=60.0) as http:
        tokens = await sign_up_users(http, count, f"reader-{uuid.uuid4().hex[:8]}")
        create = (
            'mutation($t: String!) { createTask(input: {title: $t, tags: ["home", "work"]}) '
            "{ id } }"
        )
        for token in tokens:
            for n in range(tasks):
                response = await http.post(
                    "/graphql",
                    json={"query": create, "variables": {"t": f"task {n}"}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if "errors" in response.json():
                    raise RuntimeError(f"createTask failed: {response.text[:300]}")
    return tokens


async def paced_reads(
    url: str, tokens: Sequence[str], *, seconds: float, per_second: float, timeout_s: float
) -> tuple[list[float], int]:
    """Each account reads its page `per_second` times a second for `seconds`: latencies (ms)
    and failed reads (errors, RATE_LIMITED included, and timeouts, counted at `timeout_s`)."""
    latencies: list[float] = []
    failures = 0
    interval = 1.0 / per_second

    async def reader(index: int, token: str) -> None:
        nonlocal failures
        page = PageReader(url, token, timeout_s)
        # Spread over the interval, so the readers do not arrive together.
        await asyncio.sleep(interval * index / len(tokens))
        ends = time.perf_counter() + seconds
        try:
            while time.perf_counter() < ends:
                took_ms, failed = await page.read()
                latencies.append(took_ms)
                failures += failed
                await asyncio.sleep(max(0.0, interval - took_ms / 1000))
        finally:
            page.close()

    await asyncio.gather(*(reader(i, token) for i, token in enumerate(tokens)))
    return latencies, failures


async def counted_hostile_loop(
    requests: list[Request], stop: asyncio.Event, answers: dict[str, int], timeout_s: float
) -> None:
    """The hostile client of `hostile_loop`, counting its answers by kind."""
    while not stop.is_set():
        for request in requests:
            if stop.is_set():
                break
            try:
                _, body = await send(request, timeout_s)
                kind = (
                    "rate limited"
                    if b"RATE_LIMITED" in body
                    else "refused"
                    if b'"errors"' in body and b'"data"' not in body
                    else "answered"
                )
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                kind = "failed"
            answers[kind] = answers.get(kind, 0) + 1


async def attack_as_deployed(
    context: BenchContext,
    runner: Runner,
    results: dict[str, dict[str, list[Outcome]]],
    *,
    seconds: float,
    burst_seconds: float,
) -> dict[str, Any]:
    """Quiet paced reads, then the same during a sustained attack, on a gateway with the
    account limits as deployed; both p99s, the ratio and the attacker's answers."""
    default = Settings.model_fields["graphql_cost_per_second"].default
    url = await asyncio.to_thread(
        context.stack.gateway, env={"TASKSTREAM_GRAPHQL_COST_PER_SECOND": str(default)}
    )
    try:
        readers = await reader_accounts(url, DEPLOYED_READERS, DEPLOYED_TASKS)
        read = functools.partial(
            paced_reads,
            url,
            readers,
            seconds=seconds,
            per_second=DEPLOYED_READS_PER_SECOND,
            timeout_s=runner.timeout_s,
        )
        await read()  # warm: connections, plans, caches
        quiet, quiet_failures = await read()
        hostile = hostile_requests(runner, results, url)
        stop = asyncio.Event()
        burst: dict[str, int] = {}
        attacker = asyncio.create_task(counted_hostile_loop(hostile, stop, burst, runner.timeout_s))
        try:
            await asyncio.sleep(burst_seconds)
            during = dict(burst)
            attacked, attacked_failures = await read()
        finally:
            stop.set()
            await attacker
    finally:
        server = context.stack.by_url.get(url)
        if server is not None:
            context.stack.stop(server)
    return {
        **attack_summary(quiet, attacked),
        "failed_reads": {"quiet": quiet_failures, "under_attack": attacked_failures},
        "readers": len(readers),
        "reads_per_second_each": DEPLOYED_READS_PER_SECOND,
        "cost_points_per_second": default,
        "burst_seconds": burst_seconds,
        "hostile_request_kinds": len(hostile),
        "hostile_answers_during_burst": during,
        "hostile_answers_while_measured": {
            kind: count - during.get(kind, 0) for kind, count in burst.items()
        },
    }


# --- the benchmark --------------------------------------------------------------------------


def _max_tag_names() -> int:
    value = os.environ.get("TASKSTREAM_BENCH_ABUSE_MAX_TAG_NAMES", "")
    return int(value) if value.isdigit() else DEFAULT_MAX_TAG_NAMES


async def run(context: BenchContext) -> dict[str, Any]:
    """Every class's ladders, then the ordinary p99 quiet and under attack."""
    assert urlsplit(context.gateway_url).hostname in ("127.0.0.1", "localhost")
    quick = context.quick
    timeout_s = 10.0 if quick else 30.0
    budget_s = 180.0 if quick else 420.0
    max_tag_names = _max_tag_names()
    began = time.perf_counter()
    load_before = os.getloadavg()
    context.log("  adding the abuse rows (long notes, a 300-letter word, the probe rule)")
    setup = await add_rows(context.stack.url, long_notes=50 if quick else 200)
    dataset = context.dataset
    tokens = {
        "page": context.token(dataset.page_user),
        "search": context.token(dataset.search_user),
        "notes": context.token(setup.notes_user),
        "longword": context.token(setup.longword_user),
    }
    watch = await PostgresWatch.open(context.stack.url)
    target = Target(context)
    runner = Runner(
        target=target,
        watch=watch,
        setup=setup,
        tokens=tokens,
        timeout_s=timeout_s,
        recover_s=60.0 if quick else 120.0,
        deadline=began + budget_s,
        log=context.log,
        probes=probes(max_tag_names),
    )
    results: dict[str, dict[str, list[Outcome]]] = {}
    try:
        for probe in runner.probes:
            outcomes = await runner.climb(probe)
            results.setdefault(probe.klass, {})[probe.name] = outcomes
        hostile = hostile_requests(runner, results)
        count, seconds = (60, 30.0) if quick else (300, 60.0)
        context.log(f"  ordinary page reads: {count} quiet, then {count} under attack")
        attack = await under_attack(
            runner, tokens["page"], hostile, count=count, clients=2, seconds=seconds
        )
        attack["after_the_attack"] = await runner.recover()
        context.log(
            f"  the same as deployed: {DEPLOYED_READERS} readers of their own, "
            "the account limits on"
        )
        deployed = await attack_as_deployed(
            context,
            runner,
            results,
            seconds=10.0 if quick else 20.0,
            burst_seconds=10.0 if quick else 30.0,
        )
    finally:
        await watch.close()
    notes = {probe.name: probe.note for probe in runner.probes}
    classes = {
        klass: {
            "summary": class_summary(by_probe),
            "probes": {
                name: {
                    "note": notes.get(name, ""),
                    "largest_accepted": asdict(best) if (best := largest_accepted(runs)) else None,
                    "refused": refusals(runs),
                    "ladder": [asdict(o) for o in runs],
                }
                for name, runs in by_probe.items()
            },
        }
        for klass, by_probe in results.items()
    }
    return {
        "path": "HTTP to the real gateway, one hostile request at a time, then page reads",
        "client_timeout_s": timeout_s,
        "memory_guard_mb": MEMORY_GUARD_BYTES // MB,
        "max_tag_names": max_tag_names,
        "long_note_tasks": setup.long_notes,
        "postgres_memory": "peak VmRSS (and VmHWM) of any PostgreSQL backend during the request"
        if watch.postmaster is not None
        else "not measurable: PostgreSQL is not a local process",
        "gateway_restarts": target.restarts,
        "seconds": round(time.perf_counter() - began, 1),
        # Wall times on a shared machine stretch with its load; CPU times much less so.
        "load_average_1_5_15": {
            "before": [round(v, 1) for v in load_before],
            "after": [round(v, 1) for v in os.getloadavg()],
        },
        "classes": classes,
        "attack": attack,
        "attack_as_deployed": deployed,
        "comparisons": comparisons(classes, attack, deployed),
    }


def comparisons(
    classes: dict[str, Any], attack: dict[str, Any], deployed: dict[str, Any]
) -> list[dict[str, Any]]:
    """Report rows: each class's worst accepted request against the goals, and the p99s."""
    rows = []
    for klass, record in classes.items():
        worst = record["summary"]["most_expensive_accepted"]
        wall = worst["wall_ms"] if worst else 0.0
        label = f"{klass}: most expensive accepted request" + (
            f" ({worst['probe']}, size {worst['size']}"
            + (", cut off by the statement timeout)" if worst["status"] == "cut off" else ")")
            if worst
            else " (none accepted)"
        )
        rows.append(
            comparison(
                f"{label}: server time",
                value=wall,
                unit="ms",
                peer="the goal",
                peer_value=GOAL_SECONDS * 1000,
                goal=f"≤ {GOAL_SECONDS:.0f} s",
                met=wall <= GOAL_SECONDS * 1000,
            )
        )
        memory = record["summary"]["peak_postgres_rss_mb"]
        if memory is not None:
            rows.append(
                comparison(
                    f"{klass}: peak PostgreSQL backend RSS of any accepted request",
                    value=memory,
                    unit="MB",
                    peer="the goal",
                    peer_value=GOAL_MB,
                    goal=f"≤ {GOAL_MB:.0f} MB",
                    met=memory <= GOAL_MB,
                )
            )
    figures = {
        "tasks(first: 50) p99 while one client sends hostile requests": attack,
        "tasks(first: 50) p99 of users on their own accounts while one client sends "
        "hostile requests, account limits as deployed": deployed,
    }
    for figure, reads in figures.items():
        rows.append(
            comparison(
                figure,
                value=reads["under_attack"]["p99_ms"],
                unit="ms",
                peer="same reads, quiet",
                peer_value=reads["quiet"]["p99_ms"],
                goal=f"≤ {GOAL_RATIO:.0f}x quiet",
                met=bool(reads["within_goal"]),
            )
        )
    return rows


# --- before / after -------------------------------------------------------------------------


def _class_cell(record: dict[str, Any] | None) -> str:
    if record is None:
        return "not measured"
    summary = record["summary"]
    worst = summary["most_expensive_accepted"]
    verdict = "within the goals" if summary["within_goals"] else "**over the goals**"
    if worst is None:
        return f"nothing accepted ({verdict})"
    memory = summary["peak_postgres_rss_mb"]
    cpu = [worst.get("gateway_cpu_ms"), worst.get("postgres_cpu_ms")]
    cpu_text = " + ".join(f"{(v or 0) / 1000:.1f}" for v in cpu)
    memory_text = f", {memory:.0f} MB" if memory is not None else ""
    return (
        f"{worst['probe']}, size {worst['size']:,}: {worst['wall_ms'] / 1000:.1f} s "
        f"(CPU {cpu_text} s){memory_text}; {verdict}"
    )


def _attack_cell(attack: dict[str, Any] | None) -> str:
    if attack is None:
        return "not measured"
    failed = attack.get("failed_reads", {}).get("under_attack", 0)
    at_least = "≥ " if failed else ""
    verdict = "within the goal" if attack["within_goal"] else "**over the goal**"
    return (
        f"{attack['quiet']['p99_ms']:.0f} ms quiet, {at_least}"
        f"{attack['under_attack']['p99_ms']:.0f} ms under attack "
        f"({at_least}{attack['p99_ratio']}x; {verdict})"
    )


def compare_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Markdown rows: each class's most expensive accepted request before and after."""
    lines = [
        "| class | before | after |",
        "|---|---|---|",
    ]
    classes = list(before.get("classes", {}))
    classes += [name for name in after.get("classes", {}) if name not in classes]
    for name in classes:
        was = before.get("classes", {}).get(name)
        now = after.get("classes", {}).get(name)
        lines.append(f"| {name} | {_class_cell(was)} | {_class_cell(now)} |")
    lines.append(
        f"| ordinary `tasks(first: 50)` p99 | {_attack_cell(before.get('attack'))} "
        f"| {_attack_cell(after.get('attack'))} |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the before/after table of two result files (the benchmark runs in bench.run)."""
    import argparse
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(
        description="Before/after table of two bench/results/abuse*.json files "
        "(run the benchmark itself with: python -m bench.run --only abuse)"
    )
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    before = json.loads(args.before.read_text())
    after = json.loads(args.after.read_text())
    sys.stdout.write("\n".join(compare_table(before, after)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
