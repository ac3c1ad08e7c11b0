"""`createTask` through the real gateway (outbox included) vs a bare INSERT of the same rows.

The mutation (title, priority, two existing tags) runs through GraphQL, the domain service,
the unit of work and the transactional outbox, from `clients` concurrent keep-alive clients.
The peer writes the same rows in one transaction per task with asyncpg from as many
concurrent connections: what the database alone costs. As the goal of issue 19 words it
("bare INSERT of the same rows (the outbox row included)"), those rows are the task, its two
tag links and its outbox row: the payload of a real createTask's event, into a copy of the
outbox table (`LIKE ... INCLUDING ALL`, its indexes too) that no relay reads, so that nothing
else runs on the machine because of the peer. The peer without the outbox row (the figure
before the ninth session) is measured beside it.

`TASKSTREAM_BENCH_BASELINE=/path/to/tree` adds the gateway run from that tree (another version
of the code, e.g. the base commit exported with `git archive`): the two gateways and the bare
INSERTs take turns in the same rounds, each gateway's own CPU per mutation measured, so that
before and after are compared side by side in one run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
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
# The peer's outbox: the gateway's table's copy (columns, defaults, indexes), read by no relay.
PEER_OUTBOX = "public.bench_peer_outbox"
INSERT_OUTBOX = f"""
INSERT INTO {PEER_OUTBOX} (event_id, topic, partition_key, type, payload)
VALUES ($1, $2, $3, $4, $5::jsonb)
"""  # nosec B608


async def _last_event(context: BenchContext) -> tuple[str, str, str, str]:
    """The outbox row of the last createTask (topic, key, type, payload as JSON text)."""
    connection = await asyncpg.connect(plain_url(context.stack.url))
    try:
        row = await connection.fetchrow(
            "SELECT topic, partition_key, type, payload::text AS payload FROM gateway.outbox "
            "WHERE type LIKE '%task.created%' ORDER BY position DESC LIMIT 1"
        )
        assert row is not None, "no createTask event in the outbox"
        await connection.execute(
            f"DROP TABLE IF EXISTS {PEER_OUTBOX}; "
            f"CREATE TABLE {PEER_OUTBOX} (LIKE gateway.outbox INCLUDING ALL)"
        )
        return row["topic"], row["partition_key"], row["type"], row["payload"]
    finally:
        await connection.close()


async def _bare_inserts(
    context: BenchContext,
    clients: int,
    count: int,
    event: tuple[str, str, str, str] | None,
) -> dict[str, Any]:
    """`count` transactions of the task's rows (with its outbox row when `event` is given)."""
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
                    if event is not None:
                        await connection.execute(INSERT_OUTBOX, uuid.uuid4(), *event)
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
    """createTask throughput/p99 vs bare INSERTs of the same rows; the ratio (and the
    baseline gateway's figures beside them when TASKSTREAM_BENCH_BASELINE names a tree)."""
    clients, count = (8, 200) if context.quick else (16, 1000)
    token = context.token(context.dataset.page_user)
    urls = {"gateway": context.gateway_url}
    baseline_tree = os.environ.get("TASKSTREAM_BENCH_BASELINE")
    if baseline_tree:
        # Both gateways started alike, one after the other: the run's shared gateway, started
        # before the data sets were loaded, spent 0.6 ms more CPU per createTask than a fresh
        # one of the very same tree (measured with this tree in both places).
        urls["gateway"] = context.stack.gateway()
        urls["baseline"] = context.stack.gateway(Path(baseline_tree))
    requests = {
        name: Request.graphql(url + "/graphql", CREATE, token=token) for name, url in urls.items()
    }
    for request in requests.values():
        answer = await fetch_json(request)
        assert "errors" not in answer, answer
    event = await _last_event(context)
    rounds: dict[str, list[dict[str, Any]]] = {
        name: [] for name in [*requests, "bare_insert", "bare_insert_without_outbox"]
    }
    for round_number in range(1 if context.quick else 2):
        for name, request in requests.items():
            context.log(
                f"  round {round_number + 1}: createTask on {name}, {count} by {clients} clients"
            )
            server = context.stack.by_url[urls[name]]
            used = server.cpu_seconds()
            result = await run_load(
                request, clients=clients, requests=count, warmup=20, check=b'"createTask"'
            )
            assert result["failures"] == 0, (name, result)
            # The gateway's own CPU per mutation: the machine is shared, this is not.
            cpu_ms = (server.cpu_seconds() - used) * 1000 / (result["requests"] + 20)
            result["server_cpu_ms_per_request"] = round(cpu_ms, 2)
            rounds[name].append(result)
        context.log(
            f"  round {round_number + 1}: bare INSERT: {count} transactions, {clients} connections"
        )
        rounds["bare_insert"].append(await _bare_inserts(context, clients, count, event))
        rounds["bare_insert_without_outbox"].append(
            await _bare_inserts(context, clients, count, None)
        )
    await _drop_peer_outbox(context)
    best = {name: max(runs, key=lambda r: r["throughput_rps"]) for name, runs in rounds.items()}
    mutation, bare = best["gateway"], best["bare_insert"]
    without_outbox = best["bare_insert_without_outbox"]
    peer = "bare INSERT of the same rows (task, 2 tag links, outbox row)"
    against_baseline: list[dict[str, Any]] = []
    if "baseline" in best:
        label = f"the gateway from {baseline_tree}"
        against_baseline = [
            comparison(
                f"createTask: {what}, this tree",
                value=mutation[key],
                unit=unit,
                peer=label,
                peer_value=best["baseline"][key],
            )
            for what, key, unit in (
                ("throughput", "throughput_rps", "tasks/s"),
                ("gateway CPU per mutation", "server_cpu_ms_per_request", "ms"),
            )
        ]
        against_baseline.append(
            comparison(
                "createTask (outbox included), the baseline tree: throughput",
                value=best["baseline"]["throughput_rps"],
                unit="tasks/s",
                peer=peer,
                peer_value=bare["throughput_rps"],
                goal="report the ratio",
            )
        )
    return {
        "clients": clients,
        "requests_per_round": count,
        "mutation": mutation,
        "bare_insert": bare,
        "bare_insert_without_outbox": without_outbox,
        **({"baseline": best["baseline"]} if "baseline" in best else {}),
        "rounds": rounds,
        "comparisons": [
            *(
                comparison(
                    f"createTask (outbox included): {label}",
                    value=mutation[key],
                    unit=unit,
                    peer=peer,
                    peer_value=bare[key],
                    goal="≥ 0.35x bare INSERT" if key == "throughput_rps" else "report the ratio",
                    met=mutation[key] >= 0.35 * bare[key] if key == "throughput_rps" else None,
                )
                for label, key, unit in (
                    ("throughput", "throughput_rps", "tasks/s"),
                    ("p99", "p99_ms", "ms"),
                )
            ),
            comparison(
                "createTask (outbox included): throughput",
                value=mutation["throughput_rps"],
                unit="tasks/s",
                peer="bare INSERT without the outbox row (the peer before the ninth session)",
                peer_value=without_outbox["throughput_rps"],
                goal="report the ratio",
            ),
            *against_baseline,
        ],
    }


async def _drop_peer_outbox(context: BenchContext) -> None:
    connection = await asyncpg.connect(plain_url(context.stack.url))
    try:
        await connection.execute(f"DROP TABLE IF EXISTS {PEER_OUTBOX}")
    finally:
        await connection.close()
