"""Audit entries per second through the audit consumer alone, on durable PostgreSQL, no broker.

Run: .venv/bin/python -m bench.audit_throughput [--events 4000] [--users 50]
Writes bench/results/audit_throughput.json. The events go straight to the consumer (what each
transport calls), so the figures are the service's own cost: one event per transaction, the
same with `--concurrency` lanes, and the batch path (500 events per transaction). The figures
through Kafka and Dapr are bench/worker_throughput.py's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.common import write_result
from bench.worker_throughput import direct_batches, one_at_a_time, reset, task_events
from devstack.postgres import EmbeddedPostgres
from taskstream.bootstrap import bootstrap
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.settings import Settings
from workers.audit.main import build


async def lanes(engine: Any, consumer: Consumer, events: list[Message], count: int) -> float:
    """Entries/s with `count` lanes each handling its share one event at a time."""
    await reset(engine)

    async def lane(messages: list[Message]) -> None:
        for message in messages:
            assert await consumer.handle(message) is Outcome.SUCCESS

    started = time.perf_counter()
    await asyncio.gather(*(lane(events[i::count]) for i in range(count)))
    return len(events) / (time.perf_counter() - started)


async def run(count: int, users: int, concurrency: int) -> dict[str, Any]:
    """One at a time, `concurrency` lanes, then batches: each over `count` fresh events."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", durable=True)
        url = server.start()
        try:
            engine = create_engine(url, pool_size=concurrency)
            await migrate(engine)
            settings = Settings(env="test", database_url=url, jwt_secret=SecretStr("x" * 40))
            runtime = bootstrap(
                settings, app_id="audit", engine=engine, transport=MemoryTransport()
            )
            consumer = build(runtime).consumer
            assert consumer is not None
            single = await one_at_a_time(engine, consumer, task_events(count, users))
            concurrent = await lanes(engine, consumer, task_events(count, users), concurrency)
            batches = await direct_batches(engine, consumer, task_events(count, users))
            await engine.dispose()
        finally:
            server.stop()
    return {
        "sequential_entries_per_second": single["events_per_s"],
        f"concurrent_{concurrency}_entries_per_second": round(concurrent, 1),
        "batch_500_entries_per_second": batches["events_per_s"],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    """Run and record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if os.environ.get("TASKSTREAM_BENCH_QUICK") == "1":
        args.events = min(args.events, 1000)
    figures = asyncio.run(run(args.events, args.users, args.concurrency))
    result = {
        "command": "python -m bench.audit_throughput",
        "events": args.events,
        "users": args.users,
        "durable_postgres": True,
        **figures,
    }
    print(write_result("audit_throughput", result).read_text())


if __name__ == "__main__":
    main()
