"""The cost of tracing: the same requests with tracing off, on at sampling 1.0, on at 0.1.

One data directory and one data set; `taskstream up` is started once per mode, the modes one
after the other in the same run, each over the same requests: `tasks(first: 50)` pages
(sequential latency, then concurrent throughput), `createTask` (the write path: the
transaction, the outbox row with its trace context, the relay's publish) and push latency
(createTask at PUSH_RATE/s to PUSH_SOCKETS sockets subscribed to `taskEvents`: commit, relay,
the live consumer's handling and the push, each a span when traced). With tracing on,
spans go over OTLP/HTTP to a real Jaeger (devstack/jaeger.py), as with `stack up --tracing`.

Sampling: the services sample every root (taskstream/telemetry.py) and follow a caller's
decision (ParentBased), which is how a ratio applies in a deployment: the ingress or the caller
decides and sends `traceparent`. Every request here carries one; at ratio r a fraction r of them
has the sampled flag. The traces Jaeger holds afterwards are counted, to show what was recorded.

Run: .venv/bin/python -m bench.tracing_cost [--tasks 5000] [--requests 400]
Writes bench/results/tracing_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx

from bench.common import UpProcess, percentile, write_result
from bench.live_clients import SERVER_ENV, SubscriberPool, load_client, paced_mutations
from bench.live_push import drained
from bench.stats import comparison
from bench.tasks_page import PAGE, load_tasks, sign_up
from devstack.jaeger import Jaeger
from devstack.postgres import EmbeddedPostgres

CREATE = 'mutation { createTask(input: {title: "Traced task", priority: HIGH}) { id } }'
# Mode name -> sampling ratio (None: tracing off, no OTLP endpoint).
MODES: dict[str, float | None] = {"off": None, "on_1.0": 1.0, "on_0.1": 0.1}
# `up` runs the gateway and the workers in one process; its spans carry this service name.
SERVICE = "taskstream-up"
# One account sends every request on purpose: the limiters would measure themselves, not tracing.
UNLIMITED = {
    **SERVER_ENV,
    "TASKSTREAM_MUTATIONS_PER_MINUTE": str(10**9),
    "TASKSTREAM_GRAPHQL_COST_PER_SECOND": str(10**9),
    "TASKSTREAM_LOG_LEVEL": "WARNING",
}


# The push phase: one account's sockets, each createTask pushed to every one of them. The rate
# stays well under what this machine's `up` commits per second (createTask_throughput_rps), so
# the figure is the push path's latency, not a backlog's.
PUSH_SOCKETS = 10
PUSH_RATE = 4.0
PUSH_SECONDS = 20.0


def traceparent(rng: random.Random, ratio: float) -> str:
    """A W3C traceparent from an upstream that sampled with probability `ratio`."""
    flags = "01" if rng.random() < ratio else "00"
    return f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-{flags}"


async def measure(
    url: str, token: str, requests: int, concurrency: int, ratio: float
) -> dict[str, float]:
    """Page latency (sequential), page and createTask throughput (concurrent)."""
    rng = random.Random(11)

    def headers() -> dict[str, str]:
        return {"traceparent": traceparent(rng, ratio)}

    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
        for _ in range(20):  # warm-up: connections, caches, the exporter's first batch
            await client.post("/graphql", json={"query": PAGE}, headers=headers())
        latencies = []
        cursor = None
        for _ in range(requests):
            started = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": PAGE, "variables": {"after": cursor}}, headers=headers()
            )
            latencies.append((time.perf_counter() - started) * 1000)
            body = response.json()
            assert "errors" not in body, body
            page = body["data"]["tasks"]
            cursor = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] else None

        async def burst(query: str, count: int) -> None:
            for _ in range(count):
                response = await client.post("/graphql", json={"query": query}, headers=headers())
                assert response.status_code == 200 and "errors" not in response.json()

        per_client = requests // concurrency
        started = time.perf_counter()
        await asyncio.gather(*(burst(PAGE, per_client) for _ in range(concurrency)))
        page_rps = per_client * concurrency / (time.perf_counter() - started)
        started = time.perf_counter()
        await asyncio.gather(*(burst(CREATE, per_client) for _ in range(concurrency)))
        create_rps = per_client * concurrency / (time.perf_counter() - started)
    return {
        "page_p50_ms": round(percentile(latencies, 0.50), 2),
        "page_p99_ms": round(percentile(latencies, 0.99), 2),
        "page_throughput_rps": round(page_rps, 1),
        "create_throughput_rps": round(create_rps, 1),
        "requests_sent": 20 + requests + 2 * per_client * concurrency,
    }


async def push_latency(url: str, token: str, ratio: float) -> dict[str, float]:
    """createTask → push on PUSH_SOCKETS subscribed sockets: every delivery is one sample."""
    rng = random.Random(13)

    async def sampled(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        request: aiohttp.TraceRequestStartParams,
    ) -> None:
        request.headers["traceparent"] = traceparent(rng, ratio)

    sampling = aiohttp.TraceConfig()
    sampling.on_request_start.append(sampled)

    pool = SubscriberPool(url.replace("http://", "ws://") + "/graphql", [token] * PUSH_SOCKETS)
    try:
        opened = await pool.opened()
        assert opened["failed"] == 0, opened
        async with load_client(url, trace_configs=[sampling]) as http:
            await paced_mutations(http, [token], 5, 2)  # warm-up: consumer, sockets, exporter
            await drained(pool, 10 * PUSH_SOCKETS)
            await pool.reset()
            load = await paced_mutations(http, [token], PUSH_RATE, PUSH_SECONDS)
            expected = (load["sent"] - load["errors"]) * PUSH_SOCKETS
            await drained(pool, expected)
            received = await pool.report()
    finally:
        pool.stop()
    samples = received.latencies_ms
    assert samples, "no push arrived"
    return {
        "push_p50_ms": round(percentile(samples, 0.50), 2),
        "push_p99_ms": round(percentile(samples, 0.99), 2),
        "pushes_expected": expected,
        "pushes_received": received.messages,
    }


def traces_in(jaeger: Jaeger) -> int:
    """How many traces of `up` Jaeger holds (the exporter flushed at shutdown)."""
    response = httpx.get(
        f"{jaeger.ui_url}/api/traces",
        params={"service": SERVICE, "limit": "100000", "lookback": "1h"},
        timeout=60,
    )
    response.raise_for_status()
    return len(response.json().get("data") or [])


def main() -> None:
    """Run every mode over one data set and record them side by side."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    modes: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        data_dir = Path(folder) / "data"
        setup = UpProcess(data_dir, UNLIMITED)
        try:
            token, user_id = asyncio.run(sign_up(setup.url))
            running = EmbeddedPostgres(data_dir / "postgres").running_url()
            assert running is not None, "up's PostgreSQL is not running"
            database_url = running.replace("postgresql+asyncpg://", "postgresql://", 1)
            asyncio.run(load_tasks(database_url, user_id, args.tasks))
        finally:
            setup.stop()
        for name, ratio in MODES.items():
            jaeger = Jaeger(Path(folder) / f"jaeger-{name}") if ratio is not None else None
            env = {**UNLIMITED, "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
            if jaeger is not None:
                jaeger.start()
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = jaeger.otlp_endpoint
                env["OTEL_SERVICE_NAME"] = SERVICE
            try:
                up = UpProcess(data_dir, env)
                try:
                    figures = asyncio.run(
                        measure(up.url, token, args.requests, args.concurrency, ratio or 0.0)
                    )
                    figures.update(asyncio.run(push_latency(up.url, token, ratio or 0.0)))
                finally:
                    up.stop()  # flushes the exporter's last batch
                if jaeger is not None:
                    figures["traces_in_jaeger"] = traces_in(jaeger)
                    assert figures["traces_in_jaeger"] > 0, f"{name}: tracing recorded nothing"
            finally:
                if jaeger is not None:
                    jaeger.stop()
            print(name, figures, flush=True)
            modes[name] = {"sampling_ratio": ratio, **figures}
    off = modes["off"]
    comparisons = [
        comparison(
            f"{label}, tracing on at sampling {modes[mode]['sampling_ratio']}",
            value=modes[mode][key],
            unit=unit,
            ours=f"Taskstream, tracing {mode}",
            peer="the same requests, tracing off",
            peer_value=off[key],
            goal="report the ratio",
        )
        for mode in ("on_1.0", "on_0.1")
        for label, key, unit in (
            ("tasks(first: 50) throughput", "page_throughput_rps", "req/s"),
            ("tasks(first: 50) p99", "page_p99_ms", "ms"),
            ("createTask throughput", "create_throughput_rps", "req/s"),
            (f"createTask→push p50, {PUSH_SOCKETS} sockets", "push_p50_ms", "ms"),
            (f"createTask→push p99, {PUSH_SOCKETS} sockets", "push_p99_ms", "ms"),
        )
    ]
    result = {
        "command": "python -m bench.tracing_cost "
        f"--tasks {args.tasks} --requests {args.requests} --concurrency {args.concurrency}",
        "cpus": os.cpu_count(),
        "tasks": args.tasks,
        "modes": modes,
        "comparisons": comparisons,
    }
    path = write_result("tracing_cost", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
