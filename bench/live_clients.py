"""Lean live-update clients for the benchmarks: many graphql-transport-ws subscriptions.

Subscribers run in child processes (raw `websockets`, no GraphQL client library), so their CPU
is never charged to the server and the load generator's own event loop stays responsive. Each
pushed task's title carries the monotonic clock reading of when its mutation was sent
(`push <ns>`); CLOCK_MONOTONIC is system-wide on Linux, so a child computes the end-to-end
latency of every push it receives without talking to the parent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

PROTOCOL = "graphql-transport-ws"
SUBSCRIPTION = "subscription { taskEvents { kind taskId version task { title } } }"
OPEN_CONCURRENCY = 64
# Mutations in flight at once at most (see http_client).
IN_FLIGHT = 32
# Below the gateway's idle limit (TASKSTREAM_HTTP_KEEPALIVE_SECONDS, 5 s) and httpx's own 5 s:
# a connection reused just as the server closes it fails a POST with "Server disconnected"
# (at 20/s each of 100 users sends every 5 s: one such failure in some runs).
KEEPALIVE_SECONDS = 3.0
LIFETIME_SECONDS = 300.0
OTHER_EXAMPLES = 5
# The load comes from one loopback address and a few accounts: lift the abuse limits.
SERVER_ENV = {
    "TASKSTREAM_LOGIN_ATTEMPTS_PER_MINUTE": "100000",
    "TASKSTREAM_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE": "100000",
    "TASKSTREAM_MUTATIONS_PER_MINUTE": "100000",
    "TASKSTREAM_GRAPHQL_COST_PER_SECOND": "1000000000",
    "TASKSTREAM_SIGNUPS_PER_ADDRESS_PER_HOUR": "100000",
    "TASKSTREAM_MAX_CONNECTIONS_PER_ADDRESS": "1000000",
    "TASKSTREAM_MAX_WEBSOCKETS_PER_ACCOUNT": "1000000",
}


class GatewayProcess:
    """`taskstream gateway` alone (in-memory bus, no workers) over its own embedded PostgreSQL.

    The subject of the many-sockets measurement: one gateway process, as a replica runs in
    production, without the workers that `taskstream up` would run in the same process.
    """

    def __init__(self, data_dir: Path) -> None:
        from devstack._common import free_port
        from devstack.postgres import EmbeddedPostgres

        self.postgres = EmbeddedPostgres(data_dir / "postgres", durable=False)
        database_url = self.postgres.start()
        self.process: subprocess.Popen[bytes] | None = None
        try:
            env = {
                **os.environ,
                **SERVER_ENV,
                "DATABASE_URL": database_url,
                "TASKSTREAM_JWT_SECRET": secrets.token_urlsafe(48),
                "TASKSTREAM_ENV": "development",
                "TASKSTREAM_HOST": "127.0.0.1",
                "TASKSTREAM_PORT": str(free_port()),
                "TASKSTREAM_METRICS_PORT": "0",
                "TASKSTREAM_LOG_JSON": "false",
                "TASKSTREAM_LOG_LEVEL": "WARNING",
            }
            for name in ("TASKSTREAM_BUS_URL", "TASKSTREAM_BROADCAST_URL", "DAPR_HTTP_PORT"):
                env.pop(name, None)
            subprocess.run(
                [sys.executable, "-m", "cli.main", "migrate"],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            self.url = f"http://127.0.0.1:{env['TASKSTREAM_PORT']}"
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "gateway"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the gateway was not ready within {seconds:.0f} s")

    def stop(self) -> None:
        """SIGTERM the gateway (SIGKILL if it lingers), then stop PostgreSQL."""
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            self.postgres.stop()


def command_line(run: Callable[..., dict[str, Any]], description: str | None) -> None:
    """A benchmark's `main`: `--quick` or not, the result printed as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    # SIGTERM (a timeout, the bench runner) unwinds like Ctrl-C: every server started is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    print(json.dumps(run(quick=args.quick), indent=2))


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt


def progress(message: str) -> None:
    """A progress line on stderr (the result goes to stdout)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    """Raise this process's soft open-files limit to the hard one; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def stamp_title() -> str:
    """A task title that records when its mutation was sent."""
    return f"push {time.monotonic_ns()}"


