"""Where the gateway's time goes when a change reaches a ten-member project's sockets: a profile.

Run: ``.venv/bin/python -m bench.profile_project_push [--rate R] [--seconds S] [--suffix S]``.
Serves the whole in-process system (gateway, relay, live consumer, workers: `taskstream up`'s
composition, in-memory bus) with uvicorn on an embedded PostgreSQL; the sockets are
bench/project_push.py's (ten members of one project, one taskEvents socket each; and one
personal account's ten sockets), read in child processes so that their cost stays out of the
profile. pyinstrument samples this process while createTask runs at `rate`/s for `seconds`,
once per shape. Writes bench/results/profiles/project_push_{project,personal}{SUFFIX}.txt and
prints the server's CPU per change. A profile, not a benchmark: read the proportions (wall
time, machine shared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from pyinstrument import Profiler
from starlette.types import ASGIApp

from bench.common import RESULTS, profiled_database, pushes_summary
from bench.live_clients import (
    SubscriberPool,
    http_client,
    load_client,
    paced_mutations,
    sign_up_users,
)
from bench.live_push import drained
from bench.project_push import MEMBERS, share_project
from cli.composition import local_system
from devstack._common import free_port
from taskstream.messaging.memory import MemoryTransport


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by uvicorn on a free loopback port for the block; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1_500):  # at most 30 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def main(rate: float, seconds: float, suffix: str = "") -> dict[str, Any]:
    """Profile each shape's phase; the pushes, and the server's CPU per change."""
    figures: dict[str, Any] = {}
    limits = {
        "login_attempts_per_minute": 1_000_000,
        "signups_per_address_per_hour": 1_000_000,
        "max_websockets_per_account": 1_000,
    }
    async with (
        profiled_database(**limits) as (engine, settings),
        local_system(settings, engine=engine, transport=MemoryTransport()) as app,
        serving(app) as base,
        http_client(base) as http,
        load_client(base) as load_http,
    ):
        members = await sign_up_users(http, MEMBERS, "member", concurrency=2)
        personal = await sign_up_users(http, 1, "personal")
        emails = [f"member-{n}@example.com" for n in range(MEMBERS)]
        project_id = await share_project(http, members, emails)
        ws_url = base.replace("http://", "ws://") + "/graphql"
        shapes: dict[str, tuple[list[str], list[str | None] | None, list[str]]] = {
            "project": (members, [project_id] * MEMBERS, members),
            "personal": (personal, None, personal * MEMBERS),
        }
        for name, (senders, targets, sockets) in shapes.items():
            pool = SubscriberPool(ws_url, sockets)
            try:
                await pool.opened()
                await paced_mutations(load_http, senders, 10, 2, targets)  # warm-up
                await asyncio.sleep(2)
                await pool.reset()
                profiler = Profiler(async_mode="disabled")
                cpu, wall = time.process_time(), time.perf_counter()
                profiler.start()
                load = await paced_mutations(load_http, senders, rate, seconds, targets)
                expected = (load["sent"] - load["errors"]) * MEMBERS
                await drained(pool, expected)
                profiler.stop()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                received = await pool.report()
            finally:
                pool.stop()
            path = RESULTS / "profiles" / f"project_push_{name}{suffix}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(profiler.output_text(unicode=True, show_all=False))
            figures[name] = {
                **pushes_summary(expected, received, load.pop("durations_ms")),
                "process_cpu_ms_per_change": round(cpu / max(1, load["sent"]) * 1e3, 1),
                "process_cpu_cores": round(cpu / wall, 2),
            }
    return figures


def cli() -> None:
    """Run from the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--suffix", default="", help="added to the profiles' file names (keep an earlier pair)"
    )
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments.rate, arguments.seconds, arguments.suffix))
    for name, shape in figures.items():
        print(name, shape)


if __name__ == "__main__":
    cli()
