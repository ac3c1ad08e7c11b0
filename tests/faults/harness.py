"""Fault injection on the `stack up` topology: a bounded load, a fault, and the invariants.

`Load` makes mutations at a fixed rate for a fixed time through the stack's proxy, as clients
would: recurring tasks created then completed, and tasks with a reminder due a few seconds ahead.
Every mutation has a unique title, so what it did can be found in the database whether or not
its answer reached the client (a mutation cut off by a fault may still have committed).

`Ledger.check` compares what the database, the audit trail and Kafka show with what every
committed mutation must have caused, exactly once:
- a completed recurring task: one next instance (instance 2 of its series);
- a task with a reminder: the reminder SENT, one IN_APP notification stored no sooner than its
  remindAt (never early), and one reminder.due event on Kafka;
- every mutation and every notification sent: one audit entry, and each user's chain verifies;
- both outboxes drained, every consumer group caught up, nothing in a dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.composition import WORKERS
from contracts.events import ReminderDue
from devstack.faultproxy import FaultProxy
from devstack.stack import STACK_TOPICS, Stack
from gateway_core.persistence.tables import outbox as gateway_outbox
from taskstream.persistence.db import create_engine
from taskstream.persistence.outbox import lease_key

# Who consumes what (Dapr's consumer group is the app id).
CONSUMER_GROUPS = {
    "gateway": ("task-events", "notifications"),
    "recurrence": ("task-events",),
    # `reminders` is published for others to hear; the notifications service fires in-process.
    "notifications": ("task-events",),
    "audit": ("task-events", "notifications"),
}
DLQ_TOPICS = tuple(f"{topic}.dlq" for topic in STACK_TOPICS)
REMINDERS_TOPIC = ReminderDue.TOPIC
REMINDER_DUE_TYPE = ReminderDue.TYPE
REQUEST_TIMEOUT_SECONDS = 15.0
# Longer than a delivery's retries take to reach the dead-letter topic (Dapr: about 150 s),
# overridable to fail fast while investigating.
SETTLE_SECONDS = float(os.environ.get("TASKSTREAM_FAULTS_SETTLE", "170"))
REMINDER_LEAD_SECONDS = 3.0
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id seriesId } }"
COMPLETE = "mutation($id: ID!) { completeTask(id: $id) { id status } }"
# Every tally of this run, for the summary at the end.
RESULTS: list[Tally] = []

# Test-only breaks, to show that the invariants bite (docs/reliability.md, "The invariants
# bite"). Read here and nowhere else: no code under test knows of them.
# TASKSTREAM_FAULTS_BREAK_DEDUP=audit,notifications: drop each consumer's processed_events
# primary key before the fault, so a redelivered event is applied again.
BREAK_DEDUP = [n for n in os.environ.get("TASKSTREAM_FAULTS_BREAK_DEDUP", "").split(",") if n]
# TASKSTREAM_FAULTS_BREAK_SUPERVISION=1: what `crashed` kills is held out of supervision until
# the check is over, so it stays dead (released afterwards, for the stack's own shutdown).
BREAK_SUPERVISION = os.environ.get("TASKSTREAM_FAULTS_BREAK_SUPERVISION") == "1"
# TASKSTREAM_FAULTS_BREAK_HEAL=1: a link fault (partition, delay, resets), a full disk or a
# clock jump is undone only after the check, not when the scenario says.
BREAK_HEAL = os.environ.get("TASKSTREAM_FAULTS_BREAK_HEAL") == "1"
# TASKSTREAM_FAULTS_BREAK_IN_SERVICE=<break>: one function inside the services the break names
# is replaced at their start-up (tests/faults/breaks/: a sitecustomize on their PYTHONPATH, for
# those processes only); the catalogue there says what each break turns off.
BREAK_IN_SERVICE = os.environ.get("TASKSTREAM_FAULTS_BREAK_IN_SERVICE", "")
BREAKS_DIR = Path(__file__).with_name("breaks")
# How long a broken service may take to show its patch in its log once the stack is up.
BREAK_SEEN_SECONDS = 30.0
# What a break postponed until after the check (run then, newest first).
UNDO_AFTER_CHECK: list[Callable[[], Awaitable[None]]] = []


@dataclass
class Operation:
    """One mutation the load sent, and whether its answer came back."""

    kind: str  # "create-recurring", "complete", "create-reminder"
    title: str
    user: str
    acked: bool = False
    # What the client was told when the mutation failed (code: message), if it was told.
    error: str | None = None


@dataclass
class User:
    """A signed-up user of the load."""

    id: str
    token: str


# Links the single-broker stack routes through its fault proxies (transparent until a fault).
ROUTES = {"gateway-1": ("postgres",), "notifications": ("kafka",), "audit": ("app",)}


# The size of PostgreSQL's own filesystem in the disk-full scenario (its data directory needs
# about 60 MB at start and its WAL grows by 16 MB segments).
SMALL_DISK_MB = 256
# The `stack` fixture's parameter for that topology (others are a broker count).
SMALL_DISK = "small-disk"


# libfaketime (Debian's libfaketime), preloaded into one service to move its clock alone.
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# The `stack` fixture's parameter for the stack whose notifications service has a faked clock.
FAKED_CLOCK = "faked-clock"


def faked_clock_env(offset_file: Path) -> dict[str, str]:
    """The environment that gives a process the wall clock `offset_file` says ("+1h", "+0"),
    read again at every call; its monotonic clock stays true, as after an NTP step."""
    return {
        "LD_PRELOAD": str(FAKETIME_LIBRARY),
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }


@contextlib.asynccontextmanager
async def running_stack(
    brokers: int = 1, *, postgres_disk_mb: int | None = None, faked_clock: bool = False
) -> AsyncIterator[Stack]:
    """A stack in a fresh directory of its own, removed afterwards; with `postgres_disk_mb`,
    PostgreSQL's data directory is a filesystem of its own of that size (a loop-mounted ext4
    image: root only)."""
    # Not pytest's tmp_path: PostgreSQL runs as another account, which must reach the directory.
    data = Path(tempfile.mkdtemp(prefix="taskstream-faults-"))
    mounted: Path | None = None
    if postgres_disk_mb is not None:
        mounted = data / "data" / "postgres"
        mounted.mkdir(parents=True)
        # A real filesystem on a loop device (fsync means what it says, unlike on a tmpfs), no
        # blocks reserved for root, and without lost+found: initdb wants an empty directory.
        image = data / "postgres.img"
        with image.open("wb") as file:
            file.truncate(postgres_disk_mb << 20)
        await _run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True)
        await _run(["mount", "-o", "loop", str(image), str(mounted)], check=True)
        (mounted / "lost+found").rmdir()
    service_env: dict[str, dict[str, str]] = {}
    if faked_clock:
        clock = data / "notifications-clock"
        clock.write_text("+0\n")
        service_env["notifications"] = faked_clock_env(clock)
    for name in broken_services():
        service_env.setdefault(name, {}).update(broken_env())
    try:
        async with Stack(
            data / "data",
            host="127.0.0.1",
            port=0,
            brokers=brokers,
            workers=sorted(WORKERS),
            # A proxied link to Kafka needs the single broker (its own advertised listener).
            routes=ROUTES if brokers == 1 else None,
            service_env=service_env,
        ) as running:
            await patched(running)
            yield running
    finally:
        if mounted is not None:
            await _run(["umount", "-l", str(mounted)], check=False)
        # TASKSTREAM_FAULTS_KEEP=1 keeps the logs and data for a post-mortem.
        if os.environ.get("TASKSTREAM_FAULTS_KEEP") != "1":
            shutil.rmtree(data, ignore_errors=True)


def broken_services() -> tuple[str, ...]:
    """The services TASKSTREAM_FAULTS_BREAK_IN_SERVICE's break names (none without it)."""
    if not BREAK_IN_SERVICE:
        return ()
    from tests.faults.breaks.catalogue import BREAKS

    if BREAK_IN_SERVICE not in BREAKS:
        raise ValueError(f"unknown break {BREAK_IN_SERVICE!r}; known: {', '.join(sorted(BREAKS))}")
    return BREAKS[BREAK_IN_SERVICE].services


