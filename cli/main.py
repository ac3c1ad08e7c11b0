"""The `taskstream` command: the composition root of every way Taskstream runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import uvicorn
from starlette.types import ASGIApp

from cli.composition import WORKERS, load_worker, local_system
from taskstream.bootstrap import bootstrap
from taskstream.edge import server_config
from taskstream.service import Service
from taskstream.settings import Settings, get_settings

if TYPE_CHECKING:
    from workers.audit.report import Report

SCHEMA_SDL = Path(__file__).resolve().parents[1] / "graphql_schema" / "schema.graphql"
EVENT_SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "events"


def default_data_dir(settings: Settings) -> Path:
    """Where `up` keeps its data without `--data-dir`: TASKSTREAM_DATA_DIR, else the home's."""
    return settings.data_dir or Path.home() / ".local" / "share" / "taskstream"


class _MetricsServer(uvicorn.Server):
    """The metrics listener: stopped by the main server's end, not by signals of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGINT/SIGTERM to the main server (which then stops this one)."""
        yield


async def _start_metrics(
    app: ASGIApp, settings: Settings
) -> tuple[_MetricsServer, asyncio.Task[None]]:
    """Listen for /metrics on the metrics host and port; fails when it cannot listen."""
    server = _MetricsServer(
        uvicorn.Config(
            app,
            host=settings.metrics_host,
            port=settings.metrics_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - as _serve does
        await asyncio.sleep(0.02)
    if not server.started:
        raise SystemExit(
            f"could not listen on {settings.metrics_host}:{settings.metrics_port} for /metrics "
            "(TASKSTREAM_METRICS_HOST / TASKSTREAM_METRICS_PORT)"
        )
    return server, serving


def _metrics_port(server: uvicorn.Server, default: int) -> int:
    """The port a started server listens on (the chosen one when it was 0)."""
    if server.servers and server.servers[0].sockets:
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port
    return default


async def _serve(
    app: ASGIApp,
    settings: Settings,
    *,
    announce: bool,
    lifespan: Literal["on", "off"] = "on",
    cap_addresses: bool = True,
    metrics: ASGIApp | None = None,
) -> None:
    """Serve `app` (and `metrics` on its own loopback listener) until told to stop."""
    # The app's port is bound first: a metrics port of 0 lets the OS pick any free port, and
    # it could pick the app's own port when a caller has just probed it free and closed it.
    listener = _bind_listener(settings.host, settings.port)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(listener.close)
        if metrics is not None:
            metrics_server, metrics_serving = await _start_metrics(metrics, settings)
            stack.push_async_callback(_stop_metrics, metrics_server, metrics_serving)
            if announce:
                port = _metrics_port(metrics_server, settings.metrics_port)
                print(f"Metrics at http://{settings.metrics_host}:{port}/metrics", flush=True)
        await _serve_app(
            app,
            settings,
            listener,
            announce=announce,
            lifespan=lifespan,
            cap_addresses=cap_addresses,
        )


def _bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` (not yet listening); exits when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise SystemExit(f"could not listen on {host}:{port}: {error.strerror}") from error
    return listener


async def _stop_metrics(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    """Stop the /metrics listener once the app's server has stopped."""
    server.should_exit = True
    await serving


async def _serve_app(
    app: ASGIApp,
    settings: Settings,
    listener: socket.socket,
    *,
    announce: bool,
    lifespan: Literal["on", "off"] = "on",
    cap_addresses: bool = True,
) -> None:
    config = server_config(
        app,
        settings,
        lifespan=lifespan,
        # Workers are called by their sidecar alone, over many connections from loopback.
        cap_addresses=cap_addresses,
        log_level="warning",
        # A WebSocket message may be no larger than an HTTP request body.
        ws_max_size=settings.graphql_max_body_bytes,
        # Per-message deflate keeps two zlib streams per socket (~40 KiB) and compresses every
        # push once per socket; live messages are small JSON, so it costs more than it saves.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    # uvicorn exposes readiness only as a flag, so poll it briefly.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    if server.started:
        _settle_garbage_collector()
    if server.started and announce:
        port = listener.getsockname()[1]
        print(f"Taskstream is up at http://{settings.host}:{port}", flush=True)
    await serving
    if not server.started:
        raise SystemExit(f"did not start serving on {settings.host}:{settings.port}")


def _settle_garbage_collector() -> None:
    """Keep what startup built (modules, schema, metadata) out of the cyclic collector's passes.

    Those objects live as long as the process; without this every full collection walks them
    again, a pause that grows with the heap (thousands of sockets) and shows in push latency.
    A larger first threshold makes the young collections rarer; most garbage dies by refcount.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def _run_everything(settings: Settings) -> None:
    """Gateway and every worker in this process (see cli.composition)."""
    with _tracing(settings, service="up"):
        async with local_system(settings) as app:
            await _serve(
                app, settings, announce=True, lifespan="off", metrics=app.state.metrics_app
            )


@contextlib.contextmanager
def _tracing(settings: Settings, *, service: str) -> Iterator[None]:
    """Tracing while the block runs, when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushed at exit."""
    from taskstream import telemetry

    if telemetry.configure_tracing(settings, service=service):
        print(f"Tracing to {settings.otel_exporter_otlp_endpoint}", flush=True)
    try:
        yield
    finally:
        telemetry.shutdown_tracing()


async def _migrate(url: str) -> None:
    from taskstream.persistence.db import create_engine, migrate

    engine = create_engine(url, pool_size=2)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _graceful_signals() -> Iterator[list[int]]:
    """Record SIGINT/SIGTERM instead of dying, so that shutdown runs to the end.

    uvicorn re-raises the signal it stopped for once it has drained; with these handlers in
    place that re-raise is recorded too, and the caller stops PostgreSQL before exiting 0.
    """
    received: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: received.append(number))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def command_up(args: argparse.Namespace) -> int:
    """Everything in one process, with embedded PostgreSQL unless DATABASE_URL is set."""
    from devstack.datadir import DataDirectoryInUse, DataDirectoryLock
    from devstack.postgres import EmbeddedPostgres
    from taskstream.auth import load_or_create_signing_key, load_or_create_vapid_key

    settings = get_settings()
    data_dir: Path = (args.data_dir or default_data_dir(settings)).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Held until this process exits: a second `up` here must not touch the running one.
    lock = DataDirectoryLock(data_dir)
    try:
        lock.acquire()
    except DataDirectoryInUse as error:
        print(f"taskstream up: {error}", file=sys.stderr, flush=True)
        return 1
    updates: dict[str, object] = {"host": args.host, "port": args.port, "data_dir": data_dir}
    if "env" not in settings.model_fields_set:
        updates["env"] = "development"
    if "metrics_port" not in settings.model_fields_set:
        # Any free port (announced), so that several `up`s can run side by side.
        updates["metrics_port"] = 0
    if settings.jwt_secret is None:
        from pydantic import SecretStr

        key = load_or_create_signing_key(data_dir / "secrets" / "jwt-signing-key")
        updates["jwt_secret"] = SecretStr(key)
    if settings.audit_key is None:
        from pydantic import SecretStr

        audit_key = load_or_create_signing_key(data_dir / "secrets" / "audit-signing-key")
        updates["audit_key"] = SecretStr(audit_key)
    if settings.vapid_private_key is None:
        from pydantic import SecretStr

        vapid_key = load_or_create_vapid_key(data_dir / "secrets" / "vapid-private-key")
        updates["vapid_private_key"] = SecretStr(vapid_key)
    server = None
    with _graceful_signals() as received:
        try:
            if settings.database_url is None:
                server = EmbeddedPostgres(data_dir / "postgres")
                updates["database_url"] = server.start()
            settings = settings.model_copy(update=updates)
            assert settings.database_url is not None
            asyncio.run(_migrate(settings.database_url))
            if not received:
                asyncio.run(_run_everything(settings))
        finally:
            if server is not None:
                server.stop()
            lock.release()
    print("Taskstream stopped", flush=True)
    return 0


def command_gateway(args: argparse.Namespace) -> int:
    """The gateway alone, configured from the environment (as in a container)."""
    from gateway.app import create_app
    from taskstream import telemetry
    from taskstream.secrets import load_secrets

    settings = load_secrets(get_settings())
    with _tracing(settings, service="gateway"):
        app = create_app(bootstrap(settings, app_id="gateway"))
        telemetry.instrument_app(app)
        asyncio.run(_serve(app, settings, announce=True, metrics=app.state.metrics_app))
    return 0


def command_worker(args: argparse.Namespace) -> int:
    """One worker service, configured from the environment (as in a container)."""
    from taskstream import telemetry
    from taskstream.secrets import load_secrets

    settings = load_secrets(get_settings())
    with _tracing(settings, service=args.name):
        runtime = bootstrap(settings, app_id=args.name)
        service = Service(load_worker(args.name)(runtime), runtime)
        app = service.app()
        telemetry.instrument_app(app)
        asyncio.run(
            _serve(
                app,
                settings,
                announce=False,
                cap_addresses=False,
                metrics=service.metrics_app(),
            )
        )
    return 0


def command_migrate(args: argparse.Namespace) -> int:
    """Bring the database of DATABASE_URL to the newest migration."""
    settings = get_settings()
    if settings.database_url is None:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    asyncio.run(_migrate(settings.database_url))
    print("database is at the newest migration")
    return 0


def _audit_period(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    from workers.audit.report import parse_bound

    period_from = None if args.from_ is None else parse_bound(args.from_, end=False)
    period_to = None if args.to is None else parse_bound(args.to, end=True)
    if period_from is not None and period_to is not None and period_from > period_to:
        raise ValueError("--from must not be after --to")
    return period_from, period_to


async def _audit_report(
    settings: Settings, args: argparse.Namespace, period: tuple[datetime | None, datetime | None]
) -> int:
    """Build and print the report; the gateway is reached as the audit service reaches it."""
    from contracts.gateway_api import GatewayClient
    from taskstream.errors import NotFound
    from workers.audit.main import signing_key
    from workers.audit.report import compliance_report, project_report

    runtime = bootstrap(settings, app_id="audit")
    if args.project is not None:
        try:
            return _print_report(
                await project_report(
                    engine=runtime.engine,
                    project_id=args.project,
                    key=signing_key(runtime),
                    retention=timedelta(days=settings.audit_retention_days),
                    period_from=period[0],
                    period_to=period[1],
                ),
                args.format,
            )
        finally:
            await runtime.close()
    if not settings.bus_url.startswith("dapr:"):
        from gateway.app import create_internal_app

        gateway = bootstrap(
            settings,
            app_id="gateway",
            engine=runtime.engine,
            transport=runtime.transport,
            invoker=runtime.invoker,
        )
        runtime.invoker.add_local("gateway", create_internal_app(gateway))
    try:
        report = await compliance_report(
            engine=runtime.engine,
            gateway=GatewayClient(runtime.invoker),
            email=args.user,
            key=signing_key(runtime),
            retention=timedelta(days=settings.audit_retention_days),
            period_from=period[0],
            period_to=period[1],
        )
    except NotFound:
        print(f"no user has the email {args.user!r}", file=sys.stderr)
        return 2
    finally:
        await runtime.close()
    return _print_report(report, args.format)


def _print_report(report: Report, kind: str) -> int:
    """Print a compliance report; 1 when its chain does not verify."""
    sys.stdout.write(report.render(kind))
    sys.stdout.flush()
    if not report.verification.ok:
        print(f"audit chain {report.verification.describe()}", file=sys.stderr)
        return 1
    return 0


def _keys_of_data_dir(settings: Settings, data_dir: Path) -> Settings:
    """Settings with the audit (or else JWT) key `up` keeps in the data directory, if any."""
    from pydantic import SecretStr

    secrets = data_dir / "secrets"
    if (secrets / "audit-signing-key").exists():
        key = (secrets / "audit-signing-key").read_text().strip()
        return settings.model_copy(update={"audit_key": SecretStr(key)})
    if settings.jwt_secret is None and (secrets / "jwt-signing-key").exists():
        key = (secrets / "jwt-signing-key").read_text().strip()
        return settings.model_copy(update={"jwt_secret": SecretStr(key)})
    return settings


def command_audit_report(args: argparse.Namespace) -> int:
    """One user's audit trail with the chain verification; exit 1 when the chain is broken."""
    from devstack.datadir import DataDirectoryInUse, DataDirectoryLock
    from devstack.postgres import EmbeddedPostgres

    try:
        period = _audit_period(args)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    settings = get_settings()
    data_dir = (args.data_dir or default_data_dir(settings)).expanduser().resolve()
    if settings.database_url is None and settings.audit_key is None:
        # `up`'s keys are kept with its data; the signatures are checked with them.
        settings = _keys_of_data_dir(settings, data_dir)
    if settings.audit_key is None and settings.jwt_secret is None:
        print(
            "no audit key to check the chain's signatures with: set TASKSTREAM_AUDIT_KEY "
            "(or TASKSTREAM_JWT_SECRET), or give --data-dir without DATABASE_URL",
            file=sys.stderr,
        )
        return 2
    server = None
    lock = None
    url = settings.database_url
    if url is None:
        # The data of `taskstream up`: its running server, or the server started for this.
        embedded = EmbeddedPostgres(data_dir / "postgres")
        if not (embedded.data_dir / "PG_VERSION").exists():
            print("no database: set DATABASE_URL or give --data-dir", file=sys.stderr)
            return 2
        lock = DataDirectoryLock(data_dir)
        try:
            lock.acquire()
        except DataDirectoryInUse:
            # `up` holds it: read through its server, never start or stop one here.
            lock = None
        url = embedded.running_url()
        if url is None:
            if lock is None:
                print(
                    "`taskstream up` is starting on this data directory: try again", file=sys.stderr
                )
                return 2
            server = embedded
            url = server.start()
    try:
        return asyncio.run(
            _audit_report(settings.model_copy(update={"database_url": url}), args, period)
        )
    finally:
        if server is not None:
            server.stop()
        if lock is not None:
            lock.release()


def exported_sdl() -> str:
    """The SDL of the schema as served (development settings: introspection on)."""
    from graphql_schema.schema import build_schema

    return build_schema(Settings(env="development")).as_str() + "\n"


def command_schema(args: argparse.Namespace) -> int:
    """Write the exported SDL and the API reference, or with --check fail when either is stale."""
    from graphql_schema import reference

    sdl = exported_sdl()
    if args.check:
        if not SCHEMA_SDL.exists() or SCHEMA_SDL.read_text() != sdl:
            print(f"{SCHEMA_SDL} is stale: run `taskstream schema`", file=sys.stderr)
            return 1
        if not reference.is_current(sdl):
            print(f"{reference.REFERENCE} is stale: run `taskstream schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_SDL.write_text(sdl)
    print(f"wrote {SCHEMA_SDL}")
    print(f"wrote {reference.write_reference(sdl)}")
    return 0


def command_events_schema(args: argparse.Namespace) -> int:
    """Write docs/events/*.schema.json from the event models, or with --check fail when stale."""
    from contracts import event_schemas

    if args.check:
        stale = event_schemas.stale(EVENT_SCHEMAS)
        for name in stale:
            print(
                f"{EVENT_SCHEMAS / name} is stale: run `taskstream events-schema`", file=sys.stderr
            )
        return 1 if stale else 0
    for path in event_schemas.write(EVENT_SCHEMAS):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    parser = argparse.ArgumentParser(prog="taskstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole system in one process")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--data-dir", type=Path, default=None)
    up.set_defaults(handler=command_up)
    commands.add_parser("gateway", help="run the gateway service").set_defaults(
        handler=command_gateway
    )
    worker = commands.add_parser("worker", help="run one worker service")
    worker.add_argument("name", choices=sorted(WORKERS))
    worker.set_defaults(handler=command_worker)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=command_migrate
    )
    audit = commands.add_parser("audit", help="audit trail tools").add_subparsers(
        dest="audit_command", required=True
    )
    report = audit.add_parser(
        "report",
        help="compliance export of one user's (or one shared project's) audit trail, with its "
        "verification",
    )
    whose = report.add_mutually_exclusive_group(required=True)
    whose.add_argument("--user", metavar="EMAIL")
    whose.add_argument(
        "--project", type=uuid.UUID, metavar="ID", help="a shared project's chain, by its id"
    )
    report.add_argument("--from", dest="from_", metavar="D", help="date or RFC 3339 time")
    report.add_argument("--to", metavar="D", help="date (whole day) or RFC 3339 time")
    report.add_argument("--format", choices=["csv", "json"], default="json")
    report.add_argument(
        "--data-dir", type=Path, default=None, help="`up`'s data, when DATABASE_URL is unset"
    )
    report.set_defaults(handler=command_audit_report)
    from devstack.stack import add_stack_command

    add_stack_command(commands, workers=sorted(WORKERS))
    from cli.backup import add_backup_commands
    from cli.dlq import add_dlq_command

    add_dlq_command(commands)
    add_backup_commands(commands, default_data_dir=default_data_dir(get_settings()))
    schema = commands.add_parser(
        "schema", help="export the GraphQL SDL and docs/api/reference.md generated from it"
    )
    schema.add_argument("--check", action="store_true", help="fail when the export is stale")
    schema.set_defaults(handler=command_schema)
    events_schema = commands.add_parser(
        "events-schema", help="write docs/events/*.schema.json from the event models"
    )
    events_schema.add_argument(
        "--check", action="store_true", help="fail when a schema file is stale"
    )
    events_schema.set_defaults(handler=command_events_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `taskstream` command."""
    from taskstream.logs import configure_logging

    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    args = build_parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
