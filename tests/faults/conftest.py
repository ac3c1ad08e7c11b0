"""Fixtures of the fault-injection suite: a `stack up` topology run in-process, its users."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devstack.stack import Stack
from tests.faults.harness import (
    FAKED_CLOCK,
    FAKETIME_LIBRARY,
    RESULTS,
    SMALL_DISK,
    SMALL_DISK_MB,
    Ledger,
    User,
    running_stack,
    sign_up,
)

USERS = 4


def install_libfaketime() -> bool:
    """Install Debian's libfaketime when it is missing and this is root with apt (as CI is)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "libfaketime"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    return done.returncode == 0 and FAKETIME_LIBRARY.exists()


@pytest.fixture(scope="module")
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    """The topology of `taskstream stack up` (`--brokers` as the test's parameter says, else
    1), with its processes at hand."""
    param = getattr(request, "param", 1)
    if param == SMALL_DISK:
        if os.geteuid() != 0:
            pytest.skip("a filesystem of PostgreSQL's own needs a loop mount: root only")
        async with running_stack(1, postgres_disk_mb=SMALL_DISK_MB) as running:
            yield running
        return
    if param == FAKED_CLOCK:
        if not FAKETIME_LIBRARY.exists() and not install_libfaketime():
            pytest.skip(
                f"libfaketime is not installed ({FAKETIME_LIBRARY}: apt-get install libfaketime)"
            )
        async with running_stack(1, faked_clock=True) as running:
            yield running
        return
    async with running_stack(param) as running:
        yield running


@pytest.fixture(scope="module")
async def ledger(stack: Stack) -> AsyncIterator[Ledger]:
    """The invariant checker of the module's stack."""
    checker = Ledger(stack)
    yield checker
    await checker.close()


@pytest.fixture(scope="module")
async def users(stack: Stack) -> list[User]:
    """The load's accounts (each with its own audit chain)."""
    return await sign_up(stack.url, USERS)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every fault's tally (and write it as JSON where TASKSTREAM_FAULTS_REPORT says)."""
    if not RESULTS:
        return
    terminalreporter.section("faults injected")
    terminalreporter.write_line(
        f"{'fault':<34}{'sent':>6}{'acked':>7}{'commit':>7}{'effects':>9}{'dup':>5}{'lost':>6}"
        f"{'recov s':>9}{'p50 ms':>8}{'max ms':>8}  window"
    )
    for row in RESULTS:
        terminalreporter.write_line(
            f"{row.fault:<34}{row.sent:>6}{row.acked:>7}{row.committed:>7}"
            f"{f'{row.effects}/{row.expected_effects}':>9}{row.duplicates:>5}{row.losses:>6}"
            f"{row.recovery_seconds:>9}{row.latency_p50_ms:>8}{row.latency_max_ms:>8}"
            + (f"  {row.window} rows unpublished" if row.window is not None else "")
        )
    target = os.environ.get("TASKSTREAM_FAULTS_REPORT")
    if target:
        Path(target).write_text(json.dumps([row.as_dict() for row in RESULTS], indent=1))