async def sign_up_users(
    http: httpx.AsyncClient, count: int, prefix: str, concurrency: int = 8
) -> list[str]:
    """Sign up `count` accounts; their bearer tokens in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            response = await http.post(
                "/graphql",
                json={
                    "query": "mutation($e: String!) { signUp(email: $e, "
                    'password: "bench password") { token } }',
                    "variables": {"e": f"{prefix}-{n}@example.com"},
                },
            )
        body = response.json()
        if "errors" in body:
            raise RuntimeError(f"signUp of {prefix}-{n} failed: {body['errors']}")
        return str(body["data"]["signUp"]["token"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def create_task(
    http: aiohttp.ClientSession, token: str, gate: asyncio.Semaphore, project_id: str | None = None
) -> float:
    """One createTask with a time-stamped title (in the project when given); its time in ms.

    Releases `gate` when done.
    """
    try:
        started = time.perf_counter()
        async with http.post(
            "/graphql",
            json={
                "query": "mutation($t: String!, $p: ID) "
                "{ createTask(input: {title: $t, projectId: $p}) { id } }",
                "variables": {"t": stamp_title(), "p": project_id},
            },
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            body = await response.json()
    finally:
        gate.release()
    if "errors" in body:
        raise RuntimeError(f"createTask failed: {body['errors']}")
    return (time.perf_counter() - started) * 1000


def http_client(url: str) -> httpx.AsyncClient:
    """The load generator's client: as many connections as requests it keeps in flight.

    httpcore rescans its whole queue for every request it assigns, so thousands of queued
    requests make the client, not the server, the bottleneck: in-flight work is bounded by
    IN_FLIGHT (a semaphore) and the client never queues beyond it.
    """
    limits = httpx.Limits(
        max_connections=IN_FLIGHT,
        max_keepalive_connections=IN_FLIGHT,
        keepalive_expiry=KEEPALIVE_SECONDS,
    )
    return httpx.AsyncClient(base_url=url, timeout=60, limits=limits)


def load_client(
    url: str, connections: int = IN_FLIGHT, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> aiohttp.ClientSession:
    """The load's own client (createTask at a pace): aiohttp, on up to `connections`
    connections kept alive KEEPALIVE_SECONDS.

    The load runs on the same cores as the server it measures, so its client must cost little:
    httpx spent 2.07 ms of CPU per createTask in `stack up` at 100/s (10 % of this 2-core
    machine, taken from the services), aiohttp a fraction of that (bench/results/issue19-perf.md,
    fourteenth session). Setup and reads keep httpx (`http_client`).
    """
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(
        base_url=url,
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=60),
        trace_configs=trace_configs,
    )


@contextlib.asynccontextmanager
async def user_clients(url: str, users: int) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """One load client per user, each on connections of its own, as users' browsers are.

    `stack up`'s proxy (and a Kubernetes Service) balances connections, not requests: one
    client carrying every user's requests reuses its first connection and sends them all to
    one gateway replica (measured: 15 ms CPU per cycle on one, 1 on the other).
    """
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(load_client(url, connections=4)) for _ in range(users)
        ]


def replica_urls(url: str, data_dir: Path | None = None) -> list[str]:
    """Each gateway replica's own address: `stack up`'s (its run/stack.json in `data_dir`),
    or `url` alone (`taskstream up` is one replica)."""
    if data_dir is None:
        return [url]
    described = json.loads((data_dir / "run" / "stack.json").read_text())
    return [
        f"http://127.0.0.1:{service['appPort']}"
        for service in described["services"].values()
        if service["appId"] == "gateway"
    ]


async def warm_on_every_replica(replicas: list[str], tokens: list[str], rate: float) -> None:
    """One createTask of every user on every replica, straight to each (not through the
    proxy), at `rate`/s.

    A replica keeps per-account state of its own: the session check (10 s) and the
    rate-limit slices (60 s). The proxy balances connections, and a user idle longer than
    the load's keep-alive comes back on a new one, on whichever replica is next: warming
    users through the proxy left each warm on one replica only, and the first second of the
    next phase measured up to 100 users' first requests on a replica that had not seen
    them (36-73 ms p50 that second against 5 ms after, the phase's whole p99). That cold
    burst is measured on its own (bench/live_push.py, `cold_replica`); the phases measure
    warm users.
    """
    for replica in replicas:
        async with load_client(replica) as client:
            await paced_mutations(client, tokens, rate, len(tokens) / rate)


async def paced_mutations(
    http: aiohttp.ClientSession | Sequence[aiohttp.ClientSession],
    tokens: list[str],
    rate: float,
    seconds: float,
    projects: list[str | None] | None = None,
) -> dict[str, Any]:
    """createTask at `rate`/s for `seconds`, users in turn, at most IN_FLIGHT at a time.

    `projects`, when given, holds the project each user's tasks go to (by the index of its
    token; None: the user's personal space). Given a client per user (`user_clients`), each
    user's requests go through their own.

    Open loop while the server keeps up; once IN_FLIGHT requests are outstanding the sender
    waits (the achieved rate then falls short of `rate`, reported as rate_per_s). Bounded in
    count (rate x seconds) and time (stragglers are abandoned 30 s after the last send).
    """
    total = int(rate * seconds)
    gate = asyncio.Semaphore(IN_FLIGHT)
    started = time.perf_counter()
    pending: set[asyncio.Task[float]] = set()
    finished: list[asyncio.Task[float]] = []
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        user = n % len(tokens)
        project = projects[user] if projects is not None else None
        client = http if isinstance(http, aiohttp.ClientSession) else http[user % len(http)]
        task = asyncio.create_task(create_task(client, tokens[user], gate, project))
        pending.add(task)
        task.add_done_callback(pending.discard)
        task.add_done_callback(finished.append)
        await asyncio.sleep(0)
    sent_seconds = time.perf_counter() - started
    late: set[asyncio.Task[float]] = set()
    if pending:
        _, late = await asyncio.wait(set(pending), timeout=30)
    for task in late:
        task.cancel()
    durations = [t.result() for t in finished if not t.cancelled() and t.exception() is None]
    failures = [repr(t.exception())[:300] for t in finished if not t.cancelled() and t.exception()]
    examples = failures[:3] + ([f"{len(late)} abandoned after 30 s"] if late else [])
    return {
        "sent": total,
        "errors": total - len(durations),
        "error_examples": examples,
        "seconds": round(sent_seconds, 2),
        "rate_per_s": round(total / sent_seconds, 1),
        "durations_ms": durations,
    }


async def subscribe(ws_url: str, token: str) -> ClientConnection:
    """An authenticated socket with one taskEvents subscription."""
    ws = await websockets.connect(
        ws_url,
        subprotocols=[Subprotocol(PROTOCOL)],
        open_timeout=60,
        ping_interval=None,
    )
    authorization = {"authorization": f"Bearer {token}"}
    await ws.send(json.dumps({"type": "connection_init", "payload": authorization}))
    reply = json.loads(await ws.recv())
    if reply.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {reply}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
    return ws


@dataclass
class Received:
    """What one client process saw."""

    latencies_ms: list[float] = field(default_factory=list)
    messages: int = 0
    other: int = 0
    closed: int = 0
    # The first few messages other than a push (an error refusing a subscription, ...), kept
    # across resets: such a message usually comes when the socket subscribes.
    other_examples: list[str] = field(default_factory=list)
    # Sockets (by their index in the child) that received a push since the last reset.
    pushed: set[int] = field(default_factory=set)
    # In a report: sockets open that received no push since the last reset.
    silent: int = 0


async def _read(ws: ClientConnection, index: int, received: Received) -> None:
    try:
        async for raw in ws:
            arrived = time.monotonic_ns()
            message = json.loads(raw)
            payload = message.get("payload") or {}
            event = (payload.get("data") or {}).get("taskEvents")
            if message.get("type") != "next" or event is None or payload.get("errors"):
                # Not a push: `complete`, `error`, or a result with errors (a subscription
                # refused at its start sends one, then `complete`).
                received.other += 1
                if len(received.other_examples) < OTHER_EXAMPLES:
                    received.other_examples.append(str(raw)[:500])
                continue
            received.messages += 1
            received.pushed.add(index)
            task = event["task"] or {}
            title = str(task.get("title", ""))
            if title.startswith("push "):
                received.latencies_ms.append((arrived - int(title[5:])) / 1e6)
    except websockets.ConnectionClosed:
        pass
    received.closed += 1


async def _client(
    pipe: multiprocessing.connection.Connection, ws_url: str, tokens: list[str]
) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    received = Received()

    async def open_one(token: str) -> ClientConnection:
        async with gate:
            return await subscribe(ws_url, token)

    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    failures = 0
    try:
        for outcome in await asyncio.gather(*(open_one(t) for t in tokens), return_exceptions=True):
            if isinstance(outcome, BaseException):
                failures += 1
                continue
            sockets.append(outcome)
            readers.append(asyncio.create_task(_read(outcome, len(readers), received)))
        pipe.send({"opened": len(sockets), "failed": failures})
        # Commands: "reset" (start counting afresh), "report" (send counts), "stop"; a child
        # whose parent went silent for LIFETIME_SECONDS closes its sockets by itself.
        deadline = time.monotonic() + LIFETIME_SECONDS
        while time.monotonic() < deadline:
            if not await asyncio.to_thread(pipe.poll, 1.0):
                continue
            command = pipe.recv()
            deadline = time.monotonic() + LIFETIME_SECONDS
            if command == "count":
                pipe.send(received.messages)
            elif command == "reset":
                received.latencies_ms.clear()
                received.pushed.clear()
                received.messages = received.other = 0
                pipe.send("ok")
            elif command == "report":
                pipe.send(
                    {
                        "latencies_ms": received.latencies_ms,
                        "messages": received.messages,
                        "other": received.other,
                        "closed": received.closed,
                        "other_examples": received.other_examples,
                        "silent": len(sockets) - len(received.pushed),
                    }
                )
            else:
                break
    finally:
        # Closed together and within a bound: one at a time, thousands would take minutes.
        closing = [asyncio.create_task(ws.close()) for ws in sockets]
        if closing:
            _, late = await asyncio.wait(closing, timeout=20)
            if late:
                for ws in sockets:
                    ws.transport.abort()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def _client_process(
    pipe: multiprocessing.connection.Connection, ws_url: str, tokens: list[str]
) -> None:
    raise_fd_limit()
    asyncio.run(_client(pipe, ws_url, tokens))


class SubscriberPool:
    """Subscriptions spread over child processes; one subscription per entry of `tokens`."""

    def __init__(self, ws_url: str, tokens: list[str], processes: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[multiprocessing.connection.Connection] = []
        self._children: list[Any] = []
        for index in range(processes):
            parent, child = context.Pipe()
            share = tokens[index::processes]
            process = context.Process(
                target=_client_process, args=(child, ws_url, share), daemon=True
            )
            process.start()
            self._pipes.append(parent)
            self._children.append(process)

    async def opened(self, wait_seconds: float = 240.0) -> dict[str, int]:
        """Wait until every child opened its sockets; how many opened and failed."""
        totals = {"opened": 0, "failed": 0}
        for pipe in self._pipes:
            report = await self._recv(pipe, wait_seconds)
            for key in totals:
                totals[key] += int(report[key])
        return totals

    async def reset(self) -> None:
        """Forget what was received so far."""
        for pipe in self._pipes:
            pipe.send("reset")
            await self._recv(pipe, 30)

    async def report(self) -> Received:
        """What every child received since the last reset."""
        total = Received()
        for pipe in self._pipes:
            pipe.send("report")
            part = await self._recv(pipe, 60)
            total.latencies_ms.extend(part["latencies_ms"])
            total.messages += part["messages"]
            total.other += part["other"]
            total.closed += part["closed"]
            total.silent += part["silent"]
            room = OTHER_EXAMPLES - len(total.other_examples)
            total.other_examples.extend(part["other_examples"][:room])
        return total

    async def count(self) -> int:
        """How many pushes the children received since the last reset."""
        total = 0
        for pipe in self._pipes:
            pipe.send("count")
            total += int(await self._recv(pipe, 60))
        return total

    def pids(self) -> list[int]:
        """The child processes' pids."""
        return [int(p.pid) for p in self._children]

    def stop(self) -> None:
        """Close every socket and end the children (killed if they do not end in time)."""
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for process in self._children:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        for pipe in self._pipes:
            pipe.close()

    @staticmethod
    async def _recv(pipe: multiprocessing.connection.Connection, wait_seconds: float) -> Any:
        ready = await asyncio.to_thread(pipe.poll, wait_seconds)
        if not ready:
            raise TimeoutError("a subscriber process did not answer in time")
        return pipe.recv()