def broken_env() -> dict[str, str]:
    """What a broken service gets over the stack's environment: the start-up hook's directory
    first on its path, and the break's name."""
    path = [str(BREAKS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path), "TASKSTREAM_FAULTS_BROKEN": BREAK_IN_SERVICE}


async def patched(stack: Stack) -> None:
    """Wait until every broken service's log shows its patch in place (the hook ran in that
    service's own interpreter and environment); fail rather than run a scenario unbroken."""
    from tests.faults.breaks.catalogue import MARKER

    line = f"{MARKER} {BREAK_IN_SERVICE} patched "
    deadline = time.monotonic() + BREAK_SEEN_SECONDS
    for name in broken_services():
        log_path = stack.service(name).log_path
        while line not in (log_path.read_text(errors="replace") if log_path.exists() else ""):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never showed '{line}' in {log_path}")
            await asyncio.sleep(0.5)


async def _run(command: list[str], *, check: bool) -> None:
    """Run a fixed system command (mount, umount) off the event loop."""
    await asyncio.to_thread(subprocess.run, command, check=check, capture_output=True)


async def sign_up(url: str, count: int) -> list[User]:
    """`count` fresh accounts."""
    users = []
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        for _ in range(count):
            response = await http.post(
                "/graphql",
                json={
                    "query": "mutation($e: String!, $p: String!) { signUp(email: $e, "
                    "password: $p) { token user { id } } }",
                    "variables": {"e": f"fault-{uuid.uuid4().hex[:10]}@example.com", "p": "x" * 12},
                },
            )
            data = response.json()["data"]["signUp"]
            users.append(User(data["user"]["id"], data["token"]))
    return users


