"""A real Dapr sidecar (daprd, self-hosted mode) for local runs and tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from devstack._common import (
    INFRA_DIR,
    LocalInfraError,
    cache_dir,
    free_ports,
    provision,
    read_version,
    spawn,
    tail,
    terminate,
)

GO_MOD = INFRA_DIR / "daprd" / "go.mod"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def dapr_version() -> str:
    """Return the github.com/dapr/dapr version pinned in infra/local/daprd/go.mod."""
    return read_version(GO_MOD, r"^\s*github\.com/dapr/dapr\s+v(\S+)")


def installed_daprd() -> Path | None:
    """Return a daprd installed by the Dapr CLI (~/.dapr/bin) or on PATH, if any."""
    if os.environ.get("TASKSTREAM_DAPRD_BUILD") == "1":
        return None
    cli = Path.home() / ".dapr" / "bin" / "daprd"
    if cli.is_file() and os.access(cli, os.X_OK):
        return cli
    found = shutil.which("daprd")
    return Path(found) if found else None


def ensure_daprd() -> Path:
    """Return a daprd binary: an installed one, else the cached build (built first if needed)."""
    existing = installed_daprd()
    if existing is not None:
        return existing
    binary = cache_dir() / f"dapr-{dapr_version()}" / "daprd"
    complete = (binary.parent / ".complete").is_file() and os.access(binary, os.X_OK)
    return provision("daprd", "DAPRD", binary, complete)


def sqlite_config_yaml(name: str, db_path: Path) -> str:
    """Return a Dapr Configuration using the SQLite name resolver (no mDNS/multicast needed)."""
    return (
        "apiVersion: dapr.io/v1alpha1\n"
        "kind: Configuration\n"
        "metadata:\n"
        f"  name: {name}\n"
        "spec:\n"
        "  nameResolution:\n"
        "    component: sqlite\n"
        "    version: v1\n"
        "    configuration:\n"
        f'      connectionString: "{db_path}"\n'
        "  tracing:\n"
        '    samplingRate: "0"\n'
    )


class Daprd:
    """A daprd process in self-hosted mode, bound to 127.0.0.1, without placement/scheduler."""

    def __init__(
        self,
        app_id: str,
        *,
        app_port: int | None = None,
        resources_paths: Sequence[Path] = (),
        config_path: Path | None = None,
        name_resolution_db: Path | None = None,
        work_dir: Path | None = None,
        app_protocol: str = "http",
        log_level: str = "info",
        dapr_http_port: int | None = None,
        dapr_grpc_port: int | None = None,
        wait_for_app: bool = False,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        daprd_path: Path | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        """Configure the sidecar; nothing runs until :meth:`start`.

        ``config_path`` defaults to a generated Configuration that uses the SQLite name
        resolver with ``name_resolution_db`` (share one file between the sidecars of a stack so
        that service invocation finds the other apps). ``wait_for_app`` makes :meth:`start`
        wait for ``/v1.0/healthz`` (which needs the app on ``app_port``) instead of
        ``/v1.0/healthz/outbound`` (components loaded). ``env`` adds variables for daprd
        (e.g. ``DAPR_API_TOKEN``, ``APP_API_TOKEN``) to the inherited environment.
        """
        if log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {LOG_LEVELS}")
        self.app_id = app_id
        self.app_port = app_port
        self.resources_paths = list(resources_paths)
        self.config_path = config_path
        self.name_resolution_db = name_resolution_db
        self.app_protocol = app_protocol
        self.log_level = log_level
        self.wait_for_app = wait_for_app
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._requested_http_port = dapr_http_port
        self._requested_grpc_port = dapr_grpc_port
        self._daprd_path = daprd_path
        self._given_work_dir = work_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.work_dir: Path | None = None
        self.effective_config: Path | None = None
        self.dapr_http_port = 0
        self.dapr_grpc_port = 0
        self.internal_grpc_port = 0
        self.metrics_port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def http_endpoint(self) -> str:
        """Return the base URL of the Dapr HTTP API."""
        if not self.dapr_http_port:
            raise LocalInfraError("daprd is not started")
        return f"http://127.0.0.1:{self.dapr_http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """Return the host:port of the Dapr gRPC API."""
        if not self.dapr_grpc_port:
            raise LocalInfraError("daprd is not started")
        return f"127.0.0.1:{self.dapr_grpc_port}"

    @property
    def log_path(self) -> Path:
        """Return the file that receives daprd's stdout/stderr."""
        assert self.work_dir is not None, "not started"
        return self.work_dir / f"daprd-{self.app_id}.log"

    @property
    def pid(self) -> int | None:
        """Return the process id of daprd (also its process group id), if started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Return whether the daprd process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self, daprd: Path) -> list[str]:
        """Return the daprd command line (ports must already be chosen)."""
        assert self.work_dir is not None
        assert self.effective_config is not None
        args = [
            str(daprd),
            "--mode", "standalone",
            "--app-id", self.app_id,
            "--app-protocol", self.app_protocol,
            "--app-channel-address", "127.0.0.1",
            "--dapr-listen-addresses", "127.0.0.1",
            "--dapr-http-port", str(self.dapr_http_port),
            "--dapr-grpc-port", str(self.dapr_grpc_port),
            "--dapr-internal-grpc-port", str(self.internal_grpc_port),
            "--dapr-internal-grpc-listen-address", "127.0.0.1",
            "--metrics-port", str(self.metrics_port),
            "--config", str(self.effective_config),
            "--log-level", self.log_level,
            "--dapr-graceful-shutdown-seconds", "3",
        ]  # fmt: skip
        if self.app_port is not None:
            args += ["--app-port", str(self.app_port)]
        for path in self.resources_paths:
            args += ["--resources-path", str(path)]
        return [*args, *self.extra_args]

    def start(self) -> Self:
        """Start daprd and wait until its health endpoint answers 204."""
        if self._proc is not None:
            raise LocalInfraError("daprd is already started")
        daprd = self._daprd_path or ensure_daprd()
        if self._given_work_dir is not None:
            self.work_dir = self._given_work_dir
            self.work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"taskstream-daprd-{self.app_id}-")
            self.work_dir = Path(self._tmp.name)
        self.effective_config = self.config_path
        if self.effective_config is None:
            db = self.name_resolution_db or self.work_dir / "nameresolution.db"
            self.effective_config = self.work_dir / "config.yaml"
            self.effective_config.write_text(sqlite_config_yaml(self.app_id, db), encoding="utf-8")
        ports = iter(free_ports(4))
        # A restarted sidecar keeps its ports: its app and the name-resolution table know them.
        self.dapr_http_port = self._requested_http_port or self.dapr_http_port or next(ports)
        self.dapr_grpc_port = self._requested_grpc_port or self.dapr_grpc_port or next(ports)
        self.internal_grpc_port = self.internal_grpc_port or next(ports)
        self.metrics_port = self.metrics_port or next(ports)
        # A scheduler address from the environment would make daprd wait for a scheduler.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_SCHEDULER_HOST")}
        env.update(self.env)
        self._proc = spawn(self.command(daprd), self.log_path, env=env)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        """Poll the health endpoint until it answers 204."""
        assert self._proc is not None
        path = "/v1.0/healthz" if self.wait_for_app else "/v1.0/healthz/outbound"
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(base_url=self.http_endpoint, timeout=2.0) as client:
            while True:
                if self._proc.poll() is not None:
                    raise LocalInfraError(
                        f"daprd ({self.app_id}) exited with {self._proc.returncode}:\n"
                        f"{tail(self.log_path)}"
                    )
                try:
                    if client.get(path).status_code == 204:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise LocalInfraError(
                        f"daprd ({self.app_id}) not healthy within {self.start_timeout}s:\n"
                        f"{tail(self.log_path)}"
                    )
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL daprd (a crash, for fault injection); start() brings it back on its ports."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        """Stop daprd (SIGTERM, then SIGKILL) and remove a temporary work dir."""
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, self.stop_timeout)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        """Start the sidecar."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the sidecar."""
        self.stop()
