"""Where the gateway's CPU goes per request: pyinstrument profiles of the page read and createTask.

Run: ``.venv/bin/python -m bench.profile_requests [--requests N] [--tasks N] [--only page,create]
[--cpu]``. Starts an
embedded PostgreSQL, the gateway app in-process (httpx's ASGI transport: no sockets, so what is
left is the request path itself and the SQL round trips), fills one account with tasks carrying
tags and reminders, then profiles N sequential requests of a page document
(`tasks(first: 50)` + tags + reminders), of the page_peers page (registered, so answered by
the compiled statement: kind `compiled`) and N createTask mutations. Writes the profiles as text
to bench/results/profiles/request_{page,create}.txt; with ``--cpu``, cProfile counting CPU
time to request_{page,create}_cpu.txt instead (slower per call, but blind to what other
processes do). A profile, not a benchmark: read the proportions (pyinstrument samples wall
time, on a machine shared with other work).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from bench.common import RESULTS, profiled_database
from bench.page_peers import GATEWAY_PAGE, registered_documents
from gateway.app import create_app
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport

PAGE = """
query Page($first: Int!) {
  tasks(first: $first) {
    edges { node { id title status priority dueAt tags { id name } reminders { id remindAt } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"


def task_input(n: int) -> dict[str, Any]:
    """A task with three tags and two reminders."""
    return {
        "title": f"task {n}",
        "tags": [f"tag{n % 7}", f"tag{n % 5 + 10}", "common"],
        "dueAt": "2030-01-01T10:00:00Z",
        "reminders": [{"beforeDue": 10}, {"remindAt": "2030-01-01T08:00:00Z"}],
    }


def page_variables(n: int) -> dict[str, Any]:
    """The page_peers page: the first 50."""
    return {"first": 50}


def create_variables(n: int) -> dict[str, Any]:
    """The n-th createTask's input."""
    return {"i": task_input(n)}


async def post(http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]) -> None:
    """One GraphQL request that must succeed."""
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status_code} {body}")


@contextlib.asynccontextmanager
async def in_process_gateway(tasks: int) -> AsyncIterator[tuple[httpx.AsyncClient, str, Any]]:
    """The gateway app over httpx's ASGI transport on an embedded PostgreSQL, with one account
    holding `tasks` tasks (three tags, two reminders each): the client, its token, the app."""
    # The page_peers page registered, as the bench registers it: it answers by the compiled
    # statement (graphql_schema/sqljson.py), the "compiled" kind.
    manifest = registered_documents()
    async with profiled_database(pool_size=4, graphql_trusted_documents=manifest) as (
        engine,
        settings,
    ):
        runtime = bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            signed = await http.post(
                "/graphql",
                json={
                    "query": "mutation($e: String!, $p: String!) { signUp(email: $e, "
                    "password: $p) { token } }",
                    "variables": {
                        "e": f"p-{uuid.uuid4().hex[:8]}@example.com",
                        "p": "pw pw pw",
                    },
                },
            )
            token = signed.json()["data"]["signUp"]["token"]
            for n in range(tasks):
                await post(http, token, CREATE, {"i": task_input(n)})
            yield http, token, app


def _cpu_profile(profiler: cProfile.Profile, rows: int = 60) -> str:
    """cProfile's table by own CPU time, then by cumulative CPU time."""
    text = ""
    for order in ("tottime", "cumtime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(rows)
        text += out.getvalue()
    return text


async def main(
    requests: int, tasks: int, only: set[str] | None = None, cpu: bool = False
) -> dict[str, Any]:
    """Fill, then profile each request kind; returns CPU per request (unprofiled and profiled).

    `cpu`: cProfile counting CPU time (time.process_time) instead of pyinstrument's wall-clock
    samples: slower per call, but what other processes do on the machine does not show in it.
    """
    from pyinstrument import Profiler

    figures: dict[str, Any] = {}
    async with in_process_gateway(tasks) as (http, token, _app):
        kinds: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
            "page": (PAGE, page_variables),
            "compiled": (GATEWAY_PAGE, page_variables),
            "create": (CREATE, create_variables),
        }
        for kind, (query, variables) in kinds.items():
            if only and kind not in only:
                continue
            for n in range(20):  # warm up
                await post(http, token, query, variables(n))
            started = time.process_time()
            for n in range(requests):
                await post(http, token, query, variables(n))
            plain = (time.process_time() - started) / requests * 1000
            loop = "_uvloop" if "uvloop" in type(asyncio.get_running_loop()).__module__ else ""
            out = RESULTS / "profiles" / f"request_{kind}{loop}{'_cpu' if cpu else ''}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            header = (
                f"# {'cProfile (CPU time)' if cpu else 'pyinstrument'}: {requests} sequential "
                f"{kind} requests in-process (bench/profile_requests.py); unprofiled: "
                f"{plain:.2f} ms CPU per request in this process (gateway + the client), "
                f"load average {os.getloadavg()[0]:.1f}\n"
            )
            if cpu:
                counting = cProfile.Profile(time.process_time)
                counting.enable()
                for n in range(requests):
                    await post(http, token, query, variables(n))
                counting.disable()
                out.write_text(header + _cpu_profile(counting))
            else:
                profiler = Profiler(interval=0.0005, async_mode="enabled")
                profiler.start()
                for n in range(requests):
                    await post(http, token, query, variables(n))
                profiler.stop()
                out.write_text(header + profiler.output_text(unicode=True, show_all=False))
            figures[kind] = {"cpu_ms_per_request": round(plain, 2), "profile": str(out)}
            print(f"{kind}: {plain:.2f} ms CPU per request -> {out}", flush=True)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=120)
    parser.add_argument(
        "--uvloop", action="store_true", help="run on uvloop (the services run on asyncio's loop)"
    )
    parser.add_argument("--only", help="comma-separated kinds to profile: page, compiled, create")
    parser.add_argument(
        "--cpu", action="store_true", help="cProfile counting CPU time, to request_*_cpu.txt"
    )
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if args.uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            print(runner.run(main(args.requests, args.tasks, only, args.cpu)))
    else:
        print(asyncio.run(main(args.requests, args.tasks, only, args.cpu)))
