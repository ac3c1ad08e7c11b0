"""Shared state in memory, for unit tests of the logic built on the SharedState port."""

from __future__ import annotations

import asyncio
from typing import Any

from taskstream.sharedstate import Entry, ETagMismatch, SharedState


class SlowState(SharedState):
    """Shared state in memory whose every call takes `delay` seconds (a slow link)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.entries: dict[str, Entry] = {}
        self.versions = 0
        self.reads = 0
        # Every write asked for: its key, and whether it was an insert of an absent key.
        self.writes: list[tuple[str, bool]] = []

    async def get(self, key: str) -> Entry | None:
        """The entry, after the delay."""
        self.reads += 1
        await asyncio.sleep(self.delay)
        return self.entries.get(key)

    async def set(
        self,
        key: str,
        value: Any,
        *,
        etag: str | None = None,
        absent: bool = False,
        ttl: float | None = None,
    ) -> None:
        """Compare-and-set, after the delay."""
        self.writes.append((key, absent))
        await asyncio.sleep(self.delay)
        current = self.entries.get(key)
        if (
            (absent and current is not None)
            or (etag is not None and current is None)
            or (etag is not None and current is not None and current.etag != etag)
        ):
            raise ETagMismatch("changed meanwhile")
        self.versions += 1
        self.entries[key] = Entry(value, str(self.versions))

    async def delete(self, key: str, *, etag: str | None = None) -> None:
        """Remove the entry, after the delay."""
        await asyncio.sleep(self.delay)
        self.entries.pop(key, None)
