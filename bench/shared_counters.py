"""Benchmark: what counting a request's limits in shared state adds, vs in-process counters.

Run: ``.venv/bin/python -m bench.shared_counters [--requests N] [--concurrency N]``. Starts an
embedded PostgreSQL and a real daprd with infra/dapr's state store (state.postgresql on that
database), then measures, per request, the limits a mutation pays before it runs (the
account's query-cost bucket and its mutation bucket: RateLimits.query_cost + .mutation):
 - in-process (each replica counting alone, what the gateway did before),
 - shared through PostgreSQL directly (`taskstream up`),
 - shared through the Dapr state API (`stack up`, Kubernetes),
one request at a time (the added latency, p50/p99), and with `--concurrency` callers on one
account at once (contention: every update of one key is a compare-and-set that may retry).
Then, side by side in the same run, "accounts": the gateway's default budgets (cost 100,000
points at 5,000/s, 600 mutations a minute), requests going round `--accounts` accounts, each
far from its limits, counted exactly (every request in the store) and with leases
(TASKSTREAM_RATE_LIMIT_LEASE_FRACTION 0.05 for 1 s: slices spent without the store).
And "statement": one bucket spend on PostgreSQL as the adapter's one statement
(PostgresState.spend_bucket) against the generic read and compare-and-set (SharedState's
update(), what the PostgreSQL adapter did before and the Dapr adapter does), taking turns.
Writes ``bench/results/shared_counters.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import percentile, write_result
from bench.stats import comparison, summary
from devstack import Daprd
from devstack.dapr_resources import render_dapr_resources, state_connection_string
from devstack.postgres import EmbeddedPostgres
from taskstream.persistence.db import create_engine, migrate
from taskstream.ratelimit import RateLimits
from taskstream.sharedstate import BucketSpend, DaprState, PostgresState, SharedState

WARM_UP = 50


def limits(state: SharedState | None) -> RateLimits:
    """The gateway's limits with budgets no benchmark request reaches."""
    return RateLimits(
        logins_per_minute=1_000_000,
        logins_per_address_per_minute=1_000_000,
        mutations_per_minute=1_000_000_000,
        cost_capacity=1_000_000_000,
        cost_per_second=1_000_000_000.0,
        state=state,
    )


async def one_at_a_time(state: SharedState | None, requests: int) -> dict[str, float]:
    """p50/p99 (ms) of one request's counters, one request in flight, fresh account per run."""
    counted = limits(state)
    user = str(uuid.uuid4())
    samples: list[float] = []
    for n in range(requests + WARM_UP):
        started = time.perf_counter()
        await counted.query_cost(user, 25)
        await counted.mutation(user)
        if n >= WARM_UP:
            samples.append((time.perf_counter() - started) * 1000)
    # In microseconds too: in-process counters round to 0.00 ms.
    micro = {f"p{q}_us": round(percentile(samples, q / 100) * 1000, 1) for q in (50, 99)}
    return {**summary(samples), **micro}


def default_limits(state: SharedState | None, lease_fraction: float) -> RateLimits:
    """The gateway's default budgets (settings.py), with or without leases."""
    return RateLimits(
        logins_per_minute=10,
        logins_per_address_per_minute=30,
        mutations_per_minute=600,
        cost_capacity=100_000,
        cost_per_second=5_000.0,
        state=state,
        lease_fraction=lease_fraction,
        lease_seconds=1.0,
    )


async def across_accounts(
    state: SharedState | None, requests: int, accounts: int, lease_fraction: float
) -> dict[str, float]:
    """p50/p99 (µs) of one request's counters, one in flight, going round `accounts` users."""
    counted = default_limits(state, lease_fraction)
    users = [str(uuid.uuid4()) for _ in range(accounts)]
    samples: list[float] = []
    for n in range(requests + WARM_UP):
        user = users[n % accounts]
        started = time.perf_counter()
        await counted.query_cost(user, 25)
        await counted.mutation(user)
        if n >= WARM_UP:
            samples.append((time.perf_counter() - started) * 1000)
    # Slices still being topped up finish before the store is closed.
    await counted.settled()
    micro = {f"p{q}_us": round(percentile(samples, q / 100) * 1000, 1) for q in (50, 99)}
    mean = {"mean_us": round(1000 * sum(samples) / len(samples), 1)}
    return {**summary(samples), **micro, **mean}


async def statement_vs_update(state: PostgresState, requests: int) -> dict[str, Any]:
    """p50/p99 (µs) of one bucket spend: the adapter's one statement and update()'s read and
    compare-and-set, taking turns on the same store (a bucket no spend fills)."""
    samples: dict[str, list[float]] = {"one_statement": [], "read_and_cas": []}
    keys = {name: f"bench:{name}:{uuid.uuid4().hex}" for name in samples}
    for n in range(requests + WARM_UP):
        for name in samples:
            spend = BucketSpend(
                now=time.time(),
                costs=(0.001,),
                returned=0.0,
                tolerance=1e6,
                interval=0.001,
                lease_max=0.0,
                half=5e8,
            )
            started = time.perf_counter()
            if name == "one_statement":
                await state.spend_bucket(keys[name], spend, ttl=60)
            else:
                await SharedState.spend_bucket(state, keys[name], spend, ttl=60)
            if n >= WARM_UP:
                samples[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {f"p{q}_us": round(percentile(values, q / 100) * 1000, 1) for q in (50, 99)}
        for name, values in samples.items()
    }


