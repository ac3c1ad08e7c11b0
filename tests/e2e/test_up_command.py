"""`taskstream up` as a user runs it: URL line, data and tokens across restarts, clean stop."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

URL_LINE = re.compile(r"^Taskstream is up at (http://127\.0\.0\.1:\d+)$")


class Running:
    """A `taskstream up` child process and the URL it announced."""

    def __init__(self, data_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["TASKSTREAM_LOG_JSON"] = "false"
        self.process = subprocess.Popen(
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
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        started = time.monotonic()
        self.output: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = URL_LINE.match(line.strip())
            if match:
                self.url = match.group(1)
                self.startup_seconds = time.monotonic() - started
                return
        raise AssertionError("no URL line:\n" + "".join(self.output))

    def stop(self, sig: signal.Signals) -> int:
        """Send the signal and wait for a clean exit."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.output.extend(self.process.stdout.readlines())
        self.process.stdout.close()
        return code


def graphql(url: str, query: str, token: str | None = None) -> dict[str, object]:
    """One GraphQL request to the running server."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers=headers, timeout=10)
    body: dict[str, object] = response.json()
    return body


def test_up_serves_keeps_data_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Running(data_dir)
    try:
        assert httpx.get(f"{first.url}/readyz", timeout=5).status_code == 200
        assert "Taskstream" in httpx.get(first.url, timeout=5).text
        signed = graphql(
            first.url,
            'mutation { signUp(email: "up@example.com", password: "long enough") { token } }',
        )
        token = signed["data"]["signUp"]["token"]  # type: ignore[index]
        created = graphql(
            first.url, 'mutation { createTask(input: {title: "kept"}) { id } }', token
        )
        assert "errors" not in created
    finally:
        assert first.stop(signal.SIGTERM) == 0, "".join(first.output)
    assert "Taskstream stopped" in "".join(first.output)
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

    second = Running(data_dir)
    try:
        me = graphql(second.url, "{ me { email } tasks { edges { node { title } } } }", token)
        assert me["data"] == {
            "me": {"email": "up@example.com"},
            "tasks": {"edges": [{"node": {"title": "kept"}}]},
        }
    finally:
        assert second.stop(signal.SIGINT) == 0, "".join(second.output)
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert (data_dir / "secrets" / "jwt-signing-key").stat().st_mode & 0o077 == 0


def test_up_on_a_taken_port_says_so_before_anything_else_listens(tmp_path: Path) -> None:
    # The app's port is bound first: the /metrics listener (port 0, any free one) must not
    # start, and so could never have taken the app's port, when the app cannot have it.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["TASKSTREAM_LOG_JSON"] = "false"
        data_dir = tmp_path / "data"
        finished = subprocess.run(
            [
                *(sys.executable, "-m", "cli.main", "up"),
                *("--port", str(port), "--data-dir", str(data_dir)),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    output = finished.stdout + finished.stderr
    assert finished.returncode != 0, output
    assert f"could not listen on 127.0.0.1:{port}: Address already in use" in output
    assert "Metrics at" not in output
    assert "Taskstream is up" not in output
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
