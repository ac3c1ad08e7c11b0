"""`taskstream up` cold start, and `tasks(first: 50)` with tags over 10,000 tasks.

Run: .venv/bin/python bench/tasks_page.py [--tasks 10000] [--requests 400]
Writes bench/results/tasks_page.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.common import UpProcess, percentile, write_result
from devstack.postgres import EmbeddedPostgres
from gateway_core.domain.model import tag_key
from gateway_core.persistence import tables as t
from taskstream.persistence.db import create_engine

PAGE = """
query($after: String) {
  tasks(first: 50, after: $after) {
    pageInfo { endCursor hasNextPage }
    edges { node { id title status priority dueAt tags { id name } } }
  }
}
"""


async def sign_up(url: str) -> tuple[str, uuid.UUID]:
    """A fresh account on the running server."""
    async with httpx.AsyncClient(base_url=url) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": 'mutation { signUp(email: "bench@example.com", '
                'password: "bench password") { token user { id } } }'
            },
        )
        data = response.json()["data"]["signUp"]
        return data["token"], uuid.UUID(data["user"]["id"])


async def load_tasks(database_url: str, user_id: uuid.UUID, count: int) -> float:
    """Insert `count` tasks with 1-3 of 30 tags each, in bulk; returns seconds taken."""
    started = time.perf_counter()
    engine = create_engine(database_url, pool_size=1)
    rng = random.Random(7)
    now = datetime.now(UTC)
    tag_ids = {f"tag{i}": uuid.uuid4() for i in range(30)}
    async with engine.begin() as connection:
        await connection.execute(
            insert(t.tags),
            [
                {"id": tid, "user_id": user_id, "name": name, "name_key": tag_key(name)}
                for name, tid in tag_ids.items()
            ],
        )
        for start in range(0, count, 2000):
            tasks, links = [], []
            for i in range(start, min(count, start + 2000)):
                task_id = uuid.uuid4()
                due = now + timedelta(hours=rng.randint(-500, 5000)) if i % 5 else None
                tasks.append(
                    {
                        "id": task_id,
                        "user_id": user_id,
                        "title": f"Task {i} {rng.choice(['report', 'call', 'review', 'plan'])}",
                        "notes": "generated for the benchmark",
                        "status": "OPEN" if i % 4 else "DONE",
                        "priority": i % 5,
                        "due_at": due,
                        "instance_number": 1,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
                for position, name in enumerate(rng.sample(sorted(tag_ids), rng.randint(1, 3))):
                    links.append(
                        {"task_id": task_id, "tag_id": tag_ids[name], "position": position}
                    )
            await connection.execute(insert(t.tasks), tasks)
            await connection.execute(insert(t.task_tags), links)
    await engine.dispose()
    return time.perf_counter() - started


async def measure(url: str, token: str, requests: int, concurrency: int) -> dict[str, float]:
    """Latency of sequential page requests, then throughput with concurrent clients."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        latencies = []
        cursor = None
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": PAGE, "variables": {"after": cursor}}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert "errors" not in body, body
            page = body["data"]["tasks"]
            cursor = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None

        async def worker(count: int) -> None:
            for _ in range(count):
                response = await client.post("/graphql", json={"query": PAGE})
                assert response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "throughput_rps": round((requests // concurrency) * concurrency / elapsed, 1),
    }


def main() -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        data_dir = Path(folder) / "data"
        cold = UpProcess(data_dir)
        cold.stop()
        warm = UpProcess(data_dir)
        try:
            token, user_id = asyncio.run(sign_up(warm.url))
            running = EmbeddedPostgres(data_dir / "postgres").running_url()
            assert running is not None, "up's PostgreSQL is not running"
            database_url = running.replace("postgresql+asyncpg://", "postgresql://", 1)
            load_seconds = asyncio.run(load_tasks(database_url, user_id, args.tasks))
            figures = asyncio.run(measure(warm.url, token, args.requests, args.concurrency))
        finally:
            warm.stop()
    result = {
        "command": "python bench/tasks_page.py",
        "tasks": args.tasks,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "cold_start_seconds": round(cold.startup_seconds, 2),
        "warm_start_seconds": round(warm.startup_seconds, 2),
        "load_seconds": round(load_seconds, 2),
        "tasks_first_50_with_tags": figures,
    }
    path = write_result("tasks_page", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
