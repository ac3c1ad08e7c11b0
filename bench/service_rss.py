"""Resident memory (and CPU) of every service of `stack up`, idle and under load.

`taskstream stack up` runs in a child process; its service processes (gateway replicas, each
worker) are found among its descendants by their command line, the infrastructure (daprd,
Kafka, PostgreSQL) is reported beside them. Phases:
 - idle: RSS once the stack is ready and has settled (goal <= 120 MB per service);
 - load: LOAD_RATE/s of createTask (daily recurrence, a reminder due two seconds later, due
   in a minute) each followed by completeTask (the next instance follows), with live
   subscribers open: every worker has work. Peak RSS and CPU ms per task are recorded;
 - after: RSS once idle again.

Run: .venv/bin/python -m bench.service_rss [--quick]. Writes bench/results/service_rss.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import UpProcess, write_result
from bench.live_clients import (
    SERVER_ENV,
    SubscriberPool,
    command_line,
    http_client,
    raise_fd_limit,
    sign_up_users,
)
from bench.stats import comparison

GOAL_IDLE_MB = 120.0
MB = 1_000_000

CREATE = (
    "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
    "mutation($id: ID!) { completeTask(id: $id) { id } }",
)


def stack_processes(root: psutil.Process) -> dict[str, psutil.Process]:
    """The stack's processes by name: services by their command, infrastructure by program."""
    found: dict[str, psutil.Process] = {}
    counts: dict[str, int] = {}
    for process in root.children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if "cli.main" in command:
            rest = command[command.index("cli.main") + 1 :]
            if rest[:1] == ["gateway"]:
                name = "gateway"
            elif rest[:1] == ["worker"] and len(rest) > 1:
                name = rest[1]
            else:
                continue
        elif command and command[0].endswith("daprd"):
            app = command[command.index("--app-id") + 1] if "--app-id" in command else "?"
            name = f"daprd[{app}]"
        elif command and "java" in Path(command[0]).name:
            name = "kafka"
        elif command and "postgres" in Path(command[0]).name and "-D" in command:
            name = "postgres"
        else:
            continue
        counts[name] = counts.get(name, 0) + 1
        found[f"{name}-{counts[name]}" if name in found or counts[name] > 1 else name] = process
    return found


def _rss(processes: dict[str, psutil.Process]) -> dict[str, float]:
    sizes: dict[str, float] = {}
    for name, process in processes.items():
        try:
            sizes[name] = process.memory_info().rss
        except psutil.Error:
            continue
    return sizes


def _cpu(processes: dict[str, psutil.Process]) -> dict[str, float]:
    times = {}
    for name, process in processes.items():
        try:
            cpu = process.cpu_times()
        except psutil.Error:
            continue
        times[name] = float(cpu.user + cpu.system)
    return times


async def _task_cycle(http: httpx.AsyncClient, token: str) -> bool:
    now = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {token}"}
    task_input = {
        "title": "memory load",
        "dueAt": (now + timedelta(minutes=1)).isoformat(),
        "recurrence": {"rule": "FREQ=DAILY"},
        "reminders": [{"remindAt": (now + timedelta(seconds=2)).isoformat()}],
    }
    created = (
        await http.post(
            "/graphql",
            json={"query": CREATE[0], "variables": {"input": task_input}},
            headers=headers,
        )
    ).json()
    if "errors" in created:
        return False
    task_id = created["data"]["createTask"]["id"]
    done = (
        await http.post(
            "/graphql", json={"query": CREATE[1], "variables": {"id": task_id}}, headers=headers
        )
    ).json()
    return "errors" not in done


async def _load(
    http: httpx.AsyncClient, tokens: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    started = time.perf_counter()
    tasks = []
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_task_cycle(http, tokens[n % len(tokens)])))
    done, late = await asyncio.wait(tasks, timeout=60)
    for task in late:
        task.cancel()
    ok = sum(1 for task in done if task.exception() is None and task.result())
    return {"task_cycles": len(tasks), "ok": ok, "seconds": round(time.perf_counter() - started, 1)}


async def measure(
    url: str, pid: int, data_dir: Path, rate: float, seconds: float
) -> dict[str, Any]:
    """Idle, loaded and after-load RSS of each stack process; CPU per task cycle under load."""
    processes = stack_processes(psutil.Process(pid))
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        # Embedded PostgreSQL runs detached from the stack (pg_ctl): found by its pid file.
        postmaster = (data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0]
        processes["postgres (postmaster only)"] = psutil.Process(int(postmaster))
    await asyncio.sleep(5)
    idle = _rss(processes)
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with http_client(url) as http:
        tokens = await sign_up_users(http, 10, "rss")
        pool = SubscriberPool(ws_url, [t for t in tokens for _ in range(5)])
        try:
            await pool.opened()
            peak = dict(idle)
            cpu_before = _cpu(processes)
            load = asyncio.create_task(_load(http, tokens, rate, seconds))
            while not load.done():
                for name, size in _rss(processes).items():
                    peak[name] = max(peak.get(name, 0), size)
                await asyncio.wait({load}, timeout=0.5)
            cpu_after = _cpu(processes)
            figures = load.result()
            pushes = (await pool.report()).messages
        finally:
            pool.stop()
    await asyncio.sleep(5)
    after = _rss(processes)
    cycles = max(1, figures["task_cycles"])
    table = {
        name: {
            "idle_mb": round(idle.get(name, 0) / MB, 1),
            "load_peak_mb": round(peak.get(name, 0) / MB, 1),
            "after_load_mb": round(after.get(name, 0) / MB, 1),
            "cpu_ms_per_task_cycle": round(
                (cpu_after.get(name, 0) - cpu_before.get(name, 0)) / cycles * 1000, 2
            ),
        }
        for name in sorted(processes)
    }
    services = {
        name: row
        for name, row in table.items()
        if not name.startswith(("daprd", "kafka", "postgres"))
    }
    return {
        "load": {**figures, "rate_per_s": rate, "live_pushes_received": pushes},
        "services": services,
        "infrastructure": {name: row for name, row in table.items() if name not in services},
        "goal_idle_mb": GOAL_IDLE_MB,
        "services_over_goal_idle": sorted(
            name for name, row in services.items() if row["idle_mb"] > GOAL_IDLE_MB
        ),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Measure and record; quick loads for 8 s instead of 20 s."""
    rate, seconds = (5.0, 8.0) if quick else (10.0, 20.0)
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        data_dir = Path(folder) / "data"
        up = UpProcess(data_dir, env=SERVER_ENV, stack=True)
        try:
            figures = asyncio.run(measure(up.url, up.process.pid, data_dir, rate, seconds))
        finally:
            up.stop()
    result = {
        "command": f"python -m bench.service_rss{' --quick' if quick else ''}",
        "mode": "stack up",
        "rss_unit": "MB (10^6 bytes)",
        **figures,
        "comparisons": [
            comparison(
                f"{name}: RSS idle (under load: {row['load_peak_mb']:g} MB)",
                value=row["idle_mb"],
                unit="MB",
                peer="goal",
                peer_value=GOAL_IDLE_MB,
                goal=f"≤ {GOAL_IDLE_MB:g} MB idle",
                met=row["idle_mb"] <= GOAL_IDLE_MB,
            )
            for name, row in figures["services"].items()
        ],
    }
    write_result("service_rss", result)
    return result


def main() -> None:
    """Run from the command line."""
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
