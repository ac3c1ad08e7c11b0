"""Worker throughput: the audit worker fed through Dapr (single and bulk subscribe) and aiokafka.

Run: ``.venv/bin/python -m bench.worker_throughput [--quick] [--events N] [--users N]``.
Starts a real Kafka broker (KRaft), real daprd sidecars (pubsub.kafka from infra/dapr) and an
embedded PostgreSQL with fsync on (durable, as in production); publishes the same task events
once to `task-events` (3 partitions, keyed by user), then lets the audit worker's consumer
(workers/audit) read them from the start, once per way in, each time into emptied audit tables
with a consumer group of its own:

 - ``dapr_single``: daprd pushes one event per HTTP request (the default subscription);
 - ``dapr_bulk_own_process``: the audit worker as `stack up` and the chart run it,
   `taskstream worker audit` in a process of its own (its garbage collector settled as every
   service's is) beside a daprd of its own, bulk subscribe on with the deployed settings; the
   figures above run the consumer inside this process, which also holds every published event
   (a heap the collector walks again and again) and Python's default collector thresholds;
 - ``dapr_bulk``: daprd bulk subscribe, up to `max_messages` events of a partition a request;
 - ``aiokafka``: the Kafka transport, each fetch settled as one batch per partition;
 - ``one_at_a_time``: the consumer called directly, one event and one transaction at a time
   (the figure before batching existed), on a prefix of the events;
 - ``own_processes``: each worker (recurrence, notifications, audit) as `taskstream worker
   NAME` in a process of its own on the Kafka transport, fed task-created and task-completed
   events (not recurring) once it caught up with the topic: that process's CPU per event
   (issue 19's goal: ≤ 0.3 ms), read with psutil.

Events/s counts entries committed from the first committed entry to the last (polled every
50 ms); `worker_cpu_ms_per_event` is this process's CPU per event (the worker's own cost, apart
from waiting for a machine shared with other work, whose load average is recorded). Also
measured, to show where the ceiling is: ``direct_batches``, the consumer's batch path called
directly (500 events a transaction, no broker, no HTTP), and ``postgres_insert_ceiling``, COPY
of ready-made entry rows into a table shaped like the entries, 500 rows a transaction.
Writes bench/results/worker_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import write_result
from bench.stack import REPO, free_port
from bench.stats import comparison
from devstack import Daprd, KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import DaprResources, render_dapr_resources
from devstack.postgres import EmbeddedPostgres
from devstack.stack import BULK_FETCH_MIN_BYTES, NOT_INHERITED, SERVICE_ENV
from gateway_core.domain.model import Task
from gateway_core.persistence.uow import from_task_event
from taskstream.bootstrap import bootstrap
from taskstream.messaging.bus import BulkSubscribe, Message, Outcome, Transport
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.settings import Settings
from workers.audit.main import build
from workers.audit.tables import chain_heads, checkpoints, entries, processed_events

GOAL = 5000.0
# Goal of issue 19: every worker's CPU per event in its own process.
CPU_GOAL_MS = 0.3
WORKERS = ("recurrence", "notifications", "audit")
BULK = BulkSubscribe(max_messages=500, max_await_ms=50)
PARTITIONS = 3
SCENARIO_TIMEOUT = 600.0
FIGURES = (
    "aiokafka",
    "dapr_bulk",
    "dapr_single",
    "dapr_bulk_own_process",
    "one_at_a_time",
    "direct_batches",
    "postgres_insert_ceiling",
    "own_processes",
)


def task_events(count: int, users: int) -> list[Message]:
    """Task-created events spread over `users` users, keyed by user (as the gateway sends)."""
    owners = [uuid.uuid4() for _ in range(users)]
    now = datetime.now(UTC)
    messages = []
    for i in range(count):
        task = Task.create(user_id=owners[i % users], title=f"audit {i}", now=now)
        built = from_task_event(task.events[0])
        messages.append(Message(built.topic, built.partition_key, built.body))
    return messages


def created_and_completed(count: int, users: int) -> list[Message]:
    """`count` events, half task-created and half task-completed (not recurring), by user."""
    owners = [uuid.uuid4() for _ in range(users)]
    now = datetime.now(UTC)
    messages = []
    for i in range(count // 2):
        task = Task.create(user_id=owners[i % users], title=f"worker {i}", now=now)
        task.complete(now=now)
        for event in task.events[:2]:
            built = from_task_event(event)
            messages.append(Message(built.topic, built.partition_key, built.body))
    return messages


async def group_caught_up(brokers: str, group: str, topic: str) -> bool:
    """True when `group` has committed every partition of `topic` up to its end."""
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    probe = AIOKafkaConsumer(bootstrap_servers=brokers)
    await admin.start()
    await probe.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        ends = await probe.end_offsets(partitions)
        try:
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        except KafkaError:
            return False  # the group has not joined yet
        return all(
            committed.get(p) is not None and committed[p].offset >= ends[p] for p in partitions
        )
    finally:
        await probe.stop()
        await admin.close()


async def wait_caught_up(brokers: str, group: str, topic: str) -> None:
    """Poll until `group` has committed all of `topic` (bounded by SCENARIO_TIMEOUT)."""
    deadline = time.perf_counter() + SCENARIO_TIMEOUT
    while time.perf_counter() < deadline:
        if await group_caught_up(brokers, group, topic):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{group} did not catch up with {topic}")


@contextlib.asynccontextmanager
async def worker_process(
    name: str, url: str, *, bus: dict[str, str], port: int, tree: Path, logs: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`taskstream worker NAME` in a process of its own (as `stack up` runs it) on the bus that
    `bus` (its environment) names, serving on `port`; stopped on leaving, its log kept."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in NOT_INHERITED},
        "DATABASE_URL": url,
        "TASKSTREAM_ENV": "test",
        "TASKSTREAM_JWT_SECRET": "x" * 40,
        "TASKSTREAM_PORT": str(port),
        "TASKSTREAM_METRICS_PORT": "0",
        "TASKSTREAM_LOG_LEVEL": "WARNING",
        **bus,
    }
    log_path = logs / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "worker",
            name,
            cwd=tree,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
        if process.returncode not in (0, -signal.SIGTERM):
            print(f"{name} worker exited {process.returncode}: {log_path.read_text()[-2000:]}")


def cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU a process has used so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


async def own_process(
    name: str, url: str, brokers: str, events: list[Message], *, tree: Path, logs: Path
) -> dict[str, Any]:
    """`taskstream worker NAME` in a process of its own on the Kafka transport: its CPU per
    event over `events` published once it has caught up with what the topic held before."""
    bus = {"TASKSTREAM_BUS_URL": f"kafka://{brokers}"}
    async with worker_process(
        name, url, bus=bus, port=free_port(), tree=tree, logs=logs
    ) as process:
        topic = events[0].topic
        # Whatever the topic held before (the other figures' events) is worked off first.
        await wait_caught_up(brokers, name, topic)
        measured = psutil.Process(process.pid)
        before = cpu_seconds(measured)
        started = time.perf_counter()
        publisher = KafkaTransport(KafkaOptions(brokers, partitions=PARTITIONS), app_id="bench")
        await publisher.start()
        try:
            for start in range(0, len(events), 1000):
                await publisher.publish(events[start : start + 1000])
        finally:
            await publisher.close()
        await wait_caught_up(brokers, name, topic)
        cpu = cpu_seconds(measured) - before
        seconds = time.perf_counter() - started
        return {
            "events": len(events),
            "seconds": round(seconds, 3),
            "events_per_s": round(len(events) / seconds, 1),
            "worker_cpu_ms_per_event": round(cpu * 1000 / len(events), 3),
            "goal_cpu_ms_per_event": CPU_GOAL_MS,
            "load_average_1m": round(os.getloadavg()[0], 2),
        }


async def dapr_own_process(
    engine: AsyncEngine, url: str, resources: DaprResources, expected: int, *, logs: Path
) -> dict[str, Any]:
    """The audit worker as `stack up` and the chart run it: `taskstream worker audit` in its own
    process beside its own daprd, bulk subscribe on with the deployed settings, reading the
    topic from the start under a fresh app id (consumer group) into emptied tables."""
    await reset(engine)
    app_port, tokens = (
        free_port(),
        {
            "DAPR_API_TOKEN": secrets.token_urlsafe(16),
            "APP_API_TOKEN": secrets.token_urlsafe(16),
        },
    )
    sidecar = Daprd(
        f"audit-{uuid.uuid4().hex[:6]}",
        app_port=app_port,
        resources_paths=[resources.resources_dir],
        config_path=resources.config_path,
        work_dir=logs / f"daprd-{app_port}",
        log_level="warn",
        env=tokens,
    )
    await asyncio.to_thread(sidecar.start)
    try:
        bus = {
            **tokens,
            **SERVICE_ENV["audit"],
            "TASKSTREAM_BUS_URL": f"dapr://127.0.0.1:{sidecar.dapr_http_port}",
            "DAPR_HTTP_PORT": str(sidecar.dapr_http_port),
            "DAPR_GRPC_PORT": str(sidecar.dapr_grpc_port),
            # The secrets come from the environment, as the chart gives them on Kubernetes.
            "TASKSTREAM_SECRET_STORE": "",
        }
        async with worker_process(
            "audit", url, bus=bus, port=app_port, tree=REPO, logs=logs
        ) as process:
            assert sidecar.pid is not None
            watched = {"audit": psutil.Process(process.pid), "daprd": psutil.Process(sidecar.pid)}
            figures = await wait_for_entries(engine, expected, watched)
    finally:
        await asyncio.to_thread(sidecar.stop)
    # This process only polls: the worker's and its sidecar's CPU are the figures.
    figures.pop("worker_cpu_ms_per_event")
    return {**figures, "load_average_1m": round(os.getloadavg()[0], 2)}


async def reset(engine: AsyncEngine) -> None:
    """Empty the audit tables, their append-only triggers off (the bench's superuser can)."""
    async with engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = 'replica'"))
        for table in (entries, checkpoints, chain_heads, processed_events):
            await connection.execute(table.delete())
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE audit.entries"))


async def committed(engine: AsyncEngine) -> int:
    """Audit entries committed so far."""
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(entries)) or 0)


