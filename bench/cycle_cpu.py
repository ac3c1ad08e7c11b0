"""CPU per create+complete cycle across every process, in `stack up` and in `taskstream up`.

Issue 19's goal: one createTask followed by its completeTask costs at most 40 ms of CPU in all of
`stack up`'s processes together (gateways, workers, their daprd sidecars, Kafka, PostgreSQL).
Peer, in the same run: the same cycles in `taskstream up` (one process and its PostgreSQL).

Run: ``.venv/bin/python -m bench.cycle_cpu [--cycles 300] [--rate 20]``.
Starts each topology from an empty data directory, signs up `USERS` accounts, runs a warm-up,
then reads each process's CPU (user + system, with its children's: PostgreSQL's backends, the
JVM under Kafka's launcher) over an idle window and over the cycles (open loop at `--rate` cycles
a second, spread over the accounts; each cycle creates a task with a due date and completes it),
until the processes are back to their idle rate for 3 s in a row (every event relayed, consumed
and audited).
The figure is the CPU spent beyond the idle rate, per cycle; no subscriber is connected, so no
live push is in it. Writes ``bench/results/cycle_cpu.json``.

The same code measures a quarter apart on different days here (a shared virtual machine): only
figures of one run compare. `TASKSTREAM_BENCH_BASELINE=/path/to/tree` (another checkout with
its .venv, e.g. a `git worktree`) runs `stack up` from that tree too, alternating with this one
over `--rounds` rounds, and records both beside each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import UpProcess, write_result
from bench.live_clients import SERVER_ENV, sign_up_users
from bench.stats import comparison

GOAL_MS = 40.0
USERS = 10
WARM_UP_CYCLES = 30
IDLE_SECONDS = 10.0
# Back to idle: a second whose CPU is within this much of the idle rate (ms of CPU per second).
QUIET_MARGIN_MS = 30.0
QUIET_SECONDS = 3
SETTLE_LIMIT_SECONDS = 90.0
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
COMPLETE = "mutation($id: ID!) { completeTask(id: $id) { id } }"


@dataclass(frozen=True, slots=True)
class Part:
    """One named process of a topology (with its descendants)."""

    name: str
    pid: int


def parts_of(up: UpProcess, data_dir: Path, stack: bool) -> list[Part]:
    """The topology's processes: `stack up`'s recorded parts, or `up` and its PostgreSQL."""
    found = [Part("stack up" if stack else "taskstream up", up.process.pid)]
    if stack:
        entries = json.loads((data_dir / "run" / "pids.json").read_text())
        found += [Part(entry["name"], int(entry["pid"])) for entry in entries]
    else:
        for pidfile in data_dir.rglob("postmaster.pid"):
            found.append(Part("postgres", int(pidfile.read_text().splitlines()[0])))
    return found


def sample(parts: list[Part]) -> dict[str, float]:
    """CPU seconds so far by part: each process's own and its ended children's, counted for
    the nearest listed part above it (`stack up` spawns the services, each counted as itself)."""
    owners = {part.pid: part.name for part in parts}
    cpu = dict.fromkeys(owners.values(), 0.0)
    visited: set[int] = set()

    def walk(process: psutil.Process, owner: str) -> None:
        visited.add(process.pid)
        try:
            times = process.cpu_times()
            children = process.children()
        except psutil.NoSuchProcess:
            return
        cpu[owner] += times.user + times.system + times.children_user + times.children_system
        for child in children:
            walk(child, owners.get(child.pid, owner))

    for part in parts:
        if part.pid not in visited:
            with contextlib.suppress(psutil.NoSuchProcess):
                walk(psutil.Process(part.pid), part.name)
    return cpu


def total(cpu: dict[str, float]) -> float:
    """All parts' CPU seconds."""
    return sum(cpu.values())


async def one_cycle(client: httpx.AsyncClient, token: str, number: int) -> None:
    """Create a task with a due date, then complete it."""
    headers = {"Authorization": f"Bearer {token}"}
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    created = await client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"i": {"title": f"cycle {number}", "dueAt": due}}},
        headers=headers,
    )
    body = created.json()
    assert "errors" not in body, body
    done = await client.post(
        "/graphql",
        json={"query": COMPLETE, "variables": {"id": body["data"]["createTask"]["id"]}},
        headers=headers,
    )
    assert "errors" not in done.json(), done.json()


async def paced(client: httpx.AsyncClient, tokens: list[str], count: int, rate: float) -> float:
    """`count` cycles started at `rate` a second (open loop); their wall seconds."""
    began = time.perf_counter()
    running = []
    for number in range(count):
        await asyncio.sleep(max(0.0, began + number / rate - time.perf_counter()))
        running.append(asyncio.create_task(one_cycle(client, tokens[number % len(tokens)], number)))
    await asyncio.gather(*running)
    return time.perf_counter() - began


