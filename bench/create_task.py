"""`createTask` through the real gateway (outbox included) vs a bare INSERT of the same rows.

The mutation (title, priority, two existing tags) runs through GraphQL, the domain service,
the unit of work and the transactional outbox, from `clients` concurrent keep-alive clients.
The peer writes the same rows (the task and its two tag links) in one transaction per task
with asyncpg from as many concurrent connections: what the database alone costs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.datasets import plain_url
from bench.loadgen import Request, fetch_json, run_load
from bench.runtime import BenchContext
from bench.stats import comparison, summary

CREATE = """
mutation {
  createTask(input: {title: "Benchmark task", priority: HIGH, tags: ["tag1", "tag2"]}) { id }
}
"""
INSERT_TASK = """
INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, due_at, completed_at,
                           recurrence, series_id, instance_number, created_at, updated_at,
                           version)
VALUES ($1, $2, 'Benchmark task', '', 'OPEN', 3, NULL, NULL, NULL, NULL, 1, $3, $3, 1)
"""
INSERT_LINKS = """
INSERT INTO gateway.task_tags (task_id, tag_id, position) VALUES ($1, $2, 0), ($1, $3, 1)
"""


async def _bare_inserts(context: BenchContext, clients: int, count: int) -> dict[str, Any]:
    user = context.dataset.page_user
    pool = await asyncpg.create_pool(
        plain_url(context.stack.url), min_size=clients, max_size=clients
    )
    try:
        tags = await pool.fetch(
            "SELECT id FROM gateway.tags WHERE user_id = $1 AND name_key = ANY($2::text[]) "
            "ORDER BY name_key",
            user,
            ["tag1", "tag2"],
        )
        latencies: list[float] = []
        remaining = count

        async def client() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                began = time.perf_counter()
                async with pool.acquire() as connection, connection.transaction():
                    task_id = uuid.uuid4()
                    await connection.execute(INSERT_TASK, task_id, user, datetime.now(UTC))
                    await connection.execute(INSERT_LINKS, task_id, tags[0]["id"], tags[1]["id"])
                latencies.append((time.perf_counter() - began) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        **summary(latencies),
    }


async def run(context: BenchContext) -> dict[str, Any]:
    """createTask throughput/p99 vs bare INSERTs of the same rows; the ratio."""
    clients, count = (8, 200) if context.quick else (16, 1000)
    request = Request.graphql(
        context.gateway_url + "/graphql", CREATE, token=context.token(context.dataset.page_user)
    )
    answer = await fetch_json(request)
    assert "errors" not in answer, answer
    context.log(f"  createTask: {count} mutations, {clients} clients")
    mutation = await run_load(
        request, clients=clients, requests=count, warmup=20, check=b'"createTask"'
    )
    assert mutation["failures"] == 0, mutation
    context.log(f"  bare INSERT: {count} transactions, {clients} connections")
    bare = await _bare_inserts(context, clients, count)
    return {
        "mutation": mutation,
        "bare_insert": bare,
        "comparisons": [
            comparison(
                f"createTask (outbox included): {label}",
                value=mutation[key],
                unit=unit,
                peer="bare INSERT of the same rows",
                peer_value=bare[key],
                goal="report the ratio",
            )
            for label, key, unit in (
                ("throughput", "throughput_rps", "tasks/s"),
                ("p99", "p99_ms", "ms"),
            )
        ],
    }