async def wait_for_entries(
    engine: AsyncEngine, expected: int, processes: dict[str, psutil.Process] | None = None
) -> dict[str, Any]:
    """Poll until `expected` entries are committed; the rate from the first to the last, and
    the CPU per event over that span of this process and of each of `processes` by name."""
    processes = processes or {}
    deadline = time.perf_counter() + SCENARIO_TIMEOUT
    first_at: float | None = None
    first_cpu = 0.0
    first_theirs: dict[str, float] = {}
    first_count = 0
    count = 0
    while time.perf_counter() < deadline:
        count = await committed(engine)
        now = time.perf_counter()
        if count and first_at is None:
            first_at, first_cpu, first_count = now, time.process_time(), count
            first_theirs = {name: cpu_seconds(p) for name, p in processes.items()}
        if count >= expected:
            break
        await asyncio.sleep(0.05)
    now = time.perf_counter()
    seconds = now - first_at if first_at is not None else 0.0
    done = count - first_count
    rate = done / seconds if seconds > 0 else 0.0

    def per_event(cpu: float) -> float | None:
        return round(cpu * 1000 / done, 3) if done else None

    return {
        "events": expected,
        "committed": count,
        "complete": count >= expected,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate, 1),
        # CPU of this process (consumer, transport, app server) per event: on a machine
        # shared with other work it tells the worker's own cost apart from waiting.
        "worker_cpu_ms_per_event": per_event(time.process_time() - first_cpu),
        **{
            f"{name}_cpu_ms_per_event": per_event(cpu_seconds(p) - first_theirs.get(name, 0.0))
            for name, p in processes.items()
        },
    }


