"""The polling loops' idle wait: a wake-up ends it early, and is used up by it."""

from __future__ import annotations

import asyncio
import time

import pytest

from taskstream.wakeup import Wakeup


async def test_a_wake_up_ends_the_wait_before_its_time_and_is_used_up() -> None:
    wakeup = Wakeup()
    waiting = asyncio.create_task(wakeup.wait(60))
    await asyncio.sleep(0)
    assert not waiting.done()
    # A LISTEN callback's arguments are ignored.
    wakeup.set("connection", 1, "channel", "payload")
    async with asyncio.timeout(5):
        await waiting
    # Used up: the next wait lasts its whole time.
    started = time.monotonic()
    await wakeup.wait(0.05)
    assert time.monotonic() - started >= 0.04  # (a timer may fire a clock tick early)


async def test_a_zero_wait_returns_at_once_and_forgets_a_wake_up_that_came_while_busy() -> None:
    wakeup = Wakeup()
    wakeup.set()
    await wakeup.wait(0)
    waiting = asyncio.create_task(wakeup.wait(60))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_wait_woken_and_cancelled_together_still_stops() -> None:
    # The reason for asyncio.timeout over wait_for: a cancel racing the wake-up is not lost.
    wakeup = Wakeup()
    waiting = asyncio.create_task(wakeup.wait(60))
    await asyncio.sleep(0)
    wakeup.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