async def measure(
    up: UpProcess, data_dir: Path, stack: bool, count: int, rate: float
) -> dict[str, Any]:
    """Idle rate, then the cycles until the processes are idle again; CPU per cycle by part."""
    parts = parts_of(up, data_dir, stack)
    async with httpx.AsyncClient(base_url=up.url, timeout=60) as client:
        tokens = await sign_up_users(client, USERS, f"cycle-{uuid.uuid4().hex[:10]}")
        await paced(client, tokens, WARM_UP_CYCLES, rate)
        await asyncio.sleep(5)
        before_idle, idle_started = sample(parts), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        after_idle = sample(parts)
        idle_seconds = time.perf_counter() - idle_started
        idle_rate = {
            name: (after_idle[name] - before_idle.get(name, 0.0)) / idle_seconds
            for name in after_idle
        }
        started, start_cpu = time.perf_counter(), sample(parts)
        load_seconds = await paced(client, tokens, count, rate)
    # Settled: QUIET_SECONDS whole seconds in a row back within the margin of the idle rate.
    deadline = time.perf_counter() + SETTLE_LIMIT_SECONDS
    previous, previous_at = sample(parts), time.perf_counter()
    quiet = 0
    while quiet < QUIET_SECONDS and time.perf_counter() < deadline:
        await asyncio.sleep(1.0)
        now_cpu, now_at = sample(parts), time.perf_counter()
        spent_ms = (total(now_cpu) - total(previous)) * 1000 / (now_at - previous_at)
        previous, previous_at = now_cpu, now_at
        quiet = quiet + 1 if spent_ms <= total(idle_rate) * 1000 + QUIET_MARGIN_MS else 0
    ended_cpu, elapsed = previous, previous_at - started
    by_part = {
        name: round(
            (ended_cpu[name] - start_cpu.get(name, 0.0) - idle_rate.get(name, 0.0) * elapsed)
            * 1000
            / count,
            2,
        )
        for name in ended_cpu
    }
    return {
        "cycles": count,
        "rate_per_second": rate,
        "load_seconds": round(load_seconds, 2),
        "until_idle_seconds": round(elapsed, 2),
        "idle_cpu_ms_per_second": round(total(idle_rate) * 1000, 1),
        # What each process spends with nothing to do (polling loops, heartbeats).
        "idle_cpu_ms_per_second_by_part": {
            name: round(rate * 1000, 1)
            for name, rate in sorted(idle_rate.items(), key=lambda item: -item[1])
        },
        "cpu_ms_per_cycle": round(sum(by_part.values()), 2),
        "cpu_ms_per_cycle_with_idle": round(
            (total(ended_cpu) - total(start_cpu)) * 1000 / count, 2
        ),
        "by_part_ms_per_cycle": dict(sorted(by_part.items(), key=lambda item: -item[1])),
        "load_average_1m": round(psutil.getloadavg()[0], 2),
    }


def topology(stack: bool, count: int, rate: float, tree: Path | None = None) -> dict[str, Any]:
    """Start one topology (from `tree`, else this checkout) in a fresh data directory,
    measure, stop it."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        data_dir = Path(folder) / "data"
        # The load's own limits off (rate limits per account would refuse 4 mutations/s each).
        up = UpProcess(data_dir, env=SERVER_ENV, stack=stack, tree=tree)
        try:
            return asyncio.run(measure(up, data_dir, stack, count, rate))
        finally:
            up.stop()


def main() -> None:
    """Run both topologies (and the baseline tree's `stack up`, alternated) and record them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="cycles started per second")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of each tree with a baseline (else 1)"
    )
    args = parser.parse_args()
    baseline = os.environ.get("TASKSTREAM_BENCH_BASELINE")
    trees: dict[str, Path | None] = {"this": None}
    if baseline:
        trees["baseline"] = Path(baseline)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.rounds if baseline else 1):
        for name, tree in trees.items():
            runs[name].append(topology(True, args.cycles, args.rate, tree))
            print(f"stack up ({name})", json.dumps(runs[name][-1]), flush=True)
    # The median run of each (of two: the lower), so one disturbed run moves neither.
    stack = _median_run(runs["this"])
    up = topology(False, args.cycles, args.rate)
    print("up", json.dumps(up), flush=True)
    comparisons = [
        comparison(
            f"stack up: CPU per create+complete cycle, all processes, at {args.rate:g}/s",
            value=stack["cpu_ms_per_cycle"],
            unit="ms",
            peer="taskstream up (one process + PostgreSQL), same cycles",
            peer_value=up["cpu_ms_per_cycle"],
            goal=f"≤ {GOAL_MS:g} ms",
            met=stack["cpu_ms_per_cycle"] <= GOAL_MS,
        )
    ]
    result: dict[str, Any] = {
        "command": f"python -m bench.cycle_cpu --cycles {args.cycles} --rate {args.rate:g}",
        "stack": stack,
        "up": up,
    }
    if baseline:
        result["command"] = f"TASKSTREAM_BENCH_BASELINE={baseline} {result['command']}"
        result["rounds"] = {
            name: [run["cpu_ms_per_cycle"] for run in tree_runs] for name, tree_runs in runs.items()
        }
        result["baseline_stack"] = _median_run(runs["baseline"])
        comparisons.append(
            comparison(
                "stack up: CPU per create+complete cycle, this tree",
                value=stack["cpu_ms_per_cycle"],
                unit="ms",
                peer=f"the same from {baseline}, rounds alternated in this run",
                peer_value=result["baseline_stack"]["cpu_ms_per_cycle"],
            )
        )
    result["comparisons"] = comparisons
    path = write_result("cycle_cpu", result)
    print(path.read_text())


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose CPU per cycle is the (lower) median of `runs`."""
    target = statistics.median_low(run["cpu_ms_per_cycle"] for run in runs)
    return next(run for run in runs if run["cpu_ms_per_cycle"] == target)


if __name__ == "__main__":
    main()