async def through(
    engine: AsyncEngine, consumer: Consumer, transport: Transport, expected: int
) -> dict[str, Any]:
    """Subscribe the audit consumer through `transport` and time the committed entries."""
    await reset(engine)
    await transport.start()
    try:
        await transport.subscribe(consumer.subscriptions())
        figures = await wait_for_entries(engine, expected)
    finally:
        await transport.close()
    # Other work on the machine (its 1-minute load average) weighs on every figure.
    return {**figures, "load_average_1m": round(os.getloadavg()[0], 2)}


async def fed_directly(
    engine: AsyncEngine,
    events: list[Message],
    size: int,
    apply: Callable[[list[Message]], Awaitable[None]],
) -> dict[str, Any]:
    """`apply` to `size` events at a time, into emptied tables: rate and CPU per event."""
    await reset(engine)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(events), size):
        await apply(events[start : start + size])
    seconds = time.perf_counter() - started
    return {
        "events": len(events),
        "seconds": round(seconds, 3),
        "events_per_s": round(len(events) / seconds, 1),
        "worker_cpu_ms_per_event": round((time.process_time() - cpu) * 1000 / len(events), 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


async def one_at_a_time(engine: AsyncEngine, consumer: Consumer, events: list[Message]) -> Any:
    """The consumer called directly, one event (one transaction) at a time."""

    async def one(run: list[Message]) -> None:
        assert await consumer.handle(run[0]) is Outcome.SUCCESS

    return await fed_directly(engine, events, 1, one)


async def direct_batches(engine: AsyncEngine, consumer: Consumer, events: list[Message]) -> Any:
    """The consumer's batch path called directly, 500 events at a time: no broker, no HTTP."""

    async def batch(run: list[Message]) -> None:
        assert await consumer.handle_batch(run) is not None

    return await fed_directly(engine, events, 500, batch)


async def insert_ceiling(engine: AsyncEngine, events: list[Message]) -> dict[str, Any]:
    """PostgreSQL alone: COPY of ready-made entry rows (same table shape and indexes, no
    trigger), 500 rows per transaction, as the worker writes them but with nothing computed."""
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE IF EXISTS public.bench_entries"))
        await connection.execute(
            text("CREATE TABLE public.bench_entries (LIKE audit.entries INCLUDING ALL)")
        )
    now = datetime.now(UTC)
    rows = [
        (
            uuid.uuid4(),
            uuid.UUID(m.key),
            n,
            m.id,
            now,
            "gateway",
            "task.created",
            uuid.uuid4(),
            json.dumps(m.body["data"], sort_keys=True, separators=(",", ":")),
            "0" * 64,
            "f" * 64,
        )
        for n, m in enumerate(events)
    ]
    # The columns the rows fill, by name: nullable ones added later (project_id) stay null.
    columns = [
        "id",
        "user_id",
        "seq",
        "event_id",
        "at",
        "actor",
        "action",
        "task_id",
        "changes",
        "previous_hash",
        "hash",
    ]
    started = time.perf_counter()
    for start in range(0, len(rows), 500):
        async with engine.begin() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                "bench_entries",
                schema_name="public",
                columns=columns,
                records=rows[start : start + 500],
            )
    seconds = time.perf_counter() - started
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE public.bench_entries"))
    return {
        "events": len(rows),
        "seconds": round(seconds, 3),
        "events_per_s": round(len(rows) / seconds, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


async def measure(count: int, users: int, baseline: int, only: set[str]) -> dict[str, Any]:
    """Every figure, one after the other, on one broker and one PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        root = Path(folder)
        server = EmbeddedPostgres(root / "pg", durable=True)
        url = server.start()
        try:
            with KafkaBroker(data_dir=root / "kafka") as broker:
                return await _measure(
                    root, url, broker.bootstrap_servers, count, users, baseline, only
                )
        finally:
            server.stop()


async def _measure(
    root: Path, url: str, brokers: str, count: int, users: int, baseline: int, only: set[str]
) -> dict[str, Any]:
    engine = create_engine(url, pool_size=8)
    await migrate(engine)
    settings = Settings(env="test", database_url=url, jwt_secret=SecretStr("x" * 40))
    runtime = bootstrap(settings, app_id="audit", engine=engine, transport=MemoryTransport())
    consumer = build(runtime).consumer
    assert consumer is not None
    render = functools.partial(
        render_dapr_resources,
        kafka_brokers=brokers,
        name_resolution_db=root / "nr.db",
        components=["pubsub"],
    )
    resources = render(root / "dapr")
    # As deployed: a sidecar that delivers bulks lets its Kafka fetches wait (devstack/stack.py).
    bulk_resources = render(root / "dapr-bulk", consumer_fetch_min=BULK_FETCH_MIN_BYTES)
    events = task_events(count, users)
    publisher = KafkaTransport(KafkaOptions(brokers, partitions=PARTITIONS), app_id="bench")
    await publisher.start()
    try:
        await publisher.ensure_topics({events[0].topic, f"{events[0].topic}.dlq"})
        for start in range(0, len(events), 1000):
            await publisher.publish(events[start : start + 1000])
    finally:
        await publisher.close()

    def dapr(bulk: BulkSubscribe | None) -> Callable[[], Transport]:
        return lambda: SidecarOnSubscribe(
            brokers,
            resources if bulk is None else bulk_resources,
            app_id=f"audit-{uuid.uuid4().hex[:6]}",
            bulk=bulk,
        )

    ways: dict[str, Callable[[], Transport]] = {
        "aiokafka": lambda: KafkaTransport(
            KafkaOptions(brokers, partitions=PARTITIONS), app_id="audit"
        ),
        "dapr_bulk": dapr(BULK),
        "dapr_single": dapr(None),
    }
    results: dict[str, Any] = {}
    try:
        for name, factory in ways.items():
            if name in only:
                results[name] = await through(engine, consumer, factory(), count)
                print(f"{name:24} {results[name]}", flush=True)
        if "dapr_bulk_own_process" in only:
            results["dapr_bulk_own_process"] = await dapr_own_process(
                engine, url, bulk_resources, count, logs=root
            )
            print(f"{'dapr_bulk_own_process':24} {results['dapr_bulk_own_process']}", flush=True)
        if "one_at_a_time" in only:
            baseline_events = task_events(baseline, users)
            results["one_at_a_time"] = await one_at_a_time(engine, consumer, baseline_events)
            print(f"{'one_at_a_time':24} {results['one_at_a_time']}", flush=True)
        if "direct_batches" in only:
            results["direct_batches"] = await direct_batches(engine, consumer, events)
            print(f"{'direct_batches':24} {results['direct_batches']}", flush=True)
        if "own_processes" in only:
            worker_events = created_and_completed(min(count, 4000), users)
            results["own_processes"] = {}
            for name in WORKERS:
                figures = await own_process(name, url, brokers, worker_events, tree=REPO, logs=root)
                results["own_processes"][name] = figures
                print(f"{name + ' (own process)':24} {figures}", flush=True)
        if "postgres_insert_ceiling" in only:
            results["postgres_insert_ceiling"] = await insert_ceiling(engine, events)
            print(
                f"{'postgres_insert_ceiling':24} {results['postgres_insert_ceiling']}", flush=True
            )
    finally:
        await engine.dispose()
    return results


LABELS = {
    "dapr_bulk_own_process": "audit worker, own process, through its daprd (bulk subscribe)",
    "dapr_bulk": "audit consumer in the bench's process through Dapr bulk subscribe",
    "dapr_single": "Dapr single subscribe",
    "aiokafka": "audit worker through aiokafka",
    "one_at_a_time": "one event per transaction (before batching)",
    "direct_batches": "audit batch path, no broker (worker + PostgreSQL)",
    "postgres_insert_ceiling": "PostgreSQL alone: COPY of ready-made rows",
}
BULK_VS_SINGLE = 2.2
# The report's lines: our figure and its peer from the same run (None: the goal itself).
LINES: tuple[tuple[str, str | None], ...] = (
    ("dapr_bulk", "dapr_single"),
    ("dapr_bulk_own_process", None),
    ("dapr_bulk_own_process", "dapr_bulk"),
    ("aiokafka", None),
    ("dapr_bulk", "aiokafka"),
    ("aiokafka", "one_at_a_time"),
    ("direct_batches", "postgres_insert_ceiling"),
)


def _rate(results: dict[str, Any], name: str) -> float:
    return float(results.get(name, {}).get("events_per_s") or 0.0)


def _lines(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each figure against its peer from the same run (or the goal), named `OURS_vs_PEER`."""
    lines = []
    for ours, peer in LINES:
        if ours not in results or (peer is not None and peer not in results):
            continue
        value = _rate(results, ours)
        peer_value = _rate(results, peer) if peer is not None else GOAL
        goal: str | None = None
        met: bool | None = None
        if peer is None:
            goal, met = f"≥ {GOAL:,.0f} events/s", value >= GOAL
        elif (ours, peer) == ("dapr_bulk", "dapr_single"):
            goal = f"≥ {BULK_VS_SINGLE} times single"
            met = bool(peer_value) and value / peer_value >= BULK_VS_SINGLE
        line = comparison(
            LABELS[ours],
            value=value,
            unit="events/s",
            peer=LABELS[peer] if peer is not None else "the goal",
            peer_value=peer_value or None,
            goal=goal,
            met=met,
        )
        lines.append((f"{ours}_vs_{peer or 'goal'}", line))
    for name, figures in results.get("own_processes", {}).items():
        cpu = float(figures["worker_cpu_ms_per_event"])
        line = comparison(
            f"{name} worker CPU per event, own process (aiokafka)",
            value=cpu,
            unit="ms",
            peer="the goal",
            peer_value=CPU_GOAL_MS,
            goal=f"≤ {CPU_GOAL_MS} ms",
            met=cpu <= CPU_GOAL_MS,
        )
        lines.append((f"{name}_cpu_vs_goal", line))
    return lines


def comparisons(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's lines (bench/run.py reads them from the record)."""
    return [line for _, line in _lines(results)]


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """Every line's ratio by name: `dapr_bulk_vs_dapr_single`, `aiokafka_vs_goal`, ..."""
    return {name: line["ratio"] for name, line in _lines(results)}


def run(
    quick: bool = False,
    *,
    events: int | None = None,
    users: int = 200,
    only: set[str] | None = None,
) -> dict[str, Any]:
    """Measure every way in, record bench/results/worker_throughput.json, return the record."""
    count = events or (2000 if quick else 20000)
    baseline = min(count, 500 if quick else 2000)
    started = time.perf_counter()
    figures = asyncio.run(measure(count, users, baseline, only or set(FIGURES)))
    result: dict[str, Any] = {
        "command": "python -m bench.worker_throughput" + (" --quick" if quick else ""),
        "events": count,
        "users": users,
        "goal_events_per_s": GOAL,
        "setup": {
            "postgres": "embedded, durable (fsync on), one database",
            "kafka": f"1 KRaft node, {PARTITIONS} partitions, keyed by user",
            "dapr": "daprd 1.16.5, pubsub.kafka, HTTP delivery",
            "dapr_bulk": {"maxMessagesCount": BULK.max_messages, "maxAwaitDurationMs": 50},
            "dapr_bulk_own_process": "the deployed settings (TASKSTREAM_DAPR_BULK_* defaults)",
            "consumer": "workers/audit consumer (batch path under aiokafka and Dapr bulk)",
        },
        **figures,
        "ratios": ratios(figures),
        "comparisons": comparisons(figures),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    write_result("worker_throughput", result)
    return result


def main() -> None:
    """Run from the command line and print the record."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--only", help=f"comma-separated subset of {','.join(FIGURES)} (for profiling)"
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    # bench/run.py asks for the small run through the environment.
    quick = args.quick or os.environ.get("TASKSTREAM_BENCH_QUICK") == "1"
    result = run(quick, events=args.events, users=args.users, only=only)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
