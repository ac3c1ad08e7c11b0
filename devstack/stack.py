"""`taskstream stack up`: the distributed topology on one machine.

One OS process per service (two gateway replicas and every worker the command line names),
each beside its own real daprd; one Kafka broker (KRaft) and PostgreSQL (embedded, or
DATABASE_URL). Services talk only through Dapr. A small round-robin TCP proxy on the announced
port spreads HTTP and WebSocket connections over the gateways.

Layout of DIR (default ~/.local/share/taskstream-stack):
    postgres/  kafka/  secrets/{jwt,audit}-signing-key  kept across runs
    run/       secrets.json, rendered Dapr resources, name-resolution db, logs, pids.json
    run.previous/                                   the run before (logs for post-mortems)

Supervision: a service, a sidecar, a Kafka broker or PostgreSQL that exits while the stack runs
is started again, as a cluster would: after 1 s, then 2, 4, ... up to 30 s while it keeps
failing (a crash loop backs off rather than spins); one line on the terminal per exit and per
recovery, and a count per part in run/stack.json ("restarts"). Once shutdown begins nothing is
restarted.

Stopping (Ctrl-C/SIGTERM) goes in order: supervision, proxy, sidecars, services, Kafka,
PostgreSQL. A run killed with SIGKILL leaves run/pids.json behind; the next run stops what it
lists first (each entry is checked against the process start time, so a reused pid is never
signalled).

For fault injection, `routes` puts a TCP proxy of the stack's own (devstack.faultproxy) on a
service's link to PostgreSQL or Kafka, through that service's own secrets or Dapr resources, or
("app") between the service's sidecar and the service (the sidecar is given the proxy's port
as the app's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from devstack.balancer import RoundRobinProxy
from devstack.faultproxy import FaultProxy
from taskstream.secrets import OPTIONAL_SECRET_KEYS, SECRET_KEYS

STACK_TOPICS = ("task-events", "reminders", "notifications")
GATEWAY_REPLICAS = 2
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
# Supervision: the first restart waits BACKOFF_FIRST_SECONDS, each failure in a row doubles the
# wait up to BACKOFF_CAP_SECONDS; a part up for BACKOFF_RESET_SECONDS starts again from the first.
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
BACKOFF_RESET_SECONDS = 60.0
SUPERVISION_POLL_SECONDS = 0.5
# Variables a service must not inherit: under Dapr its secrets come from the secret store and
# its Dapr wiring from the stack.
NOT_INHERITED = (
    "DATABASE_URL",
    "TASKSTREAM_JWT_SECRET",
    "TASKSTREAM_AUDIT_KEY",
    "TASKSTREAM_BUS_URL",
    "TASKSTREAM_HOST",
    "TASKSTREAM_PORT",
    "DAPR_HTTP_PORT",
    "DAPR_GRPC_PORT",
    "DAPR_API_TOKEN",
    "APP_API_TOKEN",
)
# Per-service settings, as the Helm chart's `services.<name>.env` sets them. The workers take
# Dapr bulk deliveries: one transaction per batch, with a one-by-one fallback. Their batch forms
# change only rows of that transaction (emails and gateway calls are made after it, from rows
# or one by one), so a batch rerun one by one does nothing twice. The gateway keeps single
# deliveries: a bulk waits to fill, which would add to every live push.
BULK = {"TASKSTREAM_DAPR_BULK_SUBSCRIBE": "true"}
SERVICE_ENV: dict[str, dict[str, str]] = {
    "audit": BULK,
    "notifications": BULK,
    "recurrence": BULK,
}
# The bytes a bulk-taking service's sidecar lets its Kafka fetches wait for (at most 500 ms):
# 64 KiB is tens of events, so under load a fetch still answers in milliseconds.
BULK_FETCH_MIN_BYTES = 64 * 1024


def takes_bulks(service_name: str) -> bool:
    """Whether `service_name` takes Dapr bulk deliveries (and its sidecar's fetches wait)."""
    return SERVICE_ENV.get(service_name) == BULK


def default_stack_dir() -> Path:
    """Where `stack up` keeps its data unless told otherwise (apart from `up`'s)."""
    return Path.home() / ".local" / "share" / "taskstream-stack"


def add_stack_command(commands: Any, *, workers: Sequence[str]) -> None:
    """Register `taskstream stack up` on the command line's subparsers."""
    stack = commands.add_parser("stack", help="the distributed topology (Dapr, Kafka) locally")
    actions = stack.add_subparsers(dest="stack_command", required=True)
    up = actions.add_parser("up", help="every service as its own process beside its own daprd")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--data-dir", type=Path, default=None)
    up.add_argument(
        "--brokers",
        type=int,
        default=1,
        choices=(1, 3),
        help="Kafka brokers (3: replication factor 3, min.insync.replicas 2)",
    )
    up.add_argument(
        "--tracing",
        action="store_true",
        help="run Jaeger and send every service's spans to it (its UI URL is printed)",
    )
    up.set_defaults(handler=command_stack_up, workers=list(workers))


def command_stack_up(args: argparse.Namespace) -> int:
    """Run the stack until SIGINT/SIGTERM; 0 after a clean stop."""
    from devstack.datadir import DataDirectoryInUse

    data_dir: Path = (args.data_dir or default_stack_dir()).expanduser().resolve()
    try:
        stack = Stack(
            data_dir,
            host=args.host,
            port=args.port,
            brokers=args.brokers,
            workers=args.workers,
            tracing=args.tracing,
        )
        return asyncio.run(stack.run())
    except DataDirectoryInUse as error:
        print(f"stack up: {error}", file=sys.stderr, flush=True)
        return 1
    except StackError as error:
        print(f"stack up failed: {error}", file=sys.stderr, flush=True)
        return 1


class StackError(RuntimeError):
    """A part of the stack did not start."""


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived while the stack was starting."""


# --- processes left by a previous run ------------------------------------------------------


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


class PidFile:
    """run/pids.json: what this run started, so that a later run can clean up after a crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []

    def record(self, name: str, pid: int | None, *, stop_by_signal: bool = True) -> None:
        """Remember a started process (its process group is signalled on stale cleanup)."""
        if pid is None:
            return
        started = process_start_time(pid)
        self.entries.append(
            {"name": name, "pid": pid, "started": started, "signal": stop_by_signal}
        )
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.entries, indent=1))
        temporary.replace(self.path)

    def pids(self) -> list[int]:
        """Every recorded pid."""
        return [int(entry["pid"]) for entry in self.entries]

    @staticmethod
    def stop_stale(path: Path) -> list[str]:
        """Stop the processes a crashed run listed at `path`; returns their names."""
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            return []
        alive = [
            entry
            for entry in entries
            if entry.get("signal")
            and entry.get("started")
            and process_start_time(int(entry["pid"])) == entry["started"]
        ]
        for entry in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(entry["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for entry in alive:
            pid = int(entry["pid"])
            while process_start_time(pid) == entry["started"] and time.monotonic() < deadline:
                time.sleep(0.1)
            if process_start_time(pid) == entry["started"]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        return [str(entry["name"]) for entry in alive]


# --- supervision ---------------------------------------------------------------------------


def backoff_delay(
    failures: int, *, first: float = BACKOFF_FIRST_SECONDS, cap: float = BACKOFF_CAP_SECONDS
) -> float:
    """The wait before the `failures`-th restart in a row (1-based): doubling, capped."""
    return min(cap, first * 2.0 ** max(0, failures - 1))


@dataclass
class Supervised:
    """One part of the stack that supervision restarts when it exits."""

    name: str
    alive: Callable[[], bool]
    # Starts the part again; returns once it is ready, raises when it did not come up.
    start: Callable[[], Awaitable[None]]
    describe_exit: Callable[[], str] = lambda: "exited"
    restarts: int = 0
    # Failed starts since the part was last up for BACKOFF_RESET_SECONDS.
    failures: int = 0
    up_since: float = field(default_factory=time.monotonic)
    # Stopped on purpose (fault injection): left alone until started again by whoever stopped it.
    held: bool = False
    recovering: asyncio.Task[None] | None = None


# --- services ------------------------------------------------------------------------------


@dataclass
class Service:
    """One service process of the stack and its sidecar."""

    name: str
    app_id: str
    command: list[str]
    app_port: int
    sidecar: Any = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)
    env: dict[str, str] = field(default_factory=dict)
    # Where the service serves /metrics (on 127.0.0.1; never its app port).
    metrics_port: int = 0


class Stack:
    """Starts, supervises and stops one stack."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str,
        port: int,
        workers: Sequence[str],
        brokers: int = 1,
        tracing: bool = False,
        routes: Mapping[str, Sequence[str]] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.workers = sorted(workers)
        self.tracing = tracing
        self.jaeger: Any = None
        # Links routed through a fault proxy: service name -> dependencies ("postgres", "kafka").
        self.routes = {name: tuple(deps) for name, deps in (routes or {}).items()}
        self.links: dict[str, FaultProxy] = {}
        # Extra environment per service (fault injection: a faked clock), over the stack's own.
        self.service_env = {name: dict(env) for name, env in (service_env or {}).items()}
        self.data_dir = data_dir
        self.run_dir = data_dir / "run"
        self.host = host
        self.port = port
        self.brokers = brokers
        self.services: list[Service] = []
        self.pidfile = PidFile(self.run_dir / "pids.json")
        self.url = ""
        self.database_url = ""
        self.kafka: Any = None
        self.postgres: Any = None
        self._stop = asyncio.Event()
        # Set once shutdown begins: from then on nothing is restarted.
        self._stopping = asyncio.Event()
        self.supervised: dict[str, Supervised] = {}
        # First wait and cap of the restart backoff (seconds).
        self.backoff = (BACKOFF_FIRST_SECONDS, BACKOFF_CAP_SECONDS)
        self._supervisor: asyncio.Task[None] | None = None
        self._recovered = asyncio.Condition()
        self._brokers = ""
        self._cleanup: contextlib.AsyncExitStack | None = None
        # True once this stack holds the data directory's lock (devstack.datadir).
        self._owned = False

    # --- control, for fault injection: the stack as an object rather than a command ---------

    async def __aenter__(self) -> Stack:
        """Start everything (no signal handling); the stack runs until the block ends."""
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self._cleanup = contextlib.AsyncExitStack()
        try:
            await self._start(self._cleanup)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop everything, in the same order as `stack up` does."""
        cleanup, self._cleanup = self._cleanup, None
        if cleanup is not None:
            await cleanup.aclose()

    def service(self, name: str) -> Service:
        """The service called `name` (gateway-1, gateway-2, audit, notifications, ...)."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def _hold(self, name: str, held: bool) -> None:
        if name in self.supervised:
            self.supervised[name].held = held

    def kill(self, name: str) -> None:
        """SIGKILL a service's process group and keep it down until `restart` (not supervised)."""
        self._hold(name, True)
        process = self.service(name).process
        assert process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    async def restart(self, name: str) -> None:
        """Start a stopped service again as it was first started; returns once it is ready."""
        await self._start_service(self.service(name))
        await self._wait_ready([self.service(name)])
        self._hold(name, False)

    def kill_sidecar(self, name: str) -> None:
        """SIGKILL the daprd beside a service and keep it down until `restart_sidecar`."""
        self._hold(f"daprd-{name}", True)
        self.service(name).sidecar.kill()

    async def restart_sidecar(self, name: str) -> None:
        """Start a killed daprd again on its ports; returns once it reaches its app."""
        service = self.service(name)
        await self._start_sidecar(service)
        await self._wait_ready([service])
        self._hold(f"daprd-{name}", False)

    def crash(self, name: str) -> None:
        """SIGKILL a supervised part by its name (a service, `daprd-<service>`, `kafka-<n>` or
        `postgres`): an unexpected exit, which supervision is to repair."""
        if name == "postgres":
            pid = self.postgres.postmaster_pid() if self.postgres is not None else None
            if pid is None:
                raise StackError("PostgreSQL is not the stack's own, or is not running")
            os.kill(pid, signal.SIGKILL)
            return
        if name.startswith("kafka-"):
            pid = self.kafka.pids[int(name.removeprefix("kafka-")) - 1]
        elif name.startswith("daprd-"):
            pid = self.service(name.removeprefix("daprd-")).sidecar.pid
        else:
            process = self.service(name).process
            assert process is not None
            pid = process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def restarts(self) -> Counter[str]:
        """How many times supervision has restarted each part (by name) in this run."""
        return Counter({name: part.restarts for name, part in self.supervised.items()})

    async def recovered(self, name: str, restarts: int = 1) -> None:
        """Return once supervision has restarted `name` at least `restarts` times in this run."""
        async with self._recovered:
            await self._recovered.wait_for(lambda: self.supervised[name].restarts >= restarts)

    async def stop_broker(self, node: int = 0) -> None:
        """Stop one Kafka broker (0-based) and keep it down until `start_broker`."""
        self._hold(f"kafka-{node + 1}", True)
        await asyncio.to_thread(self.kafka.stop_node, node)

    async def start_broker(self, node: int = 0) -> None:
        """Start a stopped Kafka broker again; returns once it answers."""
        await asyncio.to_thread(self.kafka.start_node, node)
        self.pidfile.record(f"kafka-{node + 1}", self.kafka.pids[node])
        self._hold(f"kafka-{node + 1}", False)

    async def restart_postgres(self) -> None:
        """Stop PostgreSQL (fast shutdown: sessions are cut) and start it on the same port."""
        if self.postgres is None:
            raise StackError("PostgreSQL is not the stack's own (DATABASE_URL was given)")
        self._hold("postgres", True)
        try:
            await asyncio.to_thread(self.postgres.stop)
            await asyncio.to_thread(self.postgres.start)
        finally:
            self._hold("postgres", False)

    async def run(self) -> int:
        """Start everything, serve until a signal, stop everything; 0 after a clean stop."""
        # One line per health poll would drown the one line that matters.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            async with contextlib.AsyncExitStack() as cleanup:
                try:
                    await self._start(cleanup)
                except Interrupted:
                    return 0
                await self._supervise()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if self._owned:
                print("Taskstream stopped", flush=True)
        return 0

    def _check(self) -> None:
        if self._stop.is_set():
            raise Interrupted

    async def _start(self, cleanup: contextlib.AsyncExitStack) -> None:
        from devstack.dapr_resources import render_dapr_resources
        from devstack.datadir import DataDirectoryLock
        from taskstream.auth import load_or_create_signing_key, load_or_create_vapid_key
        from taskstream.settings import get_settings

        settings = get_settings()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Before anything is stopped or moved: a second stack on this directory must leave the
        # running one alone (its pids.json is not stale). Held until the stack has stopped.
        lock = DataDirectoryLock(self.data_dir)
        lock.acquire()
        self._owned = True
        cleanup.callback(lock.release)
        # Run last but one, after every process has stopped, and while the lock is still held
        # (after it, the file may be the next run's).
        cleanup.callback((self.run_dir / "pids.json").unlink, missing_ok=True)
        stale = PidFile.stop_stale(self.run_dir / "pids.json")
        if stale:
            print(f"stopped what a previous run left: {', '.join(stale)}", flush=True)
        if self.run_dir.exists():
            previous = self.data_dir / "run.previous"
            shutil.rmtree(previous, ignore_errors=True)
            self.run_dir.rename(previous)
        (self.run_dir / "logs").mkdir(parents=True)
        self.run_dir.chmod(0o700)

        database_url, state_connection = await self._start_postgres(cleanup, settings.database_url)
        self.database_url = database_url
        self._check()
        brokers = await self._start_kafka(cleanup)
        self._check()
        await self._migrate(database_url)
        self._check()
        if self.tracing:
            await self._start_jaeger(cleanup)
            self._check()

        jwt_key = (
            settings.jwt_secret.get_secret_value()
            if settings.jwt_secret is not None
            else load_or_create_signing_key(self.data_dir / "secrets" / "jwt-signing-key")
        )
        audit_key = (
            settings.audit_key.get_secret_value()
            if settings.audit_key is not None
            else load_or_create_signing_key(self.data_dir / "secrets" / "audit-signing-key")
        )
        vapid_key = (
            settings.vapid_private_key.get_secret_value()
            if settings.vapid_private_key is not None
            else load_or_create_vapid_key(self.data_dir / "secrets" / "vapid-private-key")
        )
        tokens = {"dapr": _token(), "app": _token()}

        def write_secrets(path: Path, database: str, state: str) -> Path:
            path.touch(mode=0o600)
            secrets = {
                SECRET_KEYS["jwt_secret"]: jwt_key,
                SECRET_KEYS["database_url"]: database,
                OPTIONAL_SECRET_KEYS["audit_key"]: audit_key,
                OPTIONAL_SECRET_KEYS["vapid_private_key"]: vapid_key,
                "state-connection-string": state,
                # For operators' reference; daprd and the apps get them in their environment.
                "dapr-api-token": tokens["dapr"],
                "app-api-token": tokens["app"],
            }
            path.write_text(json.dumps(secrets, indent=1))
            return path

        secrets_file = write_secrets(self.run_dir / "secrets.json", database_url, state_connection)
        shared_resources = functools.partial(
            render_dapr_resources,
            kafka_brokers=brokers,
            name_resolution_db=self.run_dir / "nameresolution.db",
            secrets_file=secrets_file,
            otlp_endpoint=None if self.jaeger is None else self.jaeger.otlp_address,
        )
        resources = shared_resources(self.run_dir / "dapr")
        bulk_resources = shared_resources(
            self.run_dir / "dapr-bulk", consumer_fetch_min=BULK_FETCH_MIN_BYTES
        )
        env = "development" if "env" not in settings.model_fields_set else settings.env
        self.services = self._plan()
        # A routed service gets its own secrets and Dapr resources, naming its links' proxies.
        own_resources: dict[str, Any] = {}
        for service in self.services:
            links = self.routes.get(service.name, ())
            if not links:
                if takes_bulks(service.name):
                    own_resources[service.name] = bulk_resources
                continue
            database, state = database_url, state_connection
            if "postgres" in links:
                from sqlalchemy.engine import make_url

                target = make_url(database_url)
                link = await self._proxy(
                    cleanup,
                    f"{service.name}->postgres",
                    target.host or "127.0.0.1",
                    target.port or 5432,
                )
                database = _with_port(database_url, link.port)
                state = _state_connection(database)
            if "app" in links:
                from devstack._common import free_port

                # Listening only once the app does: daprd takes an open app port for a ready app.
                app_link = FaultProxy(
                    f"{service.name}->app", "127.0.0.1", service.app_port, port=free_port()
                )
                self.links[app_link.name] = app_link
                listening = asyncio.create_task(app_link.start_when_target_listens())
                cleanup.push_async_callback(app_link.stop)
                cleanup.callback(listening.cancel)
            kafka = brokers
            if "kafka" in links:
                kafka = f"127.0.0.1:{self.links[f'{service.name}->kafka'].port}"
            own_resources[service.name] = render_dapr_resources(
                self.run_dir / f"dapr-{service.name}",
                kafka_brokers=kafka,
                name_resolution_db=self.run_dir / "nameresolution.db",
                secrets_file=write_secrets(
                    self.run_dir / f"secrets-{service.name}.json", database, state
                ),
                consumer_fetch_min=BULK_FETCH_MIN_BYTES if takes_bulks(service.name) else 1,
            )
        cleanup.push_async_callback(self._stop_services)
        cleanup.push_async_callback(self._stop_sidecars)
        await self._start_services(resources, tokens, env, own_resources)
        self._check()
        proxy = RoundRobinProxy(
            self.host, self.port, [s.app_port for s in self.services if s.app_id == "gateway"]
        )
        try:
            port = await proxy.start()
        except OSError as error:
            raise StackError(f"could not listen on {self.host}:{self.port}: {error}") from error
        cleanup.push_async_callback(proxy.stop)
        self.url = f"http://{self.host}:{port}"
        self._brokers = brokers
        self._supervise_parts(cleanup)
        self._describe(self.url, brokers)
        print(f"Taskstream is up at {self.url}", flush=True)

    async def _start_jaeger(self, cleanup: contextlib.AsyncExitStack) -> None:
        """Jaeger for the services' spans (`--tracing`), stopped after them."""
        from devstack._common import LocalInfraError
        from devstack.jaeger import Jaeger, ensure_jaeger

        binary = await asyncio.to_thread(ensure_jaeger)
        self.jaeger = Jaeger(self.run_dir / "jaeger", binary=binary)
        try:
            await asyncio.to_thread(self.jaeger.start)
        except LocalInfraError as error:
            raise StackError(f"Jaeger did not start: {error}") from error
        cleanup.callback(self.jaeger.stop)
        self.pidfile.record("jaeger", self.jaeger.pid)
        without_ui = (
            ""
            if self.jaeger.ui_assets
            else " - query API only: its UI is built apart (docs/operations.md#logs-and-traces)"
        )
        print(f"Traces at {self.jaeger.ui_url} (Jaeger){without_ui}", flush=True)

    def _describe(self, url: str, brokers: str) -> None:
        """run/stack.json: where everything listens, for operators and tests."""
        description = {
            "url": url,
            "kafka": brokers,
            "jaeger": self.jaeger.ui_url if self.jaeger is not None else None,
            "services": {
                s.name: {
                    "appId": s.app_id,
                    "appPort": s.app_port,
                    "metricsPort": s.metrics_port,
                    "daprHttpPort": s.sidecar.dapr_http_port,
                    "daprMetricsPort": s.sidecar.metrics_port,
                    "log": str(s.log_path),
                    "daprLog": str(s.sidecar.log_path),
                    "daprResources": [str(path) for path in s.sidecar.resources_paths],
                }
                for s in self.services
            },
            # Restarts by supervision in this run, by part.
            "restarts": {name: part.restarts for name, part in self.supervised.items()},
        }
        (self.run_dir / "stack.json").write_text(json.dumps(description, indent=1))

    async def _start_postgres(
        self, cleanup: contextlib.AsyncExitStack, given: str | None
    ) -> tuple[str, str]:
        """The database URL (SQLAlchemy) and the same database as a pgx connection string."""
        if given is None:
            from devstack.postgres import EmbeddedPostgres

            server = EmbeddedPostgres(self.data_dir / "postgres")
            self.postgres = server
            given = await asyncio.to_thread(server.start)
            cleanup.callback(server.stop)
            postmaster = self.data_dir / "postgres" / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                # Recorded for the record (and tests); a later run stops it with pg_ctl.
                pid = int(postmaster.read_text().splitlines()[0])
                self.pidfile.record("postgres", pid, stop_by_signal=False)
        return given, _state_connection(given)

    async def _start_kafka(self, cleanup: contextlib.AsyncExitStack) -> str:
        from devstack import KafkaBroker
        from devstack._common import free_port
        from taskstream.messaging.bus import dead_letter_topic
        from taskstream.messaging.kafka import KafkaOptions, KafkaTransport

        # Three brokers: every topic on all three, and a write needs two of them.
        config = {"min.insync.replicas": "2"} if self.brokers > 1 else {}
        # A routed sidecar reaches Kafka through its proxy only if the broker tells it to: a
        # listener of its own whose advertised port is the proxy's (the one broker's).
        listeners: dict[str, tuple[int, int]] = {}
        for name, links in sorted(self.routes.items()):
            if "kafka" not in links:
                continue
            if self.brokers != 1:
                raise StackError("a link to Kafka can be routed through a proxy with one broker")
            proxy = await self._proxy(cleanup, f"{name}->kafka", "127.0.0.1", free_port())
            listeners[f"ROUTED{len(listeners) + 1}"] = (proxy.target_port, proxy.port)
        broker = KafkaBroker(
            node_count=self.brokers,
            data_dir=self.data_dir / "kafka",
            config=config,
            extra_listeners=listeners,
        )
        self.kafka = broker
        try:
            await asyncio.to_thread(broker.start)
        except Exception as error:
            raise StackError(f"Kafka did not start: {error}") from error
        cleanup.callback(broker.stop)
        for index, pid in enumerate(broker.pids):
            self.pidfile.record(f"kafka-{index + 1}", pid)
        # As Strimzi's KafkaTopics do in a cluster: every topic and its dead-letter topic.
        await KafkaTransport(
            KafkaOptions(
                broker.bootstrap_servers, partitions=3, replication_factor=min(3, self.brokers)
            ),
            app_id="stack",
        ).ensure_topics(set(STACK_TOPICS) | {dead_letter_topic(t) for t in STACK_TOPICS})
        return broker.bootstrap_servers

    async def _migrate(self, database_url: str) -> None:
        """`taskstream migrate`, once, as the migration Job does in a cluster."""
        env = {**os.environ, "DATABASE_URL": database_url}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cli.main", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"taskstream migrate failed:\n{done.stderr[-2000:]}")

    def _plan(self) -> list[Service]:
        from devstack._common import free_ports

        names = [f"gateway-{n}" for n in range(1, GATEWAY_REPLICAS + 1)] + self.workers
        ports = free_ports(2 * len(names))
        services = []
        for name, port, metrics_port in zip(
            names, ports[: len(names)], ports[len(names) :], strict=True
        ):
            app_id = "gateway" if name.startswith("gateway-") else name
            command = ["gateway"] if app_id == "gateway" else ["worker", name]
            services.append(
                Service(
                    name,
                    app_id,
                    [sys.executable, "-m", "cli.main", *command],
                    port,
                    log_path=self.run_dir / "logs" / f"{name}.log",
                    metrics_port=metrics_port,
                )
            )
        return services

    async def _proxy(
        self, cleanup: contextlib.AsyncExitStack, name: str, host: str, port: int
    ) -> FaultProxy:
        """A fault proxy named `name` forwarding to `host`:`port`, started (stopped by
        `cleanup`) and listed in `links`."""
        proxy = FaultProxy(name, host, port)
        await proxy.start()
        cleanup.push_async_callback(proxy.stop)
        self.links[name] = proxy
        return proxy

    def link(self, service: str, dependency: str) -> FaultProxy:
        """The proxy on `service`'s link to `dependency` ("postgres" or "kafka"; "app": from
        its sidecar to it), as routed."""
        return self.links[f"{service}->{dependency}"]

    async def _start_services(
        self,
        resources: Any,
        tokens: dict[str, str],
        env_name: str,
        own_resources: dict[str, Any] | None = None,
    ) -> None:
        from devstack import Daprd, ensure_daprd
        from devstack._common import spawn

        daprd = await asyncio.to_thread(ensure_daprd)

        inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        token_env = {"DAPR_API_TOKEN": tokens["dapr"], "APP_API_TOKEN": tokens["app"]}
        for service in self.services:
            # The sidecar reaches its app through the "app" link's proxy when one is routed.
            app_link = self.links.get(f"{service.name}->app")
            service.sidecar = Daprd(
                service.app_id,
                app_port=service.app_port if app_link is None else app_link.port,
                resources_paths=[(own_resources or {}).get(service.name, resources).resources_dir],
                config_path=(own_resources or {}).get(service.name, resources).config_path,
                work_dir=self.run_dir / "dapr" / service.name,
                log_level="warn",
                env=token_env,
                daprd_path=daprd,
                # No app health check (--enable-app-health-check): when it finds the app down,
                # Dapr 1.16's Kafka subscriber closes the subscription under the deliveries in
                # flight and never takes them up again (tests/faults: a worker killed for 4 s
                # lost every event of those seconds). Without it, a delivery to a dead app is
                # retried by the Resiliency policy (about 150 s) and then dead-lettered.
            )

        def start_sidecar(service: Service) -> None:
            service.sidecar.start()

        # Sidecars first (the apps read their secrets from them), one at a time: on a fresh
        # database the state store's sidecars create Dapr's tables, and two concurrent
        # CREATE ... IF NOT EXISTS race in PostgreSQL ("type dapr_metadata already exists",
        # seen in tests/faults). Each is healthy in 0.1-0.25 s, so this costs about a second.
        # Off the event loop: a link's fault proxy runs in it, and a sidecar waits on its link.
        failures = []
        for service in self.services:
            error = await asyncio.to_thread(_capture(start_sidecar), service)
            if error is not None:
                failures.append(error)
        for service in self.services:
            self.pidfile.record(f"daprd-{service.name}", service.sidecar.pid)
        if failures:
            raise StackError(f"a Dapr sidecar did not start: {failures[0]}")
        for service in self.services:
            env = {
                **inherited,
                **token_env,
                "TASKSTREAM_ENV": env_name,
                "TASKSTREAM_BUS_URL": f"dapr://127.0.0.1:{service.sidecar.dapr_http_port}",
                # Live updates reach every gateway replica through PostgreSQL LISTEN/NOTIFY.
                "TASKSTREAM_BROADCAST_URL": "database",
                "DAPR_HTTP_PORT": str(service.sidecar.dapr_http_port),
                "DAPR_GRPC_PORT": str(service.sidecar.dapr_grpc_port),
                "TASKSTREAM_HOST": "127.0.0.1",
                "TASKSTREAM_PORT": str(service.app_port),
                "TASKSTREAM_METRICS_HOST": "127.0.0.1",
                "TASKSTREAM_METRICS_PORT": str(service.metrics_port),
                "TASKSTREAM_DATA_DIR": str(self.data_dir / "services" / service.name),
                **SERVICE_ENV.get(service.name, {}),
                **self.service_env.get(service.name, {}),
            }
            if self.jaeger is not None:
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.jaeger.otlp_endpoint
                env["OTEL_SERVICE_NAME"] = f"taskstream-{service.name}"
            if service.app_id == "gateway":
                # The stack's TCP proxy names each client in a PROXY line; without it every
                # client would share the proxy's address (and its per-address caps).
                env["TASKSTREAM_PROXY_PROTOCOL_FROM"] = "127.0.0.1"
            service.env = env
            service.process = spawn(service.command, service.log_path, env=env)
            self.pidfile.record(service.name, service.process.pid)
        await self._wait_ready(self.services)

    async def _wait_ready(self, services: list[Service]) -> None:
        """Every service answers /readyz and every sidecar reaches its app."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2.0) as client:
            pending = list(services)
            while pending:
                self._check()
                for service in list(pending):
                    assert service.process is not None
                    if service.process.poll() is not None:
                        raise StackError(
                            f"{service.name} exited with {service.process.returncode}:\n"
                            f"{_tail(service.log_path)}"
                        )
                    if await _ready(client, service):
                        pending.remove(service)
                if time.monotonic() > deadline:
                    names = ", ".join(s.name for s in pending)
                    raise StackError(f"not ready within {READY_TIMEOUT_SECONDS:.0f}s: {names}")
                await asyncio.sleep(0.2)

    async def _supervise(self) -> None:
        """Wait for a signal (supervision runs beside, from the end of start-up)."""
        await self._stop.wait()

    # --- supervision ----------------------------------------------------------------------

    def _supervise_parts(self, cleanup: contextlib.AsyncExitStack) -> None:
        """Watch every process of the stack from now on; stopped first at shutdown."""
        parts: list[Supervised] = []
        for service in self.services:
            parts.append(
                Supervised(
                    service.name,
                    alive=_bind_alive(service),
                    start=_bind_async(self._restart_service, service),
                    describe_exit=_bind_exit(service),
                )
            )
            parts.append(
                Supervised(
                    f"daprd-{service.name}",
                    alive=_bind_sidecar_alive(service),
                    start=_bind_async(self._restart_sidecar, service),
                )
            )
        for node in range(len(self.kafka.pids) if self.kafka is not None else 0):
            parts.append(
                Supervised(
                    f"kafka-{node + 1}",
                    alive=_bind_node_alive(self.kafka, node),
                    start=_bind_async(self._restart_broker, node),
                )
            )
        if self.postgres is not None:
            server = self.postgres
            parts.append(
                Supervised(
                    "postgres",
                    alive=lambda: server.postmaster_pid() is not None,
                    start=self._restart_postgres,
                )
            )
        self.supervise(parts)
        cleanup.push_async_callback(self.stop_supervision)

    def supervise(self, parts: list[Supervised]) -> None:
        """Restart each of `parts` whenever it is found dead, until `stop_supervision`."""
        self.supervised = {part.name: part for part in parts}
        self._supervisor = asyncio.create_task(self._supervision(), name="stack supervision")

    async def _supervision(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            for part in self.supervised.values():
                if part.held or (part.recovering is not None and not part.recovering.done()):
                    continue
                if part.alive():
                    if part.failures and now - part.up_since > BACKOFF_RESET_SECONDS:
                        part.failures = 0
                    continue
                part.recovering = asyncio.create_task(self._recover(part), name=part.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SUPERVISION_POLL_SECONDS)

    async def _recover(self, part: Supervised) -> None:
        """Start one exited part again after its backoff; a failed start doubles the next wait."""
        part.failures += 1
        delay = backoff_delay(part.failures, first=self.backoff[0], cap=self.backoff[1])
        print(
            f"supervision: {part.name} {part.describe_exit()}; restarting in {delay:g} s "
            f"(attempt {part.failures})",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        if self._stopping.is_set() or part.held:
            return
        try:
            await part.start()
        except Exception as error:  # anything: the part stays down and is tried again
            if self._stopping.is_set():
                return
            print(
                f"supervision: {part.name} did not come back: {_first_line(error)}",
                file=sys.stderr,
                flush=True,
            )
            return
        if self._stopping.is_set():
            return
        part.restarts += 1
        part.up_since = time.monotonic()
        print(
            f"supervision: {part.name} is back and ready (restart {part.restarts})",
            file=sys.stderr,
            flush=True,
        )
        if self.url:
            self._describe(self.url, self._brokers)
        async with self._recovered:
            self._recovered.notify_all()

    async def stop_supervision(self) -> None:
        """Stop restarting; wait for restarts under way (each gives up once it sees the flag)."""
        self._stopping.set()
        tasks = [p.recovering for p in self.supervised.values() if p.recovering is not None]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        # A broker or PostgreSQL part-way through its start is let finish (a start abandoned in
        # its thread would leave a process behind); only one that hangs is cut short.
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS) if tasks else ((), ())
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _start_service(self, service: Service) -> None:
        from devstack._common import spawn

        assert service.process is not None and service.process.poll() is not None
        service.process = spawn(service.command, service.log_path, env=service.env)
        self.pidfile.record(service.name, service.process.pid)

    async def _start_sidecar(self, service: Service) -> None:
        # kill() reaps a daprd that died on its own (start() refuses while one is recorded).
        service.sidecar.kill()
        await asyncio.to_thread(service.sidecar.start)
        self.pidfile.record(f"daprd-{service.name}", service.sidecar.pid)

    async def _restart_service(self, service: Service) -> None:
        await self._start_service(service)
        if not await self._ready_again(service):
            raise StackError(f"{service.name} was not ready again")

    async def _restart_sidecar(self, service: Service) -> None:
        await self._start_sidecar(service)
        if not await self._ready_again(service):
            raise StackError(f"{service.name} did not become ready beside its new sidecar")

    async def _restart_broker(self, node: int) -> None:
        await asyncio.to_thread(self.kafka.start_node, node)
        self.pidfile.record(f"kafka-{node + 1}", self.kafka.pids[node])

    async def _restart_postgres(self) -> None:
        # Crash recovery (replaying the WAL) happens as the postmaster starts.
        await asyncio.to_thread(self.postgres.start)

    async def _ready_again(self, service: Service) -> bool:
        """Whether a restarted service became ready (False once it exits or shutdown begins)."""
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=2.0) as client:
            while not self._stopping.is_set() and time.monotonic() < deadline:
                assert service.process is not None
                if service.process.poll() is not None:
                    return False
                if await _ready(client, service):
                    return True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 0.2)
        return False

    async def _stop_sidecars(self) -> None:
        await asyncio.to_thread(
            _in_parallel, [s.sidecar.stop for s in self.services if s.sidecar is not None]
        )

    async def _stop_services(self) -> None:
        from devstack._common import terminate

        processes = [s.process for s in self.services if s.process is not None]
        await asyncio.to_thread(
            _in_parallel, [_bind(terminate, p, STOP_TIMEOUT_SECONDS) for p in processes]
        )


async def _ready(client: httpx.AsyncClient, service: Service) -> bool:
    try:
        app = await client.get(f"http://127.0.0.1:{service.app_port}/readyz")
        sidecar = await client.get(f"{service.sidecar.http_endpoint}/v1.0/healthz")
    except httpx.HTTPError:
        return False
    return app.status_code == 200 and sidecar.status_code == 204


def _state_connection(given: str) -> str:
    """The same database as a pgx connection string (Dapr's state store)."""
    from sqlalchemy.engine import make_url

    url = make_url(given)
    ssl = "disable" if url.host in ("127.0.0.1", "localhost") else "prefer"
    password = f":{quote(url.password, safe='')}" if url.password else ""
    return (
        f"postgres://{quote(url.username or 'postgres', safe='')}{password}"
        f"@{url.host or '127.0.0.1'}:{url.port or 5432}/{url.database}?sslmode={ssl}"
    )


def _with_port(given: str, port: int) -> str:
    """A database URL pointing at 127.0.0.1:`port` instead (a fault proxy)."""
    from sqlalchemy.engine import make_url

    return make_url(given).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _bind_alive(service: Service) -> Callable[[], bool]:
    return lambda: service.process is not None and service.process.poll() is None


def _bind_exit(service: Service) -> Callable[[], str]:
    def describe() -> str:
        code = service.process.returncode if service.process is not None else None
        return f"exited with {code}; see {service.log_path}"

    return describe


def _bind_sidecar_alive(service: Service) -> Callable[[], bool]:
    return lambda: bool(service.sidecar.running)


def _bind_node_alive(kafka: Any, node: int) -> Callable[[], bool]:
    return lambda: bool(kafka.node_running(node))


def _bind_async(
    function: Callable[[Any], Awaitable[None]], argument: Any
) -> Callable[[], Awaitable[None]]:
    return lambda: function(argument)


def _token() -> str:
    import secrets

    return secrets.token_urlsafe(32)


def _tail(path: Path, lines: int = 30) -> str:
    from devstack._common import tail

    return tail(path, lines)


def _capture(function: Callable[[Service], None]) -> Callable[[Service], Exception | None]:
    def run(service: Service) -> Exception | None:
        try:
            function(service)
        except Exception as error:
            return error
        return None

    return run


def _bind(function: Callable[..., object], *args: object) -> Callable[[], object]:
    return lambda: function(*args)


def _in_parallel(calls: Iterable[Callable[[], object]]) -> None:
    calls = list(calls)
    if not calls:
        return
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()
