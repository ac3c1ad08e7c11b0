"""What bench.run's own benchmarks share: one PostgreSQL with the data sets, and the servers.

Every server is a child process in its own process group, stopped (SIGTERM, then SIGKILL) when
the `BenchStack` context exits, whether the run finished, failed or was interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from datetime import timedelta
from pathlib import Path

import psutil

from bench.datasets import plain_url
from devstack.postgres import EmbeddedPostgres
from taskstream.auth import TokenService

REPO = Path(__file__).resolve().parents[1]
PEERS = Path(__file__).resolve().parent / "peers"


def cache_dir() -> Path:
    """Downloads and installs kept between runs, outside the repository."""
    return Path(os.environ.get("TASKSTREAM_CACHE", Path.home() / ".cache" / "taskstream"))


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def provision_postgraphile() -> Path:
    """PostGraphile's npm packages installed from the committed lock file, outside the repo.

    `npm ci` runs again only when the lock file changed; server.mjs is copied beside the
    node_modules it imports (ES modules resolve packages from their own folder).
    """
    source = PEERS / "postgraphile"
    target = cache_dir() / "bench-node"
    target.mkdir(parents=True, exist_ok=True)
    lock = (source / "package-lock.json").read_bytes()
    stamp = target / f".installed-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not stamp.exists():
        print("  installing PostGraphile with npm ci into", target, flush=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(source / name, target / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            check=True,
            env={**os.environ, "npm_config_cache": str(cache_dir() / "npm")},
        )
        for old in target.glob(".installed-*"):
            old.unlink()
        stamp.touch()
    shutil.copyfile(source / "server.mjs", target / "server.mjs")
    return target


class ServerProcess:
    """A server in a child process; ready once `health_url` answers 200."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        health_url: str,
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.output: deque[str] = deque(maxlen=50)
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own group: Ctrl-C reaches us, and we stop it (and its children) in order.
            start_new_session=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        self._wait_ready(health_url)

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())

    def _wait_ready(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
            time.sleep(0.2)
        self.stop()
        tail = "\n".join(self.output)
        raise RuntimeError(f"{self.name} did not become ready at {url}:\n{tail}")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 15 s."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class BenchStack:
    """PostgreSQL (DATABASE_URL, or embedded in a temporary folder) and the servers started.

    Use it as `with contextlib.closing(BenchStack()) as stack:`.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="taskstream-bench-"))
        self.servers: list[ServerProcess] = []
        self.by_url: dict[str, ServerProcess] = {}
        self._postgres: EmbeddedPostgres | None = None
        self.secret = secrets.token_urlsafe(48)
        self.tokens = TokenService(
            secret=self.secret,
            issuer="taskstream",
            audience="taskstream-api",
            ttl=timedelta(hours=12),
        )
        given = os.environ.get("DATABASE_URL")
        if given:
            self.url = given
        else:
            self._postgres = EmbeddedPostgres(self.folder / "pg", durable=True)
            self.url = self._postgres.start()

    def close(self) -> None:
        """Stop every server, then PostgreSQL, and remove the temporary folder."""
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        if self._postgres is not None:
            self._postgres.stop()
            self._postgres = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def database_cpu_seconds(self) -> float | None:
        """CPU seconds the embedded PostgreSQL has used so far (the postmaster, its backends
        and every process it has reaped); None for a DATABASE_URL server elsewhere."""
        pid = self._postgres.postmaster_pid() if self._postgres is not None else None
        if pid is None:
            return None
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        used = times.user + times.system + times.children_user + times.children_system
        for child in postmaster.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                child_times = child.cpu_times()
                used += child_times.user + child_times.system
        return used

    def stop(self, server: ServerProcess) -> None:
        """Stop one server now (to free the CPU for the next benchmark)."""
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def _start(
        self, name: str, argv: list[str], env: dict[str, str], health: str, cwd: Path = REPO
    ) -> str:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {key: value.replace("{port}", str(port)) for key, value in env.items()}
        argv = [arg.replace("{port}", str(port)) for arg in argv]
        server = ServerProcess(name, argv, env, base + health, cwd)
        self.servers.append(server)
        self.by_url[base] = server
        return base

    def gateway(self, tree: Path = REPO, env: dict[str, str] | None = None) -> str:
        """The real gateway (`taskstream gateway`: uvicorn, one process); its base URL.

        `tree`: another checkout of the code to run it from (with this .venv's packages), e.g.
        the base commit exported with `git archive`, to measure before and after in one run.
        `env`: settings beside the benchmark's own (e.g. a trusted-documents manifest).
        """
        return self._start(
            "gateway" if tree == REPO else f"gateway ({tree})",
            [sys.executable, "-m", "cli.main", "gateway"],
            {
                "DATABASE_URL": self.url,
                "TASKSTREAM_JWT_SECRET": self.secret,
                "TASKSTREAM_HOST": "127.0.0.1",
                "TASKSTREAM_PORT": "{port}",
                # /metrics on a free port of its own: benchmarks may run several gateways.
                "TASKSTREAM_METRICS_PORT": "0",
                "TASKSTREAM_ENV": "production",
                "TASKSTREAM_LOG_JSON": "false",
                "TASKSTREAM_LOG_LEVEL": "WARNING",
                # The benchmark is one user creating thousands of tasks a minute on purpose.
                "TASKSTREAM_MUTATIONS_PER_MINUTE": str(10**9),
                # ... and many clients reading one account's pages as fast as they can.
                "TASKSTREAM_GRAPHQL_COST_PER_SECOND": str(10**9),
                **(env or {}),
            },
            "/healthz",
            tree,
        )

    def starlette_peer(self) -> str:
        """The plain Starlette JSON endpoint (bench/peers/starlette_page.py); its base URL."""
        return self._start(
            "starlette peer",
            [sys.executable, "-m", "bench.peers.starlette_page", "--port", "{port}"],
            {"DATABASE_URL": plain_url(self.url)},
            "/healthz",
        )

    def postgraphile(self) -> str:
        """PostGraphile 5 on node (bench/peers/postgraphile/server.mjs); its base URL."""
        return self._start(
            "postgraphile",
            ["node", str(provision_postgraphile() / "server.mjs")],
            {"DATABASE_URL": plain_url(self.url), "PORT": "{port}", "NODE_ENV": "production"},
            "/healthz",
        )
