"""Helpers shared by the benchmarks: percentiles, result files, running `taskstream up`."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack.postgres import EmbeddedPostgres
from taskstream.persistence.db import create_engine, migrate
from taskstream.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
URL_LINE = re.compile(r"Taskstream is up at (http://\S+)")


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the samples."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def latency_summary(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p99 of latency samples in milliseconds, and how many there were."""
    if not samples_ms:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "samples": 0}
    return {
        "p50_ms": round(percentile(samples_ms, 0.5), 2),
        "p99_ms": round(percentile(samples_ms, 0.99), 2),
        "samples": len(samples_ms),
    }


class PoolReport(Protocol):
    """What a pool of subscribed sockets received (bench/live_clients.py's `Received`)."""

    latencies_ms: list[float]
    messages: int
    closed: int
    other: int
    other_examples: list[str]
    silent: int


def pushes_summary(
    expected: int, received: PoolReport, mutation_durations_ms: list[float]
) -> dict[str, Any]:
    """One phase of mutations pushed to a pool of subscribed sockets: the pushes expected and
    received, the sockets closed, and the latencies of the mutations and of their pushes."""
    return {
        "pushes_expected": expected,
        "pushes_received": received.messages,
        "sockets_closed": received.closed,
        # Open but given nothing: a subscription refused or lost shows here, not as a close.
        "sockets_silent": received.silent,
        "other_messages": received.other,
        "other_examples": received.other_examples,
        "mutation_response": latency_summary(mutation_durations_ms),
        "mutation_to_push": latency_summary(received.latencies_ms),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Record a benchmark's result with when and where it ran."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "benchmark": name,
        "ran_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **result,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


class UpProcess:
    """`taskstream up` (or `stack up`) in a child process; `url` once it announced itself."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        *,
        stack: bool = False,
        tree: Path | None = None,
    ) -> None:
        """Start it; `tree`: another checkout to run it from (with its own .venv), else this."""
        merged = {**os.environ, "TASKSTREAM_LOG_JSON": "false", **(env or {})}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable if tree is None else str(tree / ".venv" / "bin" / "python"),
                "-m",
                "cli.main",
                *(["stack", "up"] if stack else ["up"]),
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=merged,
            cwd=tree,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = URL_LINE.search(line)
            if match:
                self.url = match.group(1)
                self.startup_seconds = time.perf_counter() - started
                # Keep reading its output: a full pipe would block the server's logging.
                threading.Thread(target=self._drain, daemon=True).start()
                return
        raise RuntimeError("taskstream up exited before announcing its URL")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.asynccontextmanager
async def profiled_database(
    *, pool_size: int = 20, **overrides: Any
) -> AsyncIterator[tuple[AsyncEngine, Settings]]:
    """An embedded PostgreSQL (not durable, in a temporary folder), migrated, for the block:
    its engine and production settings for an in-process system to profile, with the abuse
    limits lifted (one client sends everything) and `overrides` on top."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        postgres = EmbeddedPostgres(Path(folder) / "pg", durable=False)
        url = postgres.start()
        try:
            engine = create_engine(url, pool_size=pool_size)
            try:
                await migrate(engine)
                settings = Settings(
                    env="production",
                    database_url=url,
                    jwt_secret=SecretStr("profile-signing-key-" + uuid.uuid4().hex),
                    **{
                        "mutations_per_minute": 1_000_000,
                        "graphql_cost_per_second": 1_000_000_000,
                        **overrides,
                    },
                )
                yield engine, settings
            finally:
                await engine.dispose()
        finally:
            postgres.stop()
