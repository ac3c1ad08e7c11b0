"""The idle wait of a polling loop: sleep until woken or until the poll interval is up.

The outbox relay, the notice senders and the reminder firing loop each do a batch of work,
then wait for either a wake-up (a NOTIFY, a queued row) or their poll interval, whichever
comes first. This is that wait, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """A wake-up signal that a loop waits for with a time limit."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self, *_: object) -> None:
        """Wake the waiting loop (or let its next wait return at once); any arguments are
        ignored, so it can be a LISTEN callback as it is."""
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return once woken or after `seconds` (at once when 0: more work is waiting); a
        wake-up that came meanwhile is used up, since the loop is about to look anyway."""
        if seconds > 0:
            # asyncio.timeout, unlike wait_for on 3.11, never swallows a cancellation that
            # races a wake-up (the loop would then never stop).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self._event.wait()
        self._event.clear()
