"""Audit entries per second: task events through the audit service's consumer, real PostgreSQL.

Run: .venv/bin/python -m bench.audit_throughput [--events 5000] [--users 50]
Writes bench/results/audit_throughput.json. The events go straight to the consumer's handler
(what each transport calls), so the figure is the service's own cost: decoding, idempotency
record, per-user chain lock, hash, insert and commit.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from bench.common import write_result
from taskstream.bootstrap import bootstrap
from taskstream.domain.model import Task
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import from_task_event
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.persistence.embedded import EmbeddedPostgres
from taskstream.settings import Settings
from workers.audit.main import build


def events(count: int, users: int) -> list[Message]:
    """Task-created events spread over `users` users."""
    owners = [uuid.uuid4() for _ in range(users)]
    messages = []
    for i in range(count):
        task = Task.create(user_id=owners[i % users], title=f"audit {i}", now=datetime.now(UTC))
        envelope = from_task_event(task.events[0])
        messages.append(Message(envelope.topic, envelope.partition_key, envelope.body))
    return messages


async def run(count: int, users: int, concurrency: int) -> dict[str, float]:
    """Entries/s handling the events one by one, then `concurrency` users at a time."""
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
            sequential = events(count // 2, users)
            started = time.perf_counter()
            for message in sequential:
                assert await consumer.handle(message) is Outcome.SUCCESS
            one_at_a_time = len(sequential) / (time.perf_counter() - started)
            parallel = events(count // 2, users)
            lanes = [parallel[i::concurrency] for i in range(concurrency)]

            async def lane(messages: list[Message]) -> None:
                for message in messages:
                    assert await consumer.handle(message) is Outcome.SUCCESS

            started = time.perf_counter()
            await asyncio.gather(*(lane(messages) for messages in lanes))
            concurrent = len(parallel) / (time.perf_counter() - started)
            await engine.dispose()
        finally:
            server.stop()
    return {
        "sequential_entries_per_second": round(one_at_a_time, 1),
        f"concurrent_{concurrency}_entries_per_second": round(concurrent, 1),
    }


def main() -> None:
    """Run and record."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
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
