"""A stalled event loop is not a lost broadcast: subscribers stay; real silence still cuts off."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_core import live
from gateway_core.live import LiveHub, SubscriberCutOff

pytestmark = pytest.mark.integration


@pytest.fixture
def quick_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats every 50 ms, given up on after 200 ms."""
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(live, "SILENCE_LIMIT_SECONDS", 0.2)


async def test_a_loop_stalled_past_the_silence_limit_keeps_its_subscribers(
    quick_heartbeats: None,
) -> None:
    hub = LiveHub("memory://")
    await hub.start()
    try:
        async with hub.listen("busy") as subscription:
            await asyncio.sleep(0.1)
            # A busy replica: nothing runs, neither sending nor receiving.
            time.sleep(0.5)  # noqa: ASYNC251
            await asyncio.sleep(0.3)
            await hub.publish("busy", {"kind": "task", "n": 1})
            message = await asyncio.wait_for(anext(aiter(subscription)), 2)
            assert message["n"] == 1
            assert subscription.cut_off_reason is None
    finally:
        await hub.stop()


async def test_heartbeats_that_never_come_back_cut_subscribers_off(
    quick_heartbeats: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = LiveHub("memory://")
    await hub.start()
    try:
        async with hub.listen("cut") as subscription:
            # The broadcast swallows everything from now on, as a dead connection would.
            monkeypatch.setattr(hub, "_dispatch", lambda raw: None)
            with pytest.raises(SubscriberCutOff):
                await asyncio.wait_for(anext(aiter(subscription)), 3)
            assert subscription.cut_off_reason == "interrupted"
    finally:
        await hub.stop()
