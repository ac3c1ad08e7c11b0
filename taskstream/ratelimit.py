"""Rate limits: counted in the shared state (every replica sees one budget) or, for tests and
single-process tools, in the memory of one process.

Shared counting uses GCRA (the generic cell rate algorithm, a token bucket kept as one number:
the theoretical arrival time). A key's whole state is one entry, changed atomically (one SQL
statement on PostgreSQL, a compare-and-set on the Dapr store: taskstream/sharedstate.py,
`spend_bucket`), so concurrent requests on several replicas are each counted once and never
all admitted past the budget. Each replica also remembers the last arrival time it saw per
key: that time only grows, so a request it already refuses is refused without asking the store
(hammering clients cost the store nothing).

Leases (the per-request budgets, query cost and mutations): while a key's bucket is more than
half full, a replica that goes to the store takes, beside what it admits, a slice of at most
`lease_fraction` of the capacity (never what would leave the bucket at most half full), and
spends that slice locally for `lease_seconds`: most requests of an account far from its limit
cost the store nothing. Before a slice runs out (a quarter of it left) or lapses (half of its
time gone), the request that notices it starts a top-up in the background, which fills the
slice up to `lease_fraction` again and renews its time: the requests go on spending what is
left meanwhile, so an account far from its limit rarely waits on the store at all. A replica
that loads an account's session state (its first request of the account in a while) takes
that account's slices in the background at once (`prefetch`), so the request waits for one
visit of the store at most, not for the session read and each budget's visit in turn.

The bound, per key (tests/integration/test_shared_limits.py checks it with two replicas):
- **No replica overdraws the shared limit: 0 points.** Every point is taken from the shared
  bucket before any request spends it, so over any span of t seconds all replicas together
  admit at most capacity + t * per_second points, exactly GCRA's limit.
- **A replica holds at most `lease_fraction * capacity` points taken but not yet spent** (a
  top-up asks for the difference, never more), so a client may be refused early by at most
  that much per other replica holding a slice. What is left of a slice, live or lapsed, goes
  back to the bucket with its replica's next store visit for the key; a replica that never
  asks for the key again keeps its slice from the others (documented in README.md), and
  past MAX_KEYS slices, forgotten ones are lost (refused early, never admitted twice).
Near the limit (bucket at most half full) nothing is leased and every request is counted
exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from taskstream.errors import RateLimited, TaskstreamError
from taskstream.sharedstate import BucketSpend, SharedState, StateUnavailable, Taken

log = logging.getLogger(__name__)
# Budgets that let a request through while the shared state does not answer: an outage of the
# store must not take every read and write down with it. Log-in and sign-up limits (guessing
# passwords, making accounts) refuse instead, with a retryable RATE_LIMITED.
FAIL_OPEN = frozenset({"cost", "mutations"})
# The least time a shared bucket takes to refill from empty (capacity / per_second). A spend's
# time is read on its replica before it waits its turn, and other replicas store theirs
# meanwhile (another machine's clock, too): a bucket that refills faster than those
# differences would refuse spends as "over" that never were (a 100-microsecond bucket refused
# a fresh account's first request). Larger rates get a larger bucket, never a shorter window.
MIN_WINDOW_SECONDS = 1.0

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
        bucket = self._refilled(key)
        if points > bucket.points:
            wait = math.ceil((points - bucket.points) / self.per_second)
            raise RateLimited(
                f"query cost {points:,} is more than the {int(bucket.points):,} points this "
                f"account has left ({self.per_second:,.0f} come back each second); "
                f"try again in {max(wait, 1)} s"
            )
        bucket.points -= points

    def spend_up_to(self, key: str, points: int) -> None:
        """Take `points` from the key's bucket, or all it has left when that is fewer."""
        bucket = self._refilled(key)
        bucket.points = max(0.0, bucket.points - points)

    def _refilled(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(points=float(self.capacity), at=now)
        bucket.points = min(self.capacity, bucket.points + (now - bucket.at) * self.per_second)
        bucket.at = now
        return bucket

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket.
        for key in [
            k
            for k, b in self._buckets.items()
            if b.points + (now - b.at) * self.per_second >= self.capacity
        ]:
            del self._buckets[key]


@dataclass
class _Lease:
    """Points this replica took from a shared bucket ahead of use, and when they lapse."""

    points: float
    until: float
    # False once the store gave less than was asked (the bucket reached half full): this
    # slice runs out, then every request is counted in the store.
    renewable: bool = True


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


def _state_key(kind: str, key: str) -> str:
    """A bounded store key for a client-controlled key (e-mail addresses, addresses)."""
    return f"ratelimit:{kind}:{hashlib.sha256(key.encode()).hexdigest()}"


def _settle(futures: list[asyncio.Future[Taken]], spent: asyncio.Future[list[Taken]]) -> None:
    """Hand each request of a batch its answer (or the batch's error)."""
    error = None if spent.cancelled() else spent.exception()
    for n, future in enumerate(futures):
        if future.done():
            continue  # its request was cancelled meanwhile
        if spent.cancelled():
            future.set_exception(StateUnavailable("the limit's update was cancelled"))
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(spent.result()[n])


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or awaits it (bounded by use)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the key's lock."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class SharedBucket:
    """A token bucket of `capacity` points refilled at `per_second`, kept in shared state.

    GCRA: one stored time per key (the theoretical arrival time, TAT); a spend of n points is
    admitted when max(TAT, now) + n/rate lies within capacity/rate of now, and moves TAT there.
    """

    def __init__(
        self,
        state: SharedState,
        *,
        kind: str,
        capacity: float,
        per_second: float,
        clock: Callable[[], float] = time.time,
        lease_fraction: float = 0.0,
        lease_seconds: float = 1.0,
    ) -> None:
        if capacity < per_second * MIN_WINDOW_SECONDS:
            raise ValueError(
                f"the {kind} bucket refills in {capacity / per_second:g} s: it must hold at "
                f"least {MIN_WINDOW_SECONDS:g} s of refill ({per_second:g} points)"
            )
        self.state = state
        self.kind = kind
        self.capacity = capacity
        self.lease_max = math.floor(capacity * lease_fraction)
        self.lease_seconds = lease_seconds
        self._leases: dict[str, _Lease] = {}
        self.interval = 1.0 / per_second
        self.tolerance = capacity * self.interval
        self.per_second = per_second
        self.clock = clock
        # A changed limit starts with fresh buckets rather than reading the old rule's times.
        self.namespace = f"{kind}:{capacity:g}/{per_second:g}"
        # The highest TAT this replica has seen per key: a lower bound of the stored one.
        self._seen: dict[str, float] = {}
        # A replica's requests of one key take turns, and the requests that arrive while one
        # is in the store go together in the next compare-and-set: only the replicas race for
        # the entry (one CAS per request would retry quadratically under a burst of one
        # account), and a burst costs the store one round trip per batch.
        self._locks = KeyedLocks()
        self._queued: dict[str, list[tuple[float, asyncio.Future[Taken]]]] = {}
        self._running: set[asyncio.Task[list[Taken]]] = set()
        # Slices being topped up, and those tasks (held until done, like `_running`).
        self._topping: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    async def take(self, key: str, points: float = 1.0) -> Taken:
        """Spend `points` of the key's bucket: (admitted, seconds to wait, points left)."""
        now = self.clock()
        leased = self._spend_leased(key, points, now)
        if leased is not None:
            return True, 0.0, leased
        cost = points * self.interval
        seen = self._seen.get(key)
        if seen is not None:
            # A slice this replica holds would go back to the store with this request.
            lease = self._leases.get(key)
            if lease is not None:
                seen -= lease.points * self.interval
            if max(seen, now) + cost - now > self.tolerance:
                return False, max(seen, now) + cost - self.tolerance - now, self._left(seen, now)
        mine: asyncio.Future[Taken] = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append((points, mine))
        async with self._locks.hold(key):
            # Not queued any more while `mine` is pending: the batch holding it is still in the
            # store, and the request that started it was cancelled (its deadline) and gave up
            # the turn; `mine` is answered when that batch ends.
            batch = self._queued.pop(key, None) if not mine.done() else None
            if batch:
                # Everything queued for the key so far (this request's included) goes at once;
                # the batch runs to its end even if this request is cancelled meanwhile.
                spent = asyncio.get_running_loop().create_task(
                    self._take_batch(key, [p for p, _ in batch])
                )
                # Held until done: a running task only weakly referenced may be collected.
                self._running.add(spent)
                spent.add_done_callback(self._running.discard)
                spent.add_done_callback(functools.partial(_settle, [f for _, f in batch]))
                await asyncio.wait([spent])
        return await mine

    def held(self, key: str) -> float:
        """Points of the key this replica holds: taken from the shared bucket, not yet spent."""
        lease = self._leases.get(key)
        return lease.points if lease is not None and lease.until > self.clock() else 0.0

    async def settled(self) -> None:
        """Wait for the slices being topped up in the background (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spend_leased(self, key: str, points: float, now: float) -> float | None:
        """Take `points` from this replica's live lease of the key: the points it has left
        after, or None (no lease, lapsed, or too few points: ask the store). A slice running
        low or old is topped up in the background."""
        lease = self._leases.get(key)
        if lease is None:
            return None
        if lease.until <= now:
            # Lapsed: kept to go back to the bucket with this replica's next store visit.
            return None
        if points > lease.points:
            return None
        lease.points -= points
        if lease.renewable and key not in self._topping and self._wants_top_up(lease, now):
            self._in_background(key, self._top_up(key))
        return lease.points

    def _in_background(self, key: str, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` on the key's slice in the background (one at a time per key)."""
        self._topping.add(key)
        task = asyncio.get_running_loop().create_task(work)
        # Held until done: a running task only weakly referenced may be collected.
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @contextlib.asynccontextmanager
    async def _background_turn(self, key: str, failed: str) -> AsyncIterator[None]:
        """The key's turn for background work on its slice; a failure is logged (the slice
        stays as it is: the key's next request goes to the store itself) and the key may
        have background work again after."""
        try:
            async with self._locks.hold(key):
                yield
        except TaskstreamError as error:
            log.warning("%s slice %s: %s", self.kind, failed, error.message)
        except Exception:
            log.exception("%s slice %s", self.kind, failed)
        finally:
            self._topping.discard(key)

    def _wants_top_up(self, lease: _Lease, now: float) -> bool:
        """Whether a slice is low (three quarters spent) or old (half its time gone)."""
        return lease.points * 4 < self.lease_max or (lease.until - now) * 2 < self.lease_seconds

    def _spend(self, now: float, costs: list[float], returned: float, lease: float) -> BucketSpend:
        """The store's change for spends of `costs` points beside a slice of up to `lease`."""
        return BucketSpend(
            now=now,
            costs=tuple(points * self.interval for points in costs),
            returned=returned * self.interval,
            tolerance=self.tolerance,
            interval=self.interval,
            lease_max=float(lease),
            half=self.capacity / 2,
        )

    async def _top_up(self, key: str) -> None:
        """Fill this replica's slice of the key up to `lease_max` again and renew its time,
        while requests go on spending what it holds (run in the background)."""
        async with self._background_turn(key, "not topped up"):
            now = self.clock()
            lease = self._leases.get(key)
            # A batch may have replaced or spent the slice while this waited for the turn.
            if (
                lease is None
                or lease.until <= now
                or not lease.renewable
                or not self._wants_top_up(lease, now)
            ):
                return
            want = self.lease_max - math.ceil(lease.points)
            if want <= 0:
                return
            outcome = await self.state.spend_bucket(
                _state_key(self.namespace, key),
                self._spend(now, [], 0.0, want),
                ttl=self.tolerance + 1.0,
            )
            self._remember(key, outcome.tat, now)
            # Less than asked: the bucket is half full now; this slice is the last.
            lease.renewable = outcome.lease >= want
            if not outcome.lease:
                return
            # The slice was held (not popped) throughout: requests spent from it meanwhile.
            held = self._leases.get(key)
            if held is lease and lease.until > now:
                lease.points += outcome.lease
                lease.until = now + self.lease_seconds
            else:
                self._keep_lease(key, outcome.lease, now)

    async def _take_batch(self, key: str, batch: list[float]) -> list[Taken]:
        """One atomic spend admitting, in order, each spend of the batch that fits (the
        leading ones this replica's lease still covers go without the store)."""
        now = self.clock()
        local: list[Taken] = []
        for points in batch:
            leased = self._spend_leased(key, points, now)
            if leased is None:
                break
            local.append((True, 0.0, leased))
        batch = batch[len(local) :]
        if not batch:
            return local
        return local + await self._visit(key, batch, now)

    async def _visit(self, key: str, batch: list[float], now: float) -> list[Taken]:
        """One store visit: the batch's spends, and a slice of up to `lease_max` beside them
        (the caller holds the key's turn)."""
        # What is left of the slice (live or lapsed) goes back in this spend, so a request
        # bigger than the slice still gets all the points the account has.
        held = self._leases.pop(key, None)
        returned = held.points if held is not None else 0.0
        outcome = await self.state.spend_bucket(
            _state_key(self.namespace, key),
            self._spend(now, batch, returned, self.lease_max),
            ttl=self.tolerance + 1.0,
        )
        if returned:
            # The stored time went back by the returned slice: what this replica saw before
            # is no longer a lower bound of it.
            self._seen.pop(key, None)
        self._remember(key, outcome.tat, now)
        if outcome.lease:
            self._keep_lease(key, outcome.lease, now)
        return outcome.results

    def prefetch(self, key: str) -> None:
        """Take a slice of the key in the background when this replica holds none live.

        For a key about to be spent here for the first time in a while (the gateway calls it
        when it loads an account's session state): its first request then finds the slice,
        or waits for the visit already under way, instead of going to the store after the
        session read and the other budget's visit, one after the other. Nothing is taken
        for a key this replica knows to be at most half full (no slice would be given).
        """
        if self.lease_max <= 0 or key in self._topping:
            return
        now = self.clock()
        lease = self._leases.get(key)
        if lease is not None and lease.until > now:
            return
        seen = self._seen.get(key)
        if seen is not None and self._left(seen, now) <= self.capacity / 2:
            return
        self._in_background(key, self._take_slice(key))

    async def _take_slice(self, key: str) -> None:
        """A slice of the key, unless a request took one while this waited for the turn."""
        async with self._background_turn(key, "not prefetched"):
            now = self.clock()
            lease = self._leases.get(key)
            if lease is None or lease.until <= now:
                await self._visit(key, [], now)

    def _keep_lease(self, key: str, points: float, now: float) -> None:
        """Hold `points` taken from the store for this replica."""
        if key not in self._leases and len(self._leases) >= MAX_KEYS:
            for lapsed in [k for k, v in self._leases.items() if v.until <= now]:
                del self._leases[lapsed]
            if len(self._leases) >= MAX_KEYS:
                # Bounded memory over the held points: forgetting a slice only refuses early.
                self._leases.clear()
        # A partial slice means the bucket reached half full: it is not topped up.
        self._leases[key] = _Lease(
            points=points, until=now + self.lease_seconds, renewable=points >= self.lease_max
        )

    def _left(self, tat: float, now: float) -> float:
        return max(0.0, self.tolerance - max(tat - now, 0.0)) / self.interval

    def _remember(self, key: str, tat: float, now: float) -> None:
        if len(self._seen) >= MAX_KEYS:
            # A TAT in the past refuses nothing: forgetting it changes no answer.
            for old in [k for k, v in self._seen.items() if v <= now]:
                del self._seen[old]
            if len(self._seen) >= MAX_KEYS:
                self._seen.clear()
        self._seen[key] = max(tat, self._seen.get(key, tat))


class SharedBackoff:
    """LoginBackoff's rule with its failures per (account, address) in shared state."""

    def __init__(
        self,
        state: SharedState,
        *,
        free: int,
        base: float,
        cap: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.free = free
        self.base = base
        self.cap = cap
        self.clock = clock

    def _key(self, key: tuple[str, str]) -> str:
        return _state_key("login-backoff", f"{key[0]}\x00{key[1]}")

    async def wait(self, key: tuple[str, str]) -> float:
        """Seconds the pair must still wait (0: it may try)."""
        entry = await self.state.get(self._key(key))
        if entry is None or not isinstance(entry.value, dict):
            return 0.0
        return float(entry.value.get("blocked_until", 0.0)) - self.clock()

    async def failed(self, key: tuple[str, str]) -> None:
        """One more wrong password of the pair."""
        now = self.clock()

        def count(value: Any) -> tuple[Any, None]:
            failures = int(value["count"]) + 1 if isinstance(value, dict) else 1
            blocked = float(value["blocked_until"]) if isinstance(value, dict) else 0.0
            beyond = failures - self.free
            if beyond >= 0:
                blocked = now + min(self.base * 2.0 ** min(beyond, 64), self.cap)
            return {"count": failures, "blocked_until": blocked}, None

        # Remembered until a whole cap after the longest backoff, like the local rule.
        await self.state.update(self._key(key), count, ttl=2 * self.cap + 1.0)

    async def succeeded(self, key: tuple[str, str]) -> None:
        """The right password: the pair starts afresh."""
        await self.state.delete(self._key(key))


class RateLimits:
    """The limits the gateway enforces: log-ins per address and per (account, address) with
    backoff on wrong passwords, sign-ups per address, mutations and query cost per user.

    With `state`, every count is shared by the replicas using that state; without, each
    process counts alone (tests, single-process tools).
    """

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
        clock: Callable[[], float] | None = None,
        state: SharedState | None = None,
        lease_fraction: float = 0.0,
        lease_seconds: float = 1.0,
    ) -> None:
        self.state = state
        self.shared: dict[str, SharedBucket] = {}
        self.shared_backoff: SharedBackoff | None = None
        # A rate so high that the bucket would refill in less than MIN_WINDOW_SECONDS gets a
        # bucket of that window instead (the same here and in the shared bucket).
        cost_capacity = max(cost_capacity, math.ceil(cost_per_second * MIN_WINDOW_SECONDS))
        if state is not None:
            wall = clock or time.time
            per_minute = {
                "accounts": logins_per_minute,
                "addresses": logins_per_address_per_minute,
                "mutations": mutations_per_minute,
            }
            # Only the limits every request pays are leased; log-ins and sign-ups stay exact.
            lease = {"lease_fraction": lease_fraction, "lease_seconds": lease_seconds}
            for kind, limit in per_minute.items():
                self.shared[kind] = SharedBucket(
                    state,
                    kind=kind,
                    capacity=limit,
                    per_second=limit / 60.0,
                    clock=wall,
                    **(lease if kind in FAIL_OPEN else {}),
                )
            self.shared["signups"] = SharedBucket(
                state,
                kind="signups",
                capacity=signups_per_address_per_hour,
                per_second=signups_per_address_per_hour / 3600.0,
                clock=wall,
            )
            self.shared["cost"] = SharedBucket(
                state,
                kind="cost",
                capacity=cost_capacity,
                per_second=cost_per_second,
                clock=wall,
                **lease,
            )
            self.shared_backoff = SharedBackoff(
                state,
                free=login_free_failures,
                base=login_backoff_seconds,
                cap=login_backoff_max_seconds,
                clock=wall,
            )
        clock = clock or time.monotonic
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

    async def settled(self) -> None:
        """Wait for every shared bucket's background top-ups (tests, shutdown)."""
        for bucket in self.shared.values():
            await bucket.settled()

    def prefetch(self, user_id: str) -> None:
        """Start taking this replica's slices of the user's per-request budgets (query cost,
        mutations) in the background; see SharedBucket.prefetch."""
        for kind in FAIL_OPEN:
            bucket = self.shared.get(kind)
            if bucket is not None:
                bucket.prefetch(user_id)

    async def _hit(self, kind: str, key: str, *, what: str) -> None:
        """One event of `kind` for the key, shared or local; RATE_LIMITED when over."""
        bucket = self.shared.get(kind)
        if bucket is None:
            local: RateLimiter = getattr(self, kind)
            local.hit(key, what=what)
            return
        admitted, wait, _ = await self._take(bucket, kind, key, 1)
        if not admitted:
            raise RateLimited(f"too many {what}; try again in {max(math.ceil(wait), 1)} s")

    async def _take(self, bucket: SharedBucket, kind: str, key: str, points: float) -> Taken:
        """bucket.take, with the outage rule of FAIL_OPEN."""
        try:
            return await bucket.take(key, points)
        except StateUnavailable as error:
            if kind in FAIL_OPEN:
                log.warning("%s limit not counted: %s", kind, error.message)
                return True, 0.0, 0.0
            log.warning("%s limit refused: %s", kind, error.message)
            raise RateLimited(
                "this limit cannot be checked at the moment; try again in a few seconds"
            ) from error

    async def login_attempt(self, *, email_key: str, address: str | None) -> None:
        """Admit one log-in attempt: per address, then per (account, address) with backoff."""
        where = address or "unknown"
        # Attempts refused for backoff still count for the address: hammering costs it too.
        await self._hit("addresses", where, what="log-in attempts from this address")
        if self.shared_backoff is None:
            self.backoff.check((email_key, where))
        else:
            try:
                wait = await self.shared_backoff.wait((email_key, where))
            except StateUnavailable as error:
                raise RateLimited(
                    "log-in cannot be checked at the moment; try again in a few seconds"
                ) from error
            if wait > 0:
                raise RateLimited(
                    "too many wrong passwords for this account from this address; "
                    f"try again in {max(math.ceil(wait), 1)} s"
                )
        await self._hit(
            "accounts",
            f"{email_key}\x00{where}",
            what="log-in attempts for this account from this address",
        )

    async def login_failed(self, *, email_key: str, address: str | None) -> None:
        """A wrong password: that (account, address) pair backs off."""
        key = (email_key, address or "unknown")
        if self.shared_backoff is None:
            self.backoff.failed(key)
            return
        try:
            await self.shared_backoff.failed(key)
        except StateUnavailable as error:
            # The caller gets its UNAUTHENTICATED; the next attempt is checked (and refused
            # while the store is down) before any password is compared.
            log.warning("a wrong password not counted: %s", error.message)

    async def login_succeeded(self, *, email_key: str, address: str | None) -> None:
        """The right password: that pair's backoff is forgotten."""
        key = (email_key, address or "unknown")
        if self.shared_backoff is None:
            self.backoff.succeeded(key)
            return
        try:
            await self.shared_backoff.succeeded(key)
        except StateUnavailable as error:
            # The log-in stands; the pair's failures lapse with their TTL.
            log.warning("a backoff not cleared: %s", error.message)

    async def sign_up(self, *, address: str | None) -> None:
        """Admit one sign-up: per address per hour, and as a log-in attempt of the address."""
        where = address or "unknown"
        await self._hit("addresses", where, what="log-in attempts from this address")
        await self._hit("signups", where, what="sign-ups from this address")

    async def query_cost(self, user_id: str, points: int) -> None:
        """Spend an operation's static cost from the user's bucket of points."""
        bucket = self.shared.get("cost")
        if bucket is None:
            self.cost.spend(user_id, points)
            return
        admitted, wait, left = await self._take(bucket, "cost", user_id, points)
        if not admitted:
            raise RateLimited(
                f"query cost {points:,} is more than the {int(left):,} points this "
                f"account has left ({bucket.per_second:,.0f} come back each second); "
                f"try again in {max(math.ceil(wait), 1)} s"
            )

    async def query_time(self, user_id: str, points: int) -> None:
        """Spend what an operation took beyond its static cost, or all the user has left when
        that is fewer (never refused: the work is done; the next request pays for it)."""
        bucket = self.shared.get("cost")
        if bucket is None:
            self.cost.spend_up_to(user_id, points)
            return
        admitted, _, left = await self._take(bucket, "cost", user_id, points)
        if not admitted and int(left) > 0:
            await self._take(bucket, "cost", user_id, int(left))

    async def mutation(self, user_id: str) -> None:
        """Count one mutation of the user."""
        await self._hit("mutations", user_id, what="changes")
