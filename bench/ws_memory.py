"""Many concurrent WebSocket subscribers on one gateway process: memory and CPU per connection.

One `taskstream gateway` process (in-memory bus, no workers: a replica as in production) runs
over its own embedded PostgreSQL. Subscribers (raw `websockets`, graphql-transport-ws, one
taskEvents subscription per socket) run in two further processes. USERS accounts each hold
CONNECTIONS/USERS sockets, as a user with many tabs and devices would; one createTask per user
per second then pushes one message per second to every socket (10,000 sockets: 20 users x
500). Measured on the gateway process:
 - RSS growth per idle subscribed connection (goal <= 64 KiB),
 - CPU (user+system) per second while every socket receives 1 push/s (goal <= 1 core), and
   the same mutations without subscribers beforehand (what the pushes add is the difference),
 - the pushes delivered and their end-to-end latency, and RSS after the push phase.

Run: .venv/bin/python -m bench.ws_memory [--quick]. Writes bench/results/ws_memory.json.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import pushes_summary, write_result
from bench.live_clients import (
    GatewayProcess,
    SubscriberPool,
    command_line,
    http_client,
    load_client,
    paced_mutations,
    progress,
    raise_fd_limit,
    sign_up_users,
)
from bench.stats import comparison

GOAL_KIB_PER_CONNECTION = 64
GOAL_CORES = 1.0
# How long the pushes may take to arrive after the last mutation.
DRAIN_SECONDS = 60.0


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def measure(
    url: str, pid: int, connections: int, users: int, seconds: float
) -> dict[str, Any]:
    """Connect, measure idle memory and CPU, then push 1/s to every socket and measure again."""
    server = psutil.Process(pid)
    ws_url = url.replace("http://", "ws://") + "/graphql"
    rate = float(users)  # one mutation per user per second: one push per socket per second
    async with http_client(url) as http, load_client(url) as load_http:
        progress(f"signing up {users} users")
        tokens = await sign_up_users(http, users, "wsmem")
        # Warm every code path once (imports, caches, pools) before the baseline reading.
        warm = SubscriberPool(ws_url, tokens[:1] * 4)
        try:
            await warm.opened()
            await paced_mutations(load_http, tokens, rate, 2)
        finally:
            warm.stop()
        # The same mutations without subscribers: what the pushes add is the difference.
        progress(f"baseline: {rate:g} mutations/s without subscribers")
        cpu_before, wall_before = _cpu_seconds(server), time.perf_counter()
        baseline_load = await paced_mutations(load_http, tokens, rate, min(seconds, 8.0))
        baseline_cores = (_cpu_seconds(server) - cpu_before) / (time.perf_counter() - wall_before)
        baseline_load.pop("durations_ms")
        await asyncio.sleep(2)
        baseline = server.memory_info().rss
        progress(f"opening {connections} subscribed sockets")
        pool = SubscriberPool(ws_url, [tokens[n % users] for n in range(connections)], processes=2)
        try:
            opened_at = time.perf_counter()
            opened = await pool.opened()
            open_seconds = time.perf_counter() - opened_at
            await asyncio.sleep(3)
            connected = server.memory_info().rss
            cpu_before, wall_before = _cpu_seconds(server), time.perf_counter()
            await asyncio.sleep(5)
            idle_cores = (_cpu_seconds(server) - cpu_before) / (time.perf_counter() - wall_before)

            progress(f"{opened} in {open_seconds:.0f} s; pushing 1/s to every socket")
            await pool.reset()
            cpu_before, wall_before = _cpu_seconds(server), time.perf_counter()
            mutations = await paced_mutations(load_http, tokens, rate, seconds)
            push_wall = time.perf_counter() - wall_before
            push_cores = (_cpu_seconds(server) - cpu_before) / push_wall
            # CPU per push counts until every push arrived: on a machine short of CPU the
            # server falls behind and catches up later; per push it costs the same.
            expected = (mutations["sent"] - mutations["errors"]) * connections // users
            for _ in range(int(DRAIN_SECONDS / 0.5)):
                if await pool.count() >= expected:
                    break
                await asyncio.sleep(0.5)
            drained_cpu = _cpu_seconds(server) - cpu_before
            drained_wall = time.perf_counter() - wall_before
            received = await pool.report()
            after_pushes = server.memory_info().rss
            progress(f"received {received.messages} pushes; closing")
        finally:
            pool.stop()
    # What the pushes cost: the CPU until all arrived, less the idle sockets' share (keepalive
    # pings) and the mutations' (per mutation, as measured without subscribers).
    mutation_cpu = baseline_cores * baseline_load["seconds"] / max(1, baseline_load["sent"])
    done = mutations["sent"] - mutations["errors"]
    push_cpu = drained_cpu - idle_cores * drained_wall - mutation_cpu * done
    cpu_per_push_us = push_cpu / max(1, received.messages) * 1e6
    at_goal = idle_cores + mutation_cpu * rate + cpu_per_push_us * 1e-6 * opened["opened"]
    per_connection = (connected - baseline) / max(1, opened["opened"]) / 1024
    durations = mutations.pop("durations_ms")
    return {
        "connections": opened,
        "users": users,
        "sockets_per_user": connections // users,
        "open_seconds": round(open_seconds, 1),
        "server_rss_mib": {
            "before": round(baseline / 2**20, 1),
            "connected_idle": round(connected / 2**20, 1),
            "after_pushes": round(after_pushes / 2**20, 1),
        },
        "rss_per_connection_kib": round(per_connection, 1),
        "rss_per_connection_after_pushes_kib": round(
            (after_pushes - baseline) / max(1, opened["opened"]) / 1024, 1
        ),
        "goal_kib_per_connection": GOAL_KIB_PER_CONNECTION,
        "idle_cpu_cores": round(idle_cores, 3),
        "baseline_same_mutations_without_subscribers": {
            "mutations": baseline_load,
            "server_cpu_cores": round(baseline_cores, 3),
        },
        "push_phase": {
            "mutations": mutations,
            **pushes_summary(expected, received, durations),
            "pushes_per_s": round(received.messages / max(1e-9, mutations["seconds"])),
            "server_cpu_cores_while_sending": round(push_cores, 3),
            "server_cpu_seconds_until_all_pushed": round(drained_cpu, 2),
            "seconds_until_all_pushed": round(drained_wall, 1),
            "server_cpu_ms_per_mutation": round(mutation_cpu * 1000, 2),
            "server_cpu_us_per_push": round(cpu_per_push_us, 1),
            "server_cores_at_1_push_per_s_each": round(at_goal, 3),
            "how": "idle cores + CPU per mutation x mutations/s + CPU per push x sockets: "
            "measured per unit, since on a shared machine the server may get too little CPU "
            "to keep up in real time (server_cpu_cores_while_sending is what it got)",
            "goal_cores": GOAL_CORES,
        },
    }


def _rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    sockets = figures["connections"]["opened"]
    measured = (
        (
            f"server RSS per idle subscribed socket ({sockets:,} sockets)",
            figures["rss_per_connection_kib"],
            "KiB",
            GOAL_KIB_PER_CONNECTION,
        ),
        (
            f"server CPU, {sockets:,} sockets at 1 push/s each (mutations included)",
            figures["push_phase"]["server_cores_at_1_push_per_s_each"],
            "cores",
            GOAL_CORES,
        ),
    )
    return [
        comparison(
            figure,
            value=value,
            unit=unit,
            peer="goal",
            peer_value=goal,
            goal=f"≤ {goal:g} {unit}",
            met=value <= goal,
        )
        for figure, value, unit, goal in measured
    ]


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and record; quick: 1,000 sockets of 10 users for 10 s (else 10,000/100/20 s)."""
    connections, users, seconds = (1000, 10, 8.0) if quick else (10_000, 20, 15.0)
    limit = raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        gateway = GatewayProcess(Path(folder) / "data")
        try:
            assert gateway.process is not None
            figures = asyncio.run(
                measure(gateway.url, gateway.process.pid, connections, users, seconds)
            )
        finally:
            gateway.stop()
    result = {
        "command": f"python -m bench.ws_memory{' --quick' if quick else ''}",
        "mode": "one `taskstream gateway` process (in-memory bus, no workers)",
        "open_files_limit": limit,
        **figures,
        "comparisons": _rows(figures),
    }
    write_result("ws_memory", result)
    return result


def main() -> None:
    """Run from the command line."""
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
