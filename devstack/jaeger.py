"""Jaeger (v2, an OpenTelemetry Collector distribution) for `stack up --tracing` and tests.

The binary is built once from the Go module `github.com/jaegertracing/jaeger` (`cmd/jaeger`,
the version pinned in infra/local/provision.sh) and cached like daprd. It runs with in-memory
storage, an OTLP/HTTP receiver for the services' spans and the query service (UI and the HTTP
API `GET /api/traces/{traceId}`), each on a port of its own picked here.

The UI is another project (jaeger-ui, JavaScript): the Go module holds only a placeholder page
in its place, and no registry this project uses serves the built UI. Where it was built from
its source (docs/operations.md says how), `TASKSTREAM_JAEGER_UI` or the cache folder
`jaeger-ui-<version>/` names the built assets and the query service serves them.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from devstack._common import (
    LocalInfraError,
    cache_dir,
    free_ports,
    provision,
    spawn,
    tail,
    terminate,
)

JAEGER_VERSION = "1.76.0"

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query_port}
{ui}    grpc:
      endpoint: 127.0.0.1:{query_grpc_port}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health_port}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_port}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


def jaeger_ui_assets() -> Path | None:
    """The built Jaeger UI (its index.html folder): TASKSTREAM_JAEGER_UI, else the cache's."""
    named = os.environ.get("TASKSTREAM_JAEGER_UI")
    folder = Path(named) if named else cache_dir() / f"jaeger-ui-{JAEGER_VERSION}"
    if (folder / "index.html").is_file():
        return folder
    if named:
        raise LocalInfraError(f"TASKSTREAM_JAEGER_UI={named}: no index.html there")
    return None


def ensure_jaeger() -> Path:
    """The jaeger binary: cached, or built first (a cold build takes many minutes)."""
    binary = cache_dir() / f"jaeger-{JAEGER_VERSION}" / "jaeger"
    complete = (binary.parent / ".complete").is_file() and os.access(binary, os.X_OK)
    return provision("jaeger", "JAEGER", binary, complete)


class Jaeger:
    """One Jaeger process: OTLP/HTTP in at `otlp_endpoint`, UI and query API at `ui_url`."""

    def __init__(self, work_dir: Path, *, binary: Path | None = None) -> None:
        self.work_dir = work_dir
        self.binary = binary
        self.otlp_port, self.query_port, self.query_grpc_port, self.health_port = free_ports(4)
        self.log_path = work_dir / "jaeger.log"
        # The built UI it serves, None when only the query API (and a placeholder page) is.
        self.ui_assets: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def otlp_endpoint(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT is set to (spans go to its /v1/traces)."""
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def otlp_address(self) -> str:
        """HOST:PORT of the OTLP/HTTP receiver (Dapr's tracing configuration takes this form)."""
        return f"127.0.0.1:{self.otlp_port}"

    @property
    def ui_url(self) -> str:
        """Jaeger's UI; its query API is under /api."""
        return f"http://127.0.0.1:{self.query_port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 60.0) -> None:
        """Write the configuration, start Jaeger and wait until it is healthy."""
        binary = self.binary or ensure_jaeger()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = self.work_dir / "jaeger.yaml"
        self.ui_assets = jaeger_ui_assets()
        ui_config = f"    ui:\n      assets_path: {self.ui_assets}\n" if self.ui_assets else ""
        config.write_text(
            CONFIG.format(
                otlp_port=self.otlp_port,
                query_port=self.query_port,
                query_grpc_port=self.query_grpc_port,
                health_port=self.health_port,
                ui=ui_config,
            )
        )
        self._process = spawn([str(binary), "--config", f"file:{config}"], self.log_path)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise LocalInfraError(
                        f"jaeger exited ({self._process.returncode}):\n{tail(self.log_path)}"
                    )
                try:
                    health = client.get(f"http://127.0.0.1:{self.health_port}/status")
                    ui = client.get(f"{self.ui_url}/api/services")
                    if health.status_code == 200 and ui.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise LocalInfraError(f"jaeger was not healthy within {timeout} s:\n{tail(self.log_path)}")

    def stop(self) -> None:
        """Stop it (spans are in memory: they go with it)."""
        if self._process is not None:
            terminate(self._process, timeout=10)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