async def contended(state: SharedState | None, requests: int, concurrency: int) -> dict[str, Any]:
    """Latency and throughput with `concurrency` callers counting on one account at once."""
    counted = limits(state)
    user = str(uuid.uuid4())
    samples: list[float] = []

    async def caller(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await counted.query_cost(user, 25)
            await counted.mutation(user)
            samples.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(caller(requests // concurrency) for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return {**summary(samples), "requests_per_s": round(len(samples) / seconds, 1)}


async def main(requests: int, concurrency: int, accounts: int) -> dict[str, Any]:
    """Every measurement once; the result record."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        root = Path(folder)
        server = EmbeddedPostgres(root / "pg", durable=False)
        url = server.start()
        try:
            engine = create_engine(url, pool_size=8)
            await migrate(engine)
            secrets_file = root / "secrets.json"
            secrets_file.write_text(
                json.dumps({"state-connection-string": state_connection_string(url)})
            )
            resources = render_dapr_resources(
                root / "dapr",
                kafka_brokers="127.0.0.1:9",
                name_resolution_db=root / "nr.db",
                secrets_file=secrets_file,
                components=["statestore", "secretstore"],
            )
            token = secrets.token_urlsafe(16)
            sidecar = Daprd(
                "gateway",
                resources_paths=[resources.resources_dir],
                config_path=resources.config_path,
                log_level="warn",
                env={"DAPR_API_TOKEN": token},
            )
            results: dict[str, Any] = {"one_at_a_time": {}, "contended": {}, "accounts": {}}
            results["statement"] = await statement_vs_update(PostgresState(engine), requests)
            with sidecar:
                adapters: dict[str, SharedState | None] = {
                    "in_process": None,
                    "postgres": PostgresState(engine),
                    "dapr": DaprState(sidecar.http_endpoint, api_token=token),
                }
                for name, state in adapters.items():
                    results["one_at_a_time"][name] = await one_at_a_time(state, requests)
                    results["contended"][name] = await contended(state, requests, concurrency)
                    # Exact and leased side by side, interleaved, on the same store.
                    for label, fraction in (("exact", 0.0), ("leased", 0.05)):
                        if state is None and fraction:
                            continue
                        results["accounts"][f"{name}_{label}"] = await across_accounts(
                            state, requests, accounts, fraction
                        )
                    if state is not None:
                        await state.close()
            await engine.dispose()
        finally:
            server.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests, args.concurrency, args.accounts))
    single = figures["one_at_a_time"]
    figures["command"] = "python -m bench.shared_counters " + (
        f"--requests {args.requests} --concurrency {args.concurrency} --accounts {args.accounts}"
    )
    figures["setup"] = {
        "counters": "RateLimits.query_cost + RateLimits.mutation (two GCRA buckets), per request",
        "postgres": "embedded, not durable (fsync off), gateway.shared_state",
        "dapr": "daprd 1.16.5, state.postgresql v2 on the same PostgreSQL, HTTP state API",
        "requests": args.requests,
        "concurrency": args.concurrency,
        # The machine is shared: the figures are only comparable at a similar load.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    figures["comparisons"] = [
        comparison(
            f"a request's limits counted {where}, {p}",
            value=single[name][f"{p}_us"],
            unit="µs",
            peer="in-process counters (each replica alone)",
            peer_value=single["in_process"][f"{p}_us"],
        )
        for name, where in (("dapr", "through the Dapr state store"), ("postgres", "in PostgreSQL"))
        for p in ("p50", "p99")
    ] + [
        comparison(
            f"a request's limits counted {where} with leases, {p}, {args.accounts} accounts",
            value=figures["accounts"][f"{name}_leased"][f"{p}_us"],
            unit="µs",
            peer="the same, every request counted in the store (no lease)",
            peer_value=figures["accounts"][f"{name}_exact"][f"{p}_us"],
        )
        for name, where in (("dapr", "through the Dapr state store"), ("postgres", "in PostgreSQL"))
        for p in ("p50", "p99")
    ]
    figures["comparisons"] += [
        comparison(
            f"one bucket spend in PostgreSQL, one statement, {p}",
            value=figures["statement"]["one_statement"][f"{p}_us"],
            unit="µs",
            peer="read + compare-and-set (update(), the adapter before)",
            peer_value=figures["statement"]["read_and_cas"][f"{p}_us"],
        )
        for p in ("p50", "p99")
    ]
    path = write_result("shared_counters", figures)
    for name in ("in_process", "postgres", "dapr"):
        one, many = single[name], figures["contended"][name]
        print(
            f"{name:10} one at a time p50 {one['p50_us']:9.1f} µs  p99 {one['p99_us']:9.1f} µs"
            f"   {args.concurrency} on one account p50 {many['p50_ms']:7.2f} ms"
            f"  p99 {many['p99_ms']:7.2f} ms  {many['requests_per_s']:8.1f} requests/s"
        )
    for name, row in figures["accounts"].items():
        print(
            f"{args.accounts} accounts, default budgets, {name:17} p50 {row['p50_us']:9.1f} µs"
            f"  p99 {row['p99_us']:9.1f} µs  mean {row['mean_us']:9.1f} µs"
        )
    for name, row in figures["statement"].items():
        print(
            f"one bucket spend, {name:13} p50 {row['p50_us']:9.1f} µs  p99 {row['p99_us']:9.1f} µs"
        )
    print(f"wrote {path}")
