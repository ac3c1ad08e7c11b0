"""Sliding-window rate limits kept in the memory of one process (each replica limits alone)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from taskstream.errors import RateLimited

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


@dataclass
class _Bucket:
    points: float
    at: float


class CostBudget:
    """Query cost points per key, as a token bucket (Shopify's and GitHub's rate limits).

    Each key holds at most `capacity` points and gets `per_second` back; an operation spends
    its static cost. One account sending its most expensive accepted request back to back is
    slowed to `per_second` points of work, so others keep their share of the machine.
    """

    def __init__(
        self, *, capacity: int, per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def spend(self, key: str, points: int) -> None:
        """Take `points` from the key's bucket; RATE_LIMITED (nothing taken) when too few."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(points=float(self.capacity), at=now)
        bucket.points = min(self.capacity, bucket.points + (now - bucket.at) * self.per_second)
        bucket.at = now
        if points > bucket.points:
            wait = math.ceil((points - bucket.points) / self.per_second)
            raise RateLimited(
                f"query cost {points:,} is more than the {int(bucket.points):,} points this "
                f"account has left ({self.per_second:,.0f} come back each second); "
                f"try again in {max(wait, 1)} s"
            )
        bucket.points -= points

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket.
        for key in [
            k
            for k, b in self._buckets.items()
            if b.points + (now - b.at) * self.per_second >= self.capacity
        ]:
            del self._buckets[key]


@dataclass
class _Failures:
    count: int = 0
    # Monotonic time before which the pair may not try again.
    blocked_until: float = 0.0


class LoginBackoff:
    """Wrong passwords per (account, address): after `free` of them, each further attempt of
    that pair waits `base` seconds, doubling per failure up to `cap`. Other addresses of the
    same account are untouched, so guessing from one place never locks the owner out."""

    def __init__(
        self,
        *,
        free: int,
        base: float,
        cap: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base = base
        self.cap = cap
        self.clock = clock
        self._pairs: dict[tuple[str, str], _Failures] = {}

    def check(self, key: tuple[str, str]) -> None:
        """RATE_LIMITED while the pair is waiting out its backoff."""
        failures = self._pairs.get(key)
        if failures is None:
            return
        wait = failures.blocked_until - self.clock()
        if wait > 0:
            raise RateLimited(
                "too many wrong passwords for this account from this address; "
                f"try again in {max(math.ceil(wait), 1)} s"
            )

    def failed(self, key: tuple[str, str]) -> None:
        """One more wrong password of the pair."""
        now = self.clock()
        failures = self._pairs.get(key)
        if failures is None:
            if len(self._pairs) >= MAX_KEYS:
                self._forget_idle(now)
            failures = self._pairs[key] = _Failures()
        failures.count += 1
        beyond = failures.count - self.free
        if beyond >= 0:
            failures.blocked_until = now + min(self.base * 2.0 ** min(beyond, 64), self.cap)

    def succeeded(self, key: tuple[str, str]) -> None:
        """The right password: the pair starts afresh."""
        self._pairs.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        # A pair whose backoff ran out a whole cap ago is as good as new; past that, the
        # oldest half goes (bounded memory beats remembering every guesser).
        for key in [k for k, v in self._pairs.items() if v.blocked_until + self.cap <= now]:
            del self._pairs[key]
        if len(self._pairs) >= MAX_KEYS:
            ordered = sorted(self._pairs, key=lambda k: self._pairs[k].blocked_until)
            for key in ordered[: len(ordered) // 2]:
                del self._pairs[key]


class RateLimits:
    """The limits the gateway enforces: log-ins per address and per (account, address) with
    backoff on wrong passwords, sign-ups per address, mutations and query cost per user."""

    def __init__(
        self,
        *,
        logins_per_minute: int,
        logins_per_address_per_minute: int,
        mutations_per_minute: int,
        login_free_failures: int = 5,
        login_backoff_seconds: float = 1.0,
        login_backoff_max_seconds: float = 900.0,
        signups_per_address_per_hour: int = 30,
        cost_capacity: int = 40_000,
        cost_per_second: float = 2_000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = RateLimiter(limit=logins_per_minute, window=60.0, clock=clock)
        self.addresses = RateLimiter(limit=logins_per_address_per_minute, window=60.0, clock=clock)
        self.signups = RateLimiter(limit=signups_per_address_per_hour, window=3600.0, clock=clock)
        self.mutations = RateLimiter(limit=mutations_per_minute, window=60.0, clock=clock)
        self.cost = CostBudget(capacity=cost_capacity, per_second=cost_per_second, clock=clock)
        self.backoff = LoginBackoff(
            free=login_free_failures,
            base=login_backoff_seconds,
            cap=login_backoff_max_seconds,
            clock=clock,
        )

    def login_attempt(self, *, email_key: str, address: str | None) -> None:
        """Admit one log-in attempt: per address, then per (account, address) with backoff."""
        where = address or "unknown"
        # Attempts refused for backoff still count for the address: hammering costs it too.
        self.addresses.hit(where, what="log-in attempts from this address")
        self.backoff.check((email_key, where))
        self.accounts.hit(
            f"{email_key}\x00{where}", what="log-in attempts for this account from this address"
        )

    def login_failed(self, *, email_key: str, address: str | None) -> None:
        """A wrong password: that (account, address) pair backs off."""
        self.backoff.failed((email_key, address or "unknown"))

    def login_succeeded(self, *, email_key: str, address: str | None) -> None:
        """The right password: that pair's backoff is forgotten."""
        self.backoff.succeeded((email_key, address or "unknown"))

    def sign_up(self, *, address: str | None) -> None:
        """Admit one sign-up: per address per hour, and as a log-in attempt of the address."""
        where = address or "unknown"
        self.addresses.hit(where, what="log-in attempts from this address")
        self.signups.hit(where, what="sign-ups from this address")

    def query_cost(self, user_id: str, points: int) -> None:
        """Spend an operation's static cost from the user's bucket of points."""
        self.cost.spend(user_id, points)

    def mutation(self, user_id: str) -> None:
        """Count one mutation of the user."""
        self.mutations.hit(user_id, what="changes")
