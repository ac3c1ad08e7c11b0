"""One process per data directory: a second `up` refuses to start and names the holder.

Probe (issue 13): a second `taskstream up` on a data directory in use stopped the running
instance's PostgreSQL and took it over; the first then stayed "unready" forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.datadir import DataDirectoryInUse, DataDirectoryLock
from tests.e2e.test_up_command import Running, graphql

HOLDER = """
import sys
from pathlib import Path
from devstack.datadir import DataDirectoryLock
DataDirectoryLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
sys.stdin.read()
"""


def test_a_held_directory_names_its_holder(tmp_path: Path) -> None:
    first = DataDirectoryLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(DataDirectoryInUse) as refused:
            DataDirectoryLock(tmp_path).acquire()
        assert refused.value.pid == os.getpid()
        assert "pytest" in refused.value.command or sys.executable in refused.value.command
        assert f"process {os.getpid()}" in str(refused.value)
        assert str(tmp_path) in str(refused.value)
    finally:
        first.release()
    with DataDirectoryLock(tmp_path).held():
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DataDirectoryInUse) as refused:
            DataDirectoryLock(tmp_path).acquire()
        assert refused.value.pid == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    # The lock file is still there, with the dead pid in it: the lock is free all the same.
    assert (tmp_path / ".lock").exists()
    with DataDirectoryLock(tmp_path).held():
        pass


@pytest.mark.e2e
def test_a_second_up_refuses_and_leaves_the_first_serving(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Running(data_dir)
    try:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "up",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert second.returncode != 0
        assert f"in use by process {first.process.pid}" in second.stderr, second.stderr
        assert "cli.main up" in second.stderr
        assert "Taskstream is up" not in second.stdout
        # The first one was not touched: still ready, its database still its own.
        assert httpx.get(f"{first.url}/readyz", timeout=10).status_code == 200
        signed = graphql(
            first.url,
            'mutation { signUp(email: "lock@example.com", password: "long enough") { token } }',
        )
        assert "errors" not in signed, signed
        # `audit report` reads up's data through the running server (its password included).
        assert audit_report(data_dir, "lock@example.com").returncode == 0
    finally:
        assert first.stop(signal.SIGTERM) == 0, "".join(first.output)
    # With up stopped, it starts the secured server itself (and takes the lock meanwhile).
    report = audit_report(data_dir, "lock@example.com")
    assert report.returncode == 0, report.stderr
    assert '"verification"' in report.stdout
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def audit_report(data_dir: Path, email: str) -> subprocess.CompletedProcess[str]:
    """`taskstream audit report` on up's data directory."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "audit",
            "report",
            "--user",
            email,
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
