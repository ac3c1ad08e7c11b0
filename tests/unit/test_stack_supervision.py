"""`stack up`'s supervision rules: restart with a doubling, capped backoff; stop at shutdown.

The parts here are stand-ins for processes (what is under test is the supervisor's loop, not a
process); tests/faults/test_faults.py kills real ones in a running stack.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from devstack.stack import Stack, Supervised, backoff_delay


def test_the_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    assert [backoff_delay(n, first=1.0, cap=30.0) for n in range(1, 8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]


async def test_a_crash_loop_backs_off_and_stops_once_shutdown_begins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = Stack(tmp_path, host="127.0.0.1", port=0, workers=[])
    stack.backoff = (0.01, 0.04)
    attempts = 0
    fifth = asyncio.Event()

    async def start() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 5:
            fifth.set()
        raise RuntimeError("port already in use")

    stack.supervise([Supervised("audit", alive=lambda: False, start=start)])
    await fifth.wait()
    await stack.stop_supervision()
    after_stop = attempts

    err = capsys.readouterr().err
    waits = re.findall(r"supervision: audit exited; restarting in ([\d.]+) s", err)
    assert waits[:5] == ["0.01", "0.02", "0.04", "0.04", "0.04"]
    assert "supervision: audit did not come back: port already in use" in err
    assert stack.restarts()["audit"] == 0
    # Nothing is left running that could start the part again.
    assert stack._supervisor is not None and stack._supervisor.done()
    part = stack.supervised["audit"]
    assert part.recovering is None or part.recovering.done()
    assert attempts == after_stop


async def test_a_part_that_exits_is_restarted_counted_and_a_quick_relapse_waits_longer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = Stack(tmp_path, host="127.0.0.1", port=0, workers=[])
    stack.backoff = (0.01, 0.04)
    up = False

    async def start() -> None:
        nonlocal up
        up = True

    stack.supervise([Supervised("daprd-audit", alive=lambda: up, start=start)])
    await stack.recovered("daprd-audit", 1)
    up = False  # it exits again, long before BACKOFF_RESET_SECONDS of good health
    await stack.recovered("daprd-audit", 2)
    await stack.stop_supervision()

    assert stack.restarts()["daprd-audit"] == 2
    err = capsys.readouterr().err
    assert err.count("supervision: daprd-audit is back and ready") == 2
    # A process that starts and soon dies again is a crash loop too: the second wait doubles.
    assert re.findall(r"restarting in ([\d.]+) s \(attempt (\d+)\)", err) == [
        ("0.01", "1"),
        ("0.02", "2"),
    ]


async def test_a_part_held_by_whoever_stopped_it_is_left_down(tmp_path: Path) -> None:
    stack = Stack(tmp_path, host="127.0.0.1", port=0, workers=[])
    stack.backoff = (0.01, 0.04)
    started: list[str] = []
    up = {"kafka-1": False, "postgres": False}

    async def start_kafka() -> None:
        started.append("kafka-1")
        up["kafka-1"] = True

    async def start_postgres() -> None:
        started.append("postgres")
        up["postgres"] = True

    held = Supervised("kafka-1", alive=lambda: up["kafka-1"], start=start_kafka, held=True)
    free = Supervised("postgres", alive=lambda: up["postgres"], start=start_postgres)
    stack.supervise([held, free])
    # The supervisor visits every part on each pass: once the free one is back, the held one
    # has been seen down at least once.
    await stack.recovered("postgres", 1)
    await stack.stop_supervision()
    assert started == ["postgres"]
