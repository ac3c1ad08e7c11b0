"""Sliding-window rate limits kept in the memory of one process (each replica limits alone)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from taskstream.domain.errors import RateLimited

# Past this many tracked keys, idle ones are dropped so that memory stays bounded.
MAX_KEYS = 100_000


class RateLimiter:
    """At most `limit` events per key within any `window` seconds."""

    def __init__(
        self, *, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, *, what: str) -> None:
        """Record one event for the key; RATE_LIMITED (nothing recorded) when over the limit."""
        now = self.clock()
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= MAX_KEYS:
                self._forget_idle(now)
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            wait = math.ceil(events[0] + self.window - now)
            raise RateLimited(f"too many {what}; try again in {max(wait, 1)} s")
        events.append(now)

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
            del self._events[key]


class RateLimits:
    """The limits the gateway enforces: log-in attempts per account and address, mutations."""

    def __init__(
        self,
        *,
        logins_per_minute: int,
        logins_per_address_per_minute: int,
        mutations_per_minute: int,
    ) -> None:
        self.accounts = RateLimiter(limit=logins_per_minute, window=60.0)
        self.addresses = RateLimiter(limit=logins_per_address_per_minute, window=60.0)
        self.mutations = RateLimiter(limit=mutations_per_minute, window=60.0)

    def login_attempt(self, *, email_key: str, address: str | None) -> None:
        """Count a log-in attempt against the client's address and against the account."""
        if address:
            self.addresses.hit(address, what="log-in attempts from this address")
        self.accounts.hit(email_key, what="log-in attempts for this account")

    def mutation(self, user_id: str) -> None:
        """Count one mutation of the user."""
        self.mutations.hit(user_id, what="changes")