class Load:
    """Mutations at a fixed rate for a fixed time; every one recorded in `operations`."""

    def __init__(self, url: str, users: list[User], label: str, *, rate: float) -> None:
        self.url = url
        self.users = users
        self.label = label
        self.rate = rate
        self.operations: list[Operation] = []
        self.latencies: list[float] = []
        # What the clients were told when a mutation failed (code and message, or the failure).
        self.errors: Counter[str] = Counter()
        # The same by `extensions.code` alone (or the HTTP status, or the transport's failure).
        self.codes: Counter[str] = Counter()

    async def run(self, seconds: float) -> None:
        """Start one scenario every 1/rate s for `seconds`; wait for those started to end."""
        # One connection per request: a pooled connection stays pinned to the replica the
        # proxy gave it, and would outlive that replica.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=self.url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
        ) as http:
            started = time.monotonic()
            scenarios = []
            for n in itertools.count():
                due = started + n / self.rate
                if due - started >= seconds:
                    break
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                user = self.users[n % len(self.users)]
                scenario = self._recurring if n % 2 == 0 else self._reminder
                scenarios.append(asyncio.create_task(scenario(http, user, n)))
            await asyncio.gather(*scenarios)

    async def _recurring(self, http: httpx.AsyncClient, user: User, n: int) -> None:
        title = f"{self.label}-recurring-{n}"
        created = await self._send(
            http,
            user,
            Operation("create-recurring", title, user.id),
            CREATE,
            {
                "i": {
                    "title": title,
                    "dueAt": "2031-01-06T09:00:00Z",
                    "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC"},
                }
            },
        )
        if created is not None:
            await self._send(
                http,
                user,
                Operation("complete", title, user.id),
                COMPLETE,
                {"id": created["createTask"]["id"]},
            )

    async def _reminder(self, http: httpx.AsyncClient, user: User, n: int) -> None:
        title = f"{self.label}-reminder-{n}"
        remind_at = datetime.now(UTC) + timedelta(seconds=REMINDER_LEAD_SECONDS)
        await self._send(
            http,
            user,
            Operation("create-reminder", title, user.id),
            CREATE,
            {"i": {"title": title, "reminders": [{"remindAt": remind_at.isoformat()}]}},
        )

    async def _send(
        self,
        http: httpx.AsyncClient,
        user: User,
        operation: Operation,
        query: str,
        variables: dict[str, Any],
    ) -> dict[str, Any] | None:
        self.operations.append(operation)
        began = time.monotonic()
        try:
            response = await http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {user.token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            self.errors[f"{type(error).__name__}"] += 1
            self.codes[f"{type(error).__name__}"] += 1
            return None
        if response.status_code != 200 or body.get("errors") or not body.get("data"):
            first = (body.get("errors") or [{}])[0] if isinstance(body, dict) else {}
            code = (first.get("extensions") or {}).get("code", response.status_code)
            operation.error = f"{code}: {str(first.get('message', ''))[:120]}"
            self.errors[operation.error] += 1
            self.codes[str(code)] += 1
            return None
        operation.acked = True
        self.latencies.append(time.monotonic() - began)
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class Tally:
    """What one fault's load sent and what came of it."""

    fault: str
    sent: int = 0
    acked: int = 0
    committed: int = 0
    expected_effects: int = 0
    effects: int = 0
    duplicates: int = 0
    losses: int = 0
    acked_not_committed: int = 0
    problems: list[str] = field(default_factory=list)
    seconds_of_load: float = 0.0
    rate: float = 0.0
    recovery_seconds: float = 0.0
    latency_p50_ms: float = 0.0
    latency_max_ms: float = 0.0
    window: int | None = None
    # Connections the fault cut on its link (resets).
    cut: int | None = None
    client_errors: dict[str, int] = field(default_factory=dict)
    # Every failed mutation's code (UNAVAILABLE, TIMEOUT, ...), however many kinds there were.
    client_codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The tally as JSON-ready data."""
        return asdict(self)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing duplicated, nothing stuck."""
        return not self.problems and self.losses == 0 and self.duplicates == 0


def _count(found: Counter[Any], key: Any, tally: Tally, what: str) -> None:
    """Add one expected effect, seen `found[key]` times."""
    seen = found.get(key, 0)
    tally.expected_effects += 1
    tally.effects += seen
    if seen == 0:
        tally.losses += 1
        tally.problems.append(f"lost: {what}")
    elif seen > 1:
        tally.duplicates += seen - 1
        tally.problems.append(f"{seen}x: {what}")


class Ledger:
    """Reads the stack's database and Kafka to check the invariants."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.engine: AsyncEngine = create_engine(stack.database_url, pool_size=4)
        # Outbox rows committed and unpublished when a fault struck (where a fault measures it).
        self.window: int | None = None
        # Records a replay fault published again.
        self.replayed = 0
        # Connections a link fault cut (where a fault measures it).
        self.cut: int | None = None
        # The `reminders` topic as read so far: the distinct reminder.due event ids of each
        # reminder, and where the reading stopped (each check reads on from there).
        self.due_events: dict[str, set[str]] = {}
        self.due_read: dict[TopicPartition, int] = {}

    async def close(self) -> None:
        """Close the database pool."""
        await self.engine.dispose()

    async def check(self, load: Load, fault: str) -> Tally:
        """The tally of one load: each committed mutation's effects counted, and what is stuck."""
        tally = Tally(fault, sent=len(load.operations))
        tally.acked = sum(op.acked for op in load.operations)
        titles = list({op.title for op in load.operations})
        async with self.engine.connect() as db:
            tasks = (
                await db.execute(
                    text(
                        "SELECT id, title, status, series_id, instance_number FROM gateway.tasks "
                        "WHERE title = ANY(:titles)"
                    ),
                    {"titles": titles},
                )
            ).all()
            task_ids = [row.id for row in tasks]
            audit = Counter(
                (row.task_id, row.action)
                for row in await db.execute(
                    text("SELECT task_id, action FROM audit.entries WHERE task_id = ANY(:ids)"),
                    {"ids": task_ids},
                )
            )
            reminders = (
                await db.execute(
                    text(
                        "SELECT id, task_id, state, remind_at FROM gateway.reminders "
                        "WHERE task_id = ANY(:ids)"
                    ),
                    {"ids": task_ids},
                )
            ).all()
            stored = (
                await db.execute(
                    text(
                        "SELECT reminder_id, created_at FROM notifications.notifications "
                        "WHERE task_id = ANY(:ids) AND channel = 'IN_APP'"
                    ),
                    {"ids": task_ids},
                )
            ).all()
            sent = Counter(row.reminder_id for row in stored)
            unpublished = {
                schema: await db.scalar(
                    text(f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL")
                )
                for schema in ("gateway", "notifications")
            }
        # Published for others (no service of the stack consumes it), so read here: one
        # reminder.due per firing (a republished copy has the same id and counts once).
        due = Counter({key: len(ids) for key, ids in (await self.reminders_due()).items()})
        first: dict[str, list[Any]] = {}
        instances: Counter[Any] = Counter()
        for row in tasks:
            instances[(row.series_id, row.instance_number)] += 1
            if row.instance_number == 1:
                first.setdefault(row.title, []).append(row)
        next_instances = {
            row.series_id: row for row in tasks if row.instance_number == 2 and row.series_id
        }
        by_task: dict[Any, list[Any]] = {}
        for reminder in reminders:
            by_task.setdefault(reminder.task_id, []).append(reminder)
        for op in load.operations:
            rows = first.get(op.title, [])
            if len(rows) > 1 and op.kind != "complete":
                tally.duplicates += len(rows) - 1
                tally.problems.append(f"{len(rows)} tasks titled {op.title}")
            task = rows[0] if rows else None
            committed = task is not None and (op.kind != "complete" or task.status == "DONE")
            if not committed:
                if op.acked:
                    tally.acked_not_committed += 1
                    tally.losses += 1
                    tally.problems.append(
                        f"acknowledged but not in the database: {op.kind} {op.title}"
                    )
                continue
            assert task is not None
            tally.committed += 1
            if op.error is not None and "nothing was changed" in op.error:
                tally.problems.append(f"told '{op.error}' but committed: {op.kind} {op.title}")
            if op.kind == "create-recurring":
                _count(audit, (task.id, "task.created"), tally, f"audit of {op.title} created")
            elif op.kind == "complete":
                _count(audit, (task.id, "task.completed"), tally, f"audit of {op.title} done")
                _count(instances, (task.series_id, 2), tally, f"next instance of {op.title}")
                following = next_instances.get(task.series_id)
                if following is not None:
                    _count(audit, (following.id, "task.created"), tally, f"audit of {op.title} #2")
            else:
                _count(audit, (task.id, "task.created"), tally, f"audit of {op.title} created")
                if len(by_task.get(task.id, [])) != 1:
                    tally.losses += 1
                    tally.problems.append(f"{op.title} has no reminder")
                for reminder in by_task.get(task.id, []):
                    _count(sent, reminder.id, tally, f"notification of {op.title}")
                    _count(due, str(reminder.id), tally, f"reminder.due of {op.title}")
                    if reminder.state != "SENT":
                        tally.losses += 1
                        tally.problems.append(f"reminder of {op.title} is {reminder.state}")
                    _count(
                        audit, (task.id, "notification.sent"), tally, f"audit of {op.title} sent"
                    )
        # Never early: a notification is stored (by PostgreSQL's clock, as remindAt is read)
        # no sooner than its reminder was due, whatever the service's own clock says.
        due_at = {reminder.id: reminder.remind_at for reminder in reminders}
        for row in stored:
            if row.reminder_id in due_at and row.created_at < due_at[row.reminder_id]:
                early = (due_at[row.reminder_id] - row.created_at).total_seconds()
                tally.problems.append(f"fired {early:.1f} s early: reminder {row.reminder_id}")
        for schema, count in unpublished.items():
            if count:
                tally.problems.append(f"{count} unpublished rows in {schema}.outbox")
        tally.problems.extend(await self.kafka_problems())
        return tally

    async def reminders_due(self) -> dict[str, set[str]]:
        """The distinct reminder.due event ids per reminder id, read on to the topic's end."""
        brokers = self.stack.kafka.bootstrap_servers
        admin = AIOKafkaAdminClient(bootstrap_servers=brokers, request_timeout_ms=5000)
        reader = AIOKafkaConsumer(
            bootstrap_servers=brokers, enable_auto_commit=False, request_timeout_ms=5000
        )
        try:
            # Inside the try: with the broker down, a start fails and both must still close.
            await admin.start()
            await reader.start()
            described = await admin.describe_topics([REMINDERS_TOPIC])
            partitions = [
                TopicPartition(REMINDERS_TOPIC, partition["partition"])
                for partition in described[0]["partitions"]
            ]
            if not partitions:
                raise AssertionError(f"topic {REMINDERS_TOPIC} has no partitions")
            reader.assign(partitions)
            ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
            for tp, end in ends.items():
                reader.seek(tp, self.due_read.get(tp, 0))
                while await reader.position(tp) < end:
                    batch = await reader.getmany(tp, timeout_ms=1000)
                    for record in batch.get(tp, []):
                        self._note_due(record.value)
                self.due_read[tp] = end
        finally:
            await reader.stop()
            await admin.close()
        return self.due_events

    def _note_due(self, value: bytes | None) -> None:
        """Record one record of the `reminders` topic if it is a reminder.due event."""
        try:
            event = json.loads(value or b"")
        except ValueError:
            return  # not an event of ours
        if isinstance(event, dict) and event.get("type") == REMINDER_DUE_TYPE:
            # The wire's field names (camelCase); a malformed event fails the check loudly.
            reminder = str(event["data"]["reminderId"])
            self.due_events.setdefault(reminder, set()).add(str(event["id"]))

    async def kafka_problems(self) -> list[str]:
        """Consumer groups behind their topics, and anything in a dead-letter topic."""
        brokers = self.stack.kafka.bootstrap_servers
        problems = []
        admin = AIOKafkaAdminClient(bootstrap_servers=brokers, request_timeout_ms=5000)
        reader = AIOKafkaConsumer(bootstrap_servers=brokers, request_timeout_ms=5000)
        try:
            # Inside the try: with the broker down, a start fails and both must still close.
            await admin.start()
            await reader.start()
            described = await admin.describe_topics([*STACK_TOPICS, *DLQ_TOPICS])
            partitions = [
                TopicPartition(topic["topic"], partition["partition"])
                for topic in described
                for partition in topic["partitions"]
            ]
            if len(partitions) < len(STACK_TOPICS) + len(DLQ_TOPICS):
                problems.append(f"topics not all found: {sorted(map(str, partitions))}")
            ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
            dead = sum(offset for tp, offset in ends.items() if tp.topic in DLQ_TOPICS)
            if dead:
                problems.append(f"{dead} messages in dead-letter topics")
            for group, topics in CONSUMER_GROUPS.items():
                committed = await admin.list_consumer_group_offsets(group)
                behind = sum(
                    end - (committed[tp].offset if tp in committed else 0)
                    for tp, end in ends.items()
                    if tp.topic in topics
                )
                if behind:
                    problems.append(f"consumer group {group} is {behind} messages behind")
        finally:
            await reader.stop()
            await admin.close()
        return problems

    async def settle(self, load: Load, fault: str, *, seconds: float = SETTLE_SECONDS) -> Tally:
        """Check until every invariant holds or `seconds` pass; the last tally either way."""
        started = time.monotonic()
        while True:
            try:
                tally = await self.check(load, fault)
            except Exception as error:  # the database or Kafka may still be coming back
                tally = Tally(
                    fault,
                    sent=len(load.operations),
                    acked=sum(op.acked for op in load.operations),
                    problems=[f"check failed: {type(error).__name__}: {error}"],
                )
            if tally.ok or time.monotonic() - started > seconds:
                tally.recovery_seconds = round(time.monotonic() - started, 1)
                return tally
            await asyncio.sleep(1.0)

    async def outbox_leader(self) -> str:
        """The gateway replica whose relay holds the outbox lease (found through PostgreSQL)."""
        async with self.engine.connect() as db:
            port = await db.scalar(
                text(
                    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key"
                ),
                {"key": lease_key(gateway_outbox)},
            )
        for service in self.stack.services:
            if service.app_id != "gateway" or service.process is None:
                continue
            process = psutil.Process(service.process.pid)
            for each in (process, *process.children(recursive=True)):
                if any(c.laddr and c.laddr.port == port for c in each.net_connections("tcp")):
                    return service.name
        # A replica routed through a fault proxy reaches PostgreSQL from the proxy's sockets.
        for name, link in self.stack.links.items():
            if name.endswith("->postgres") and port in link.upstream_ports():
                return name.split("->")[0]
        raise AssertionError(f"no gateway replica holds the outbox lease (port {port})")

    async def drop_dedup(self, consumer: str) -> None:
        """Switch off `consumer`'s deduplication: drop its processed_events primary key (the
        invariants must then catch the events it applies twice)."""
        async with self.engine.begin() as db:
            name = await db.scalar(
                text(
                    "SELECT conname FROM pg_constraint WHERE contype = 'p' "
                    "AND conrelid = CAST(:table AS regclass)"
                ),
                {"table": f"{consumer}.processed_events"},
            )
            if name:
                await db.execute(
                    text(f'ALTER TABLE {consumer}.processed_events DROP CONSTRAINT "{name}"')
                )

    async def unpublished(self) -> int:
        """Rows of the gateway's outbox not yet published."""
        async with self.engine.connect() as db:
            count = await db.scalar(
                text("SELECT count(*) FROM gateway.outbox WHERE published_at IS NULL")
            )
        return int(count or 0)

    async def verify_chains(self, url: str, users: list[User]) -> list[str]:
        """Users whose audit chain does not verify (through the API, as a user would ask)."""
        failed = []
        async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            for user in users:
                try:
                    response = await http.post(
                        "/graphql",
                        json={"query": "{ verifyAuditLog { ok } }"},
                        headers={"Authorization": f"Bearer {user.token}"},
                    )
                except httpx.HTTPError as error:
                    failed.append(f"audit chain of {user.id} unread: {type(error).__name__}")
                    continue
                try:
                    answer = (response.json().get("data") or {}).get("verifyAuditLog") or {}
                except ValueError:
                    answer = {}
                if answer.get("ok") is not True:
                    failed.append(f"audit chain of {user.id} does not verify: {response.text}")
        return failed


async def inject_under_load(
    stack: Stack,
    ledger: Ledger,
    users: list[User],
    fault: str,
    inject: Fault,
    *,
    seconds: float,
    rate: float,
) -> Tally:
    """Run the load, inject the fault while it runs, then wait for every invariant to hold."""
    for consumer in BREAK_DEDUP:
        await ledger.drop_dedup(consumer)
    load = Load(stack.url, users, f"{fault}-{uuid.uuid4().hex[:6]}", rate=rate)
    ledger.window = None
    ledger.cut = None
    running = asyncio.create_task(load.run(seconds))
    try:
        await inject(stack, ledger)
    finally:
        with contextlib.suppress(Exception):
            await running
    try:
        tally = await ledger.settle(load, fault)
        tally.problems.extend(await ledger.verify_chains(stack.url, users))
    finally:
        while UNDO_AFTER_CHECK:
            await UNDO_AFTER_CHECK.pop()()
    tally.seconds_of_load = seconds
    tally.rate = rate
    tally.window = ledger.window
    tally.cut = ledger.cut
    tally.client_errors = dict(load.errors.most_common(5))
    tally.client_codes = dict(load.codes)
    if load.latencies:
        ordered = sorted(load.latencies)
        tally.latency_p50_ms = round(1000 * ordered[len(ordered) // 2])
        tally.latency_max_ms = round(1000 * ordered[-1])
    RESULTS.append(tally)
    return tally


# --- the faults: each is injected, then undone only by restarting what it stopped ---------


Fault = Callable[[Stack, "Ledger"], Awaitable[None]]


def killed(name: str, *, sidecar: bool = False) -> Fault:
    """kill -9 a service (or the daprd beside it) mid-stream, restart it 4 s later."""

    async def fault(stack: Stack, _: Ledger) -> None:
        await asyncio.sleep(3)
        (stack.kill_sidecar if sidecar else stack.kill)(name)
        await asyncio.sleep(4)
        await (stack.restart_sidecar if sidecar else stack.restart)(name)

    return fault


async def kafka_outage(stack: Stack, _: Ledger) -> None:
    """Stop the (single) Kafka broker for 30 s."""
    await asyncio.sleep(3)
    await stack.stop_broker()
    await asyncio.sleep(30)
    await stack.start_broker()


async def restart_postgres(stack: Stack, _: Ledger) -> None:
    """Restart PostgreSQL (a fast shutdown cuts every session)."""
    await asyncio.sleep(3)
    await stack.restart_postgres()


async def kill_outbox_leader(stack: Stack, ledger: Ledger) -> None:
    """kill -9 the gateway replica holding the outbox lease while it has committed, unpublished
    rows; restart it 3 s later. Records how many rows were waiting in `ledger.window`."""
    await asyncio.sleep(3)
    leader = await ledger.outbox_leader()
    process = stack.service(leader).process
    assert process is not None
    # Frozen, the leader keeps its lease while the other replica commits mutations: the rows
    # wait in the outbox, committed and unpublished, when the leader dies.
    os.killpg(process.pid, signal.SIGSTOP)
    await asyncio.sleep(3)
    ledger.window = await ledger.unpublished()
    stack.kill(leader)
    await asyncio.sleep(3)
    await stack.restart(leader)


async def stop_one_then_two_brokers(stack: Stack, _: Ledger) -> None:
    """Of three brokers, stop one, 8 s later a second; 8 s later start both again."""
    await asyncio.sleep(3)
    await stack.stop_broker(2)
    await asyncio.sleep(8)
    await stack.stop_broker(1)
    await asyncio.sleep(8)
    await stack.start_broker(1)
    await stack.start_broker(2)


# Longest a crashed part may take to be restarted by the stack's supervision (a bound, so that
# a supervision that never repairs fails the scenario rather than hanging it).
RECOVERY_BOUND_SECONDS = 120.0


async def healed(stack: Stack, *names: str) -> None:
    """Wait until supervision has restarted each part once more than when called."""
    targets = {name: stack.restarts()[name] + 1 for name in names}
    await asyncio.wait_for(
        asyncio.gather(*(stack.recovered(name, count) for name, count in targets.items())),
        RECOVERY_BOUND_SECONDS,
    )


def crashed(*names: str) -> Fault:
    """kill -9 each named part 3 s into the load; nobody restarts it but the stack itself."""

    async def fault(stack: Stack, _: Ledger) -> None:
        await asyncio.sleep(3)
        if BREAK_SUPERVISION:
            for name in names:
                stack.supervised[name].held = True
                UNDO_AFTER_CHECK.append(_released(stack, name))
        for name in names:
            stack.crash(name)
        if not BREAK_SUPERVISION:
            await healed(stack, *names)

    return fault


def _released(stack: Stack, name: str) -> Callable[[], Awaitable[None]]:
    """Give `name` back to supervision and wait (bounded) until it is restarted."""

    async def release() -> None:
        target = stack.restarts()[name] + 1
        stack.supervised[name].held = False
        await asyncio.wait_for(stack.recovered(name, target), RECOVERY_BOUND_SECONDS)

    return release


async def _later(undo: Callable[[], object]) -> None:
    """Undo a fault (heal a link, free a disk) after the check, as BREAK_HEAL asks."""
    undo()


def _undo(undo: Callable[[], object]) -> None:
    """Undo a fault now, or after the check when BREAK_HEAL is on."""
    if BREAK_HEAL:
        UNDO_AFTER_CHECK.append(lambda: _later(undo))
    else:
        undo()


def partitioned(service: str, dependency: str, seconds: float = 30.0) -> Fault:
    """Cut `service`'s link to `dependency` (no byte either way) 3 s in; heal it `seconds` later."""

    async def fault(stack: Stack, _: Ledger) -> None:
        link = stack.link(service, dependency)
        await asyncio.sleep(3)
        link.partition()
        try:
            await asyncio.sleep(seconds)
        finally:
            _undo(link.heal)

    return fault


def slowed(service: str, dependency: str, delay: float, jitter: float, seconds: float) -> Fault:
    """Hold every chunk on the link `delay` (+ up to `jitter`) s, for `seconds`, 3 s in."""

    async def fault(stack: Stack, _: Ledger) -> None:
        link = stack.link(service, dependency)
        await asyncio.sleep(3)
        link.delay(delay, jitter)
        try:
            await asyncio.sleep(seconds)
        finally:
            _undo(link.heal)

    return fault


def flapping(service: str, dependency: str, every: float, seconds: float) -> Fault:
    """Reset every connection on the link every `every` s for `seconds`: a lossy link, as TCP
    shows one (a connection lost to retransmission timeouts), 3 s in."""
    # The scenario is void if nothing was cut (the link carried no connection).
    return _repeated(
        service, dependency, every, seconds, FaultProxy.drop, "no connection on {} was cut"
    )


def answers_lost(service: str, dependency: str, every: float, seconds: float) -> Fault:
    """Every `every` s for `seconds`, 3 s in: the next answer on the link is thrown away and its
    connection cut (a delivery applied whose sender never hears so)."""
    return _repeated(
        service, dependency, every, seconds, FaultProxy.lose_next_answer, "no answer on {} was lost"
    )


def _repeated(
    service: str,
    dependency: str,
    every: float,
    seconds: float,
    act: Callable[[FaultProxy], object],
    void: str,
) -> Fault:
    """`act` on the link every `every` s for `seconds`, 3 s in; the scenario fails as void
    (`void`, given the link's name) when it cut nothing; with BREAK_HEAL it goes on through the
    check."""

    async def fault(stack: Stack, ledger: Ledger) -> None:
        link = stack.link(service, dependency)
        await asyncio.sleep(3)
        cut_before = link.stats.cut
        for _round in range(int(seconds / every)):
            act(link)
            await asyncio.sleep(every)
        ledger.cut = link.stats.cut - cut_before
        assert ledger.cut > 0, void.format(link.name)
        if BREAK_HEAL:
            going_on = asyncio.create_task(_keep_acting(link, every, act))
            UNDO_AFTER_CHECK.append(lambda: _cancelled(going_on))

    return fault


async def _keep_acting(link: FaultProxy, every: float, act: Callable[[FaultProxy], object]) -> None:
    """`act` on `link` every `every` s until cancelled."""
    while True:
        act(link)
        await asyncio.sleep(every)


async def _cancelled(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def disk_full(stack: Stack, _: Ledger) -> None:
    """Fill PostgreSQL's filesystem 3 s in (a file of zeros to the last byte); free it 15 s
    later. Needs the stack of `running_stack(postgres_disk_mb=...)`."""
    balloon = stack.data_dir / "postgres" / "balloon"
    await asyncio.sleep(3)
    await asyncio.to_thread(_fill, balloon)
    try:
        await asyncio.sleep(15)
    finally:
        _undo(lambda: balloon.unlink(missing_ok=True))


def _fill(path: Path) -> None:
    """Write zeros to `path` until the filesystem is full."""
    chunk = bytes(1 << 20)
    with path.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(chunk)
        except OSError:
            # The last partial megabyte: byte by byte would be slow; 4 KiB blocks are enough.
            with contextlib.suppress(OSError):
                while True:
                    file.write(bytes(4096))


async def replayed(stack: Stack, ledger: Ledger) -> None:
    """8 s in, publish every record of `task-events` so far again, byte for byte (key, value,
    headers): what an at-least-once redelivery of everything looks like to the consumers."""
    await asyncio.sleep(8)
    brokers = stack.kafka.bootstrap_servers
    reader = AIOKafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False)
    writer = AIOKafkaProducer(bootstrap_servers=brokers, acks="all")
    await reader.start()
    await writer.start()
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=brokers, request_timeout_ms=5000)
        await admin.start()
        try:
            described = await admin.describe_topics(["task-events"])
        finally:
            await admin.close()
        partitions = [
            TopicPartition("task-events", partition["partition"])
            for partition in described[0]["partitions"]
        ]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await reader.end_offsets(partitions)
        records: list[Any] = []
        for tp, end in ends.items():
            while await reader.position(tp) < end:
                batch = await reader.getmany(tp, timeout_ms=1000)
                records.extend(batch.get(tp, []))
        for record in records:
            await writer.send_and_wait(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
                partition=record.partition,
            )
        ledger.replayed = len(records)
    finally:
        await writer.stop()
        await reader.stop()


# name, fault, seconds of load: the single-broker suite, in the order the tests run them.
SINGLE_BROKER_FAULTS: list[tuple[str, Fault, float]] = [
    *((f"kill -9 {w}", killed(w), 10.0) for w in ("recurrence", "notifications", "audit")),
    *(
        (f"kill -9 daprd of {s}", killed(s, sidecar=True), 10.0)
        for s in ("notifications", "gateway-1")
    ),
    ("Kafka stopped 30 s", kafka_outage, 38.0),
    ("PostgreSQL restarted", restart_postgres, 10.0),
    ("kill -9 outbox leader", kill_outbox_leader, 10.0),
    # Issue 22: nobody restarts these but `stack up`'s supervision.
    ("supervised: kill -9 audit + daprd", crashed("audit", "daprd-notifications"), 10.0),
    ("kill -9 PostgreSQL postmaster", crashed("postgres"), 10.0),
    ("kill -9 Kafka JVM", crashed("kafka-1"), 10.0),
    ("every task event delivered twice", replayed, 10.0),
    ("partition: daprd of notifications / Kafka 30 s", partitioned("notifications", "kafka"), 38.0),
    ("partition: gateway-1 / PostgreSQL 30 s", partitioned("gateway-1", "postgres"), 38.0),
    # +400 ms a chunk puts gateway-1's requests around their 5 s deadline, so a deadline may
    # fall while COMMIT is on its way (the commit-cancellable break: caught by chance, in 1 run
    # of 3; +200 ms never caught it). docs/reliability.md, "Breaks inside the services".
    ("latency: gateway-1 / PostgreSQL +400 ms", slowed("gateway-1", "postgres", 0.4, 0.1, 10), 16),
    ("resets: daprd of notifications / Kafka", flapping("notifications", "kafka", 2.0, 10.0), 16),
    # Daprd absorbs resets on its own links to Kafka (above). On its link to the app, a delivery
    # whose answer is lost was applied, and daprd sends it again: the consumer's deduplication
    # is what keeps every effect once (audit appends an entry per event).
    ("answers lost: daprd of audit / its app", answers_lost("audit", "app", 0.5, 10.0), 16),
]


async def clock_jumps(stack: Stack, _: Ledger) -> None:
    """The notifications service's wall clock jumps 1 h ahead 3 s in, and back 8 s later."""
    clock = stack.data_dir.parent / "notifications-clock"
    service = stack.service("notifications")
    await asyncio.sleep(3)
    jumped_at = datetime.now(UTC)
    clock.write_text("+1h\n")
    try:
        await asyncio.sleep(3)
        # The service's own clock, read while it is ahead: its HTTP server stamps every answer's
        # Date header with it (a log line would do too, but a quiet service may log nothing).
        stamps = [await _served_date(service.app_port)]
        await asyncio.sleep(5)
    finally:
        _undo(lambda: clock.write_text("+0\n"))
    stamps += [
        datetime.fromisoformat(json.loads(line)["time"])
        for line in service.log_path.read_text().splitlines()
        if line.startswith('{"time"')
    ]
    ahead = jumped_at + timedelta(minutes=50)
    assert any(s is not None and s > ahead for s in stamps), "the notifications clock never jumped"


async def _served_date(port: int) -> datetime | None:
    """The time in the Date header of a service's /healthz answer (None without an answer)."""
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(timeout=5.0) as client:
            date = (await client.get(f"http://127.0.0.1:{port}/healthz")).headers.get("date")
            return None if date is None else email.utils.parsedate_to_datetime(date)
    return None


# Run on a stack whose notifications service has a clock of its own (libfaketime preloaded).
FAKED_CLOCK_FAULTS: list[tuple[str, Fault, float]] = [
    ("notifications' clock +1 h, then back", clock_jumps, 16.0),
]
# Faults on a link the stack routes through a proxy (the single-broker stack only).
ROUTED_FAULT_NAMES = frozenset(
    name
    for name, _, _ in SINGLE_BROKER_FAULTS
    if name.split(":")[0] in ("partition", "latency", "resets", "answers lost")
)
# Run on a stack whose PostgreSQL has a small filesystem of its own (root only: a loop mount).
SMALL_DISK_FAULTS: list[tuple[str, Fault, float]] = [
    ("PostgreSQL's disk full 15 s", disk_full, 22.0),
]
THREE_BROKER_FAULTS: list[tuple[str, Fault, float]] = [
    ("3 brokers: 1 then 2 stopped", stop_one_then_two_brokers, 24.0),
]
