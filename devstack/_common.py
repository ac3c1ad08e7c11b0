"""Shared helpers for the local infrastructure runners: paths, ports, provisioning, processes."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import IO

INFRA_DIR = Path(__file__).resolve().parents[1] / "infra" / "local"
PROVISION_SCRIPT = INFRA_DIR / "provision.sh"


class LocalInfraError(RuntimeError):
    """A local infrastructure process could not be provisioned, started or stopped."""


def cache_dir() -> Path:
    """Return the provisioning cache directory (``$TASKSTREAM_CACHE`` or ~/.cache/taskstream)."""
    env = os.environ.get("TASKSTREAM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "taskstream"


def read_version(path: Path, pattern: str) -> str:
    """Return the first group of ``pattern`` in the file at ``path``."""
    match = re.search(pattern, path.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise LocalInfraError(f"cannot find a version matching {pattern!r} in {path}")
    return match.group(1)


def run_provision(what: str, key: str) -> Path:
    """Run ``provision.sh what`` (progress on stderr) and return the path it prints as ``key``."""
    bash = shutil.which("bash")
    if bash is None:
        raise LocalInfraError("bash not found, it runs infra/local/provision.sh")
    proc = subprocess.run(  # noqa: S603 - fixed script, fixed arguments
        [bash, str(PROVISION_SCRIPT), what],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise LocalInfraError(
            f"{PROVISION_SCRIPT} {what} failed with exit code {proc.returncode} "
            "(its error is printed above)"
        )
    for line in proc.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return Path(value.strip())
    raise LocalInfraError(f"{PROVISION_SCRIPT} {what} printed no {key}=... line")


def provision(what: str, key: str, cached: Path, complete: bool) -> Path:
    """Run provision.sh if the repo has it (cheap once cached), else use the cache."""
    if PROVISION_SCRIPT.is_file():
        return run_provision(what, key)
    if complete:
        return cached
    raise LocalInfraError(
        f"{cached} is not provisioned and {PROVISION_SCRIPT} is missing (not a source checkout)"
    )


# Our servers listen on ports from below the kernel's ephemeral range. A port picked inside it
# (bind to port 0, then close) can be taken as the source port of an outgoing connection before
# the server binds it: PostgreSQL, Kafka and Dapr clients open many ("address already in use").
LISTEN_PORTS_FLOOR = 10_000
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (see free_ports)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct TCP ports free on ``host`` now, below the ephemeral range.

    A port is handed out once per process, so two servers of one stack never get the same
    port while neither has bound it yet.
    """
    span = range(LISTEN_PORTS_FLOOR, _ephemeral_floor())
    candidates = secrets.SystemRandom().sample(span, min(len(span), 50 * count))
    with ExitStack() as stack, _handed_out_lock:
        ports: list[int] = []
        for port in candidates:
            if len(ports) == count:
                break
            if port in _handed_out:
                continue
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind((host, port))
            except OSError:
                continue
            ports.append(port)
        while len(ports) < count:  # no room below the ephemeral range: the kernel's choice
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        _handed_out.update(ports)
        return ports


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of a log file (empty if missing)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    args: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` in its own process group with stdout+stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = log_path.open("ab")
    try:
        return subprocess.Popen(  # noqa: S603 - arguments built by this package
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    finally:
        log.close()


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Stop a process started by :func:`spawn`: SIGTERM, then SIGKILL after ``timeout`` s."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()
