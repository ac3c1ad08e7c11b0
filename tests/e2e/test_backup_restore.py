"""`taskstream backup` / `restore`: data, tokens and audit chain survive a fresh directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.e2e.test_up_command import Running, graphql

pytestmark = pytest.mark.e2e

TASKS = "{ tasks { edges { node { title } } } }"


def taskstream(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, without a DATABASE_URL (so: `up`'s embedded data)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "TASKSTREAM_JWT_SECRET", "TASKSTREAM_AUDIT_KEY")
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=180
    )


def titles(url: str, token: str) -> list[str]:
    """The titles of the caller's tasks."""
    found = graphql(url, TASKS, token)
    return sorted(edge["node"]["title"] for edge in found["data"]["tasks"]["edges"])  # type: ignore[index]


def wait_for_audit(url: str, token: str, entries: int) -> dict[str, object]:
    """verifyAuditLog once the audit worker has recorded `entries` entries."""
    deadline = time.monotonic() + 30.0
    while True:
        found = graphql(url, "{ verifyAuditLog { ok checked } }", token)
        verified: dict[str, object] = found["data"]["verifyAuditLog"]  # type: ignore[index]
        if int(verified["checked"]) >= entries or time.monotonic() > deadline:  # type: ignore[call-overload]
            return verified
        time.sleep(0.05)


def test_a_backup_of_a_running_up_restores_into_a_fresh_directory(tmp_path: Path) -> None:
    original = tmp_path / "original"
    archive = tmp_path / "backups" / "taskstream.tar.gz"
    email = "backup@example.com"
    running = Running(original)
    try:
        signed = graphql(
            running.url,
            f'mutation {{ signUp(email: "{email}", password: "long enough") {{ token }} }}',
        )
        token = signed["data"]["signUp"]["token"]  # type: ignore[index]
        graphql(running.url, 'mutation { createTask(input: {title: "before"}) { id } }', token)
        assert wait_for_audit(running.url, token, 1) == {"ok": True, "checked": 1}

        done = taskstream("backup", "--to", str(archive), "--data-dir", str(original))
        assert done.returncode == 0, done.stderr
        assert archive.stat().st_mode & 0o077 == 0
        # Written after the dump: not in the backup, which is one snapshot.
        graphql(running.url, 'mutation { createTask(input: {title: "after"}) { id } }', token)
    finally:
        assert running.stop(signal.SIGTERM) == 0, "".join(running.output)
    with tarfile.open(archive) as tar:
        assert set(tar.getnames()) == {
            "manifest.json",
            "database.dump",
            "secrets/jwt-signing-key",
            "secrets/audit-signing-key",
            "secrets/postgres-password",
            "secrets/vapid-private-key",
        }

    # A stopped instance is backed up too, and left stopped.
    stopped = taskstream(
        "backup", "--to", str(tmp_path / "stopped.tar.gz"), "--data-dir", str(original)
    )
    assert stopped.returncode == 0, stopped.stderr
    assert not (original / "postgres" / "postmaster.pid").exists()

    # Never over existing data: refused, nothing changed.
    before = sorted(path.name for path in original.iterdir())
    refused = taskstream("restore", "--from", str(archive), "--data-dir", str(original))
    assert refused.returncode == 2
    assert "is not empty: restore into a new data directory" in refused.stderr
    assert sorted(path.name for path in original.iterdir()) == before

    fresh = tmp_path / "fresh"
    restored = taskstream("restore", "--from", str(archive), "--data-dir", str(fresh))
    assert restored.returncode == 0, restored.stderr
    assert (fresh / "secrets" / "jwt-signing-key").stat().st_mode & 0o077 == 0
    again = Running(fresh)
    try:
        # The token signed before the backup is still good: the signing key came along.
        assert titles(again.url, token) == ["before"]
        assert wait_for_audit(again.url, token, 1) == {"ok": True, "checked": 1}
    finally:
        assert again.stop(signal.SIGTERM) == 0, "".join(again.output)
    report = taskstream("audit", "report", "--user", email, "--data-dir", str(fresh))
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["verification"]["ok"] is True


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="../escape.py")
    done = taskstream("restore", "--from", str(bogus), "--data-dir", str(tmp_path / "target"))
    assert done.returncode == 2
    assert "is not a Taskstream backup" in done.stderr
    assert not (tmp_path / "target").exists()
