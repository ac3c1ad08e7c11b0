"""State that holds across replicas: a small key-value port with optimistic concurrency.

Every entry carries an ETag; a write may demand the ETag it read (compare-and-set) or that the
key be absent (first writer wins), and may give a time to live. `update()` builds atomic
read-modify-write on top (retried on a lost race), which is what counters, buckets and claims
need. Two adapters: the Dapr state API through the sidecar (`stack up`, Kubernetes) and a
PostgreSQL table reached directly (`up`). Values are JSON.

The rate limits' token buckets (`spend_bucket`, a `BucketSpend`) go through `update()` on the
Dapr store (a read and an ETag-guarded write) and through one SQL statement on PostgreSQL,
which computes the same spend next to the row it locks: every request pays the buckets.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.errors import TaskstreamError
from taskstream.persistence import driver
from taskstream.persistence.db import is_database_unavailable
from taskstream.settings import Settings
from taskstream.sidecar import SidecarClient, SidecarResponse, SidecarUnreachable

T = TypeVar("T")
JSON = Any
# Lost races of one update() before it gives up (each costs a read and a write).
MAX_ATTEMPTS = 50
# What update()'s change returns to leave the entry as it is (no write at all).
KEEP: Any = object()
# Longest key accepted; callers hash anything a client controls beyond this.
MAX_KEY_CHARS = 400


class ETagMismatch(TaskstreamError):
    """The entry changed (or appeared, or vanished) since it was read: read again and retry."""

    code = "CONFLICT"


class StateUnavailable(TaskstreamError):
    """The state store did not answer or refused the request."""

    code = "INTERNAL"


class Contended(TaskstreamError):
    """An update lost its race too many times in a row; the caller may try again."""

    code = "RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored value and the ETag that proves which version it is."""

    value: JSON
    etag: str


# What a bucket spend answers per request: (admitted, seconds to wait, points left).
Taken = tuple[bool, float, float]


@dataclass(frozen=True, slots=True)
class BucketOutcome:
    """What a BucketSpend did: each request's answer, the stored time after it, the slice."""

    results: list[Taken]
    tat: float
    lease: float


@dataclass(frozen=True, slots=True)
class BucketSpend:
    """A batch of spends from a GCRA token bucket, as one atomic change of its stored time.

    GCRA keeps a bucket as one number, the theoretical arrival time (TAT, seconds of the
    callers' wall clock): a spend costing c seconds (points * interval) is admitted when
    max(TAT, now) + c lies within `tolerance` (capacity * interval) of now, and moves TAT
    there. The batch is admitted in order, each spend that fits; then, while the bucket is
    more than half full, a slice of at most `lease_max` points (never what would leave it at
    most half full) is taken beside it. `returned` seconds (a slice given back) come off the
    stored time first. `apply` is the rule; PostgresState runs the same arithmetic in SQL
    (tests/integration/test_shared_state.py checks that both agree on random batches).
    """

    now: float
    costs: tuple[float, ...]
    returned: float
    tolerance: float
    interval: float
    lease_max: float
    # Half the capacity, in points.
    half: float

    def left(self, tat: float) -> float:
        """Points the bucket holds when its stored time is `tat`."""
        return max(0.0, self.tolerance - max(tat - self.now, 0.0)) / self.interval

    def apply(self, stored: float | None) -> BucketOutcome:
        """The spend on a bucket whose stored time is `stored` (None: absent, i.e. full)."""
        now = self.now
        current = (now if stored is None else stored) - self.returned
        results: list[Taken] = []
        for cost in self.costs:
            new = max(current, now) + cost
            if new - now > self.tolerance:
                results.append((False, new - self.tolerance - now, self.left(current)))
            else:
                current = new
                results.append((True, 0.0, self.left(new)))
        lease = float(max(0.0, min(self.lease_max, math.floor(self.left(current) - self.half))))
        if lease > 0:
            current = max(current, now) + lease * self.interval
        return BucketOutcome(results, current, lease)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_CHARS:
        raise ValueError(f"a state key has 1 to {MAX_KEY_CHARS} characters, not {len(key)}")


class SharedState(abc.ABC):
    """Keys shared by every replica: get, conditional set, delete, each with an ETag."""

    @abc.abstractmethod
    async def get(self, key: str) -> Entry | None:
        """The live entry under the key (expired ones are absent)."""

    @abc.abstractmethod
    async def set(
        self,
        key: str,
        value: JSON,
        *,
        etag: str | None = None,
        absent: bool = False,
        ttl: float | None = None,
    ) -> None:
        """Store a value; ETagMismatch unless the entry still has `etag` (or, with `absent`,
        there is none). `ttl` seconds: the entry vanishes after it (whole seconds, rounded up)."""

    @abc.abstractmethod
    async def delete(self, key: str, *, etag: str | None = None) -> None:
        """Remove the entry (ETagMismatch if `etag` is given and no longer current)."""

    async def close(self) -> None:  # noqa: B027 (most adapters hold nothing to release)
        """Release the adapter's connections."""

    async def update(
        self,
        key: str,
        change: Callable[[JSON | None], tuple[JSON | None, T]],
        *,
        ttl: float | None = None,
    ) -> T:
        """Atomically replace the value with change(value)[0] (None: delete it, KEEP: leave it);
        returns change(value)[1]. A lost race reads again and re-applies `change`."""
        for attempt in range(MAX_ATTEMPTS):
            entry = await self.get(key)
            new, result = change(entry.value if entry is not None else None)
            try:
                if new is KEEP:
                    pass
                elif new is None:
                    if entry is not None:
                        await self.delete(key, etag=entry.etag)
                elif entry is None:
                    await self.set(key, new, absent=True, ttl=ttl)
                else:
                    await self.set(key, new, etag=entry.etag, ttl=ttl)
            except ETagMismatch:
                # Jittered, so that replicas racing for one key do not collide in lockstep.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311
                continue
            return result
        raise Contended(f"too many concurrent changes of {key.split(':', 1)[0]}; try again")

    async def increment(self, key: str, by: int = 1, *, ttl: float | None = None) -> int:
        """Add `by` to an integer counter (absent: 0); the new value."""

        def add(value: JSON | None) -> tuple[int, int]:
            total = int(value or 0) + by
            return total, total

        return await self.update(key, add, ttl=ttl)

    async def spend_bucket(self, key: str, spend: BucketSpend, *, ttl: float) -> BucketOutcome:
        """Apply a bucket spend to the entry {"tat": seconds} under the key, atomically."""

        def change(value: JSON | None) -> tuple[JSON | None, BucketOutcome]:
            stored = float(value["tat"]) if isinstance(value, dict) else None
            outcome = spend.apply(stored)
            unchanged = outcome.tat == (spend.now if stored is None else stored)
            return (KEEP if unchanged else {"tat": outcome.tat}), outcome

        return await self.update(key, change, ttl=ttl)


def _ttl_seconds(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, math.ceil(ttl))


# Expiry of a write: :ttl seconds from now, or never (NULL); a row is live until then.
_GET = text(
    "SELECT value, etag FROM gateway.shared_state WHERE key = :key "
    "AND (expires_at IS NULL OR expires_at > now())"
)
_SET_IF_ETAG = text(
    "UPDATE gateway.shared_state SET value = CAST(:value AS jsonb), etag = :etag, "
    "expires_at = CASE WHEN CAST(:ttl AS integer) IS NULL THEN NULL "
    "ELSE now() + make_interval(secs => CAST(:ttl AS integer)) END "
    "WHERE key = :key AND etag = :expected AND (expires_at IS NULL OR expires_at > now())"
)
_INSERT = (
    "INSERT INTO gateway.shared_state AS s (key, value, etag, expires_at) "
    "VALUES (:key, CAST(:value AS jsonb), :etag, "
    "CASE WHEN CAST(:ttl AS integer) IS NULL THEN NULL "
    "ELSE now() + make_interval(secs => CAST(:ttl AS integer)) END) "
    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, etag = EXCLUDED.etag, "
    "expires_at = EXCLUDED.expires_at"
)
# An expired row is as good as none: a first writer takes it over.
_SET_IF_ABSENT = text(_INSERT + " WHERE s.expires_at <= now()")
_SET = text(_INSERT)
_DELETE = text("DELETE FROM gateway.shared_state WHERE key = :key")
_DELETE_IF_ETAG = text("DELETE FROM gateway.shared_state WHERE key = :key AND etag = :expected")
_PRUNE = text(
    "DELETE FROM gateway.shared_state WHERE key IN (SELECT key FROM gateway.shared_state "
    "WHERE expires_at <= now() LIMIT :n FOR UPDATE SKIP LOCKED)"
)

# A BucketSpend in one statement (BucketSpend.apply in SQL, operation for operation, so both
# compute the same doubles). `held` locks the key's row, so concurrent spends of one key take
# turns and each sees the time the one before it stored (READ COMMITTED re-reads a row it
# waited for); an expired row counts as absent. When the key has no row, two first spends may
# both insert: the second finds the row at ON CONFLICT, its etag guard fails, nothing is written
# and `written` says so (the caller runs the spend again, now on the row).
# Positional, run on the driver (persistence.driver): one constant text that asyncpg prepares
# once per connection, nothing built or compiled per spend (every rate-limited request's top-up).
# $1 key, $2 now, $3 returned, $4 costs, $5 tolerance, $6 interval, $7 lease_max, $8 half,
# $9 etag, $10 ttl.
_SPEND_BUCKET = """
    WITH RECURSIVE held AS (
        SELECT etag, CASE WHEN (expires_at IS NULL OR expires_at > now())
                           AND jsonb_typeof(value -> 'tat') = 'number'
                          THEN CAST(value ->> 'tat' AS float8) END AS tat
        FROM gateway.shared_state WHERE key = $1::text FOR UPDATE
    ), start AS (
        SELECT (SELECT tat FROM held) AS stored, (SELECT etag FROM held) AS etag
    ), walk(n, cur) AS (
        SELECT 0, COALESCE(start.stored, CAST($2 AS float8)) - CAST($3 AS float8)
        FROM start
        UNION ALL
        SELECT walk.n + 1,
               CASE WHEN GREATEST(walk.cur, CAST($2 AS float8)) + c.cost
                         - CAST($2 AS float8) > CAST($5 AS float8)
                    THEN walk.cur
                    ELSE GREATEST(walk.cur, CAST($2 AS float8)) + c.cost END
        FROM walk
        JOIN unnest(CAST($4 AS float8[])) WITH ORDINALITY AS c(cost, n) ON c.n = walk.n + 1
    ), spent AS (
        SELECT cur, GREATEST(CAST(0 AS float8), LEAST(CAST($7 AS float8), floor(
                   GREATEST(CAST(0 AS float8), CAST($5 AS float8)
                            - GREATEST(cur - CAST($2 AS float8), CAST(0 AS float8)))
                   / CAST($6 AS float8) - CAST($8 AS float8)))) AS lease
        FROM walk ORDER BY n DESC LIMIT 1
    ), next AS (
        SELECT CASE WHEN lease > 0
                    THEN GREATEST(cur, CAST($2 AS float8)) + lease * CAST($6 AS float8)
                    ELSE cur END AS tat
        FROM spent
    ), written AS (
        INSERT INTO gateway.shared_state AS s (key, value, etag, expires_at)
        SELECT $1::text, jsonb_build_object('tat', next.tat), $9::uuid,
               now() + make_interval(secs => CAST($10 AS integer))
        FROM next, start
        WHERE next.tat <> COALESCE(start.stored, CAST($2 AS float8))
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, etag = EXCLUDED.etag,
            expires_at = EXCLUDED.expires_at
        WHERE s.etag IS NOT DISTINCT FROM (SELECT etag FROM start)
        RETURNING 1
    )
    SELECT start.stored, next.tat,
           next.tat <> COALESCE(start.stored, CAST($2 AS float8)) AS changed,
           (SELECT count(*) FROM written) AS written
    FROM start, next
    """


def _etag_of(key: str, etag: str) -> uuid.UUID:
    try:
        return uuid.UUID(etag)
    except ValueError as error:
        raise ETagMismatch(f"{key}: not an ETag of this store") from error


@contextlib.contextmanager
def _unavailable_when_the_database_is() -> Iterator[None]:
    """The database's "cannot serve now" (down, read-only, out of disk, no connection in time)
    as the store's StateUnavailable, which the callers know how to answer; bugs go through."""
    try:
        yield
    except Exception as error:
        if is_database_unavailable(error):
            raise StateUnavailable(
                f"the shared state's database cannot serve now: {error!s}"
            ) from error
        raise


class PostgresState(SharedState):
    """Entries in one table of the gateway's own PostgreSQL (gateway.shared_state)."""

    # Expired rows are deleted at most this often, a bounded batch at a time, by a writer.
    PRUNE_EVERY_SECONDS = 60.0
    PRUNE_BATCH = 1000

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._pruned_at = time.monotonic()

    async def get(self, key: str) -> Entry | None:
        """The live entry under the key (expired ones are absent)."""
        _check_key(key)
        with _unavailable_when_the_database_is():
            async with self.engine.connect() as connection:
                row = (await connection.execute(_GET, {"key": key})).first()
        return None if row is None else Entry(row.value, str(row.etag))

    async def set(
        self,
        key: str,
        value: JSON,
        *,
        etag: str | None = None,
        absent: bool = False,
        ttl: float | None = None,
    ) -> None:
        """Store a value, conditionally on its ETag or on its absence."""
        _check_key(key)
        params: dict[str, Any] = {
            "key": key,
            "value": json.dumps(value),
            "etag": uuid.uuid4(),
            "ttl": _ttl_seconds(ttl),
        }
        if etag is not None:
            params["expected"] = _etag_of(key, etag)
            statement = _SET_IF_ETAG
        else:
            statement = _SET_IF_ABSENT if absent else _SET
        with _unavailable_when_the_database_is():
            async with self.engine.begin() as connection:
                changed = (await connection.execute(statement, params)).rowcount
        if changed != 1:
            raise ETagMismatch(f"{key}: changed since it was read")
        await self._maybe_prune()

    async def spend_bucket(self, key: str, spend: BucketSpend, *, ttl: float) -> BucketOutcome:
        """Apply a bucket spend in one statement (one round trip, no transaction around it)."""
        _check_key(key)
        for attempt in range(MAX_ATTEMPTS):
            params = (
                key,
                spend.now,
                spend.returned,
                list(spend.costs),
                spend.tolerance,
                spend.interval,
                spend.lease_max,
                spend.half,
                uuid.uuid4(),
                _ttl_seconds(ttl),
            )
            with _unavailable_when_the_database_is():
                async with self.engine.connect() as connection:
                    # One statement: autocommit spares the BEGIN and COMMIT round trips.
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    row = await driver.fetchrow(autocommit, _SPEND_BUCKET, *params)
            assert row is not None  # the statement's final SELECT answers one row
            if row["changed"] and not row["written"]:
                # Another replica created the key meanwhile: spend again on its row.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311
                continue
            outcome = spend.apply(row["stored"])
            if row["changed"]:
                await self._maybe_prune()
            # What is stored is the statement's time (the same double, by construction).
            return replace(outcome, tat=float(row["tat"]))
        raise Contended(f"too many concurrent changes of {key.split(':', 1)[0]}; try again")

    async def delete(self, key: str, *, etag: str | None = None) -> None:
        """Remove the entry (conditionally on its ETag)."""
        _check_key(key)
        with _unavailable_when_the_database_is():
            async with self.engine.begin() as connection:
                if etag is None:
                    await connection.execute(_DELETE, {"key": key})
                    return
                expected = _etag_of(key, etag)
                changed = (
                    await connection.execute(_DELETE_IF_ETAG, {"key": key, "expected": expected})
                ).rowcount
        if changed != 1:
            raise ETagMismatch(f"{key}: changed since it was read")

    async def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < self.PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        with _unavailable_when_the_database_is():
            async with self.engine.begin() as connection:
                await connection.execute(_PRUNE, {"n": self.PRUNE_BATCH})


class DaprState(SharedState):
    """Entries in a Dapr state store, through the sidecar's HTTP state API.

    Writes use first-write concurrency: with an ETag the write succeeds only on that version;
    without one (`absent`) only when the key does not exist. Dapr answers a lost race with 409
    (ETag mismatch) or, for an insert of a key that exists, with an error naming the duplicate.
    """

    def __init__(
        self,
        base_url: str,
        *,
        store: str = "statestore",
        api_token: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.path = f"/v1.0/state/{store}"
        self.sidecar = SidecarClient(base_url, api_token=api_token, timeout=timeout)

    async def close(self) -> None:
        """Close the HTTP connections to the sidecar."""
        await self.sidecar.close()

    async def _call(
        self,
        method: str,
        key: str | None,
        *,
        body: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> SidecarResponse:
        path = self.path if key is None else f"{self.path}/{quote(key, safe='')}"
        try:
            return await self.sidecar.request(
                method,
                path,
                body=body,
                params=params,
                headers=headers,
                route=self.path if key is None else f"{self.path}/{{key}}",
            )
        except SidecarUnreachable as error:
            raise StateUnavailable(f"the Dapr state store did not answer: {error}") from error

    async def get(self, key: str) -> Entry | None:
        """The live entry under the key (Dapr hides expired ones)."""
        _check_key(key)
        response = await self._call("GET", key, params={"consistency": "strong"})
        if response.status == 204 or not response.body:
            return None
        if response.status != 200:
            raise StateUnavailable(f"the Dapr state store answered {response.status}")
        etag = response.headers.get("etag")
        if etag is None:
            raise StateUnavailable("the Dapr state store answered without an ETag")
        return Entry(response.json(), etag)

    async def set(
        self,
        key: str,
        value: JSON,
        *,
        etag: str | None = None,
        absent: bool = False,
        ttl: float | None = None,
    ) -> None:
        """Store a value, conditionally on its ETag or on its absence."""
        _check_key(key)
        item: dict[str, Any] = {"key": key, "value": value}
        if etag is not None or absent:
            item["options"] = {"concurrency": "first-write", "consistency": "strong"}
        if etag is not None:
            item["etag"] = etag
        seconds = _ttl_seconds(ttl)
        if seconds is not None:
            item["metadata"] = {"ttlInSeconds": str(seconds)}
        response = await self._call(
            "POST",
            None,
            body=json.dumps([item]).encode(),
            headers={"content-type": "application/json"},
        )
        if response.status == 204:
            return
        if _lost_race(response):
            raise ETagMismatch(f"{key}: changed since it was read")
        raise StateUnavailable(
            f"the Dapr state store refused a write ({response.status}): {response.text()[:200]}"
        )

    async def delete(self, key: str, *, etag: str | None = None) -> None:
        """Remove the entry (conditionally on its ETag)."""
        _check_key(key)
        headers = {"If-Match": etag} if etag is not None else {}
        params = {"concurrency": "first-write"} if etag is not None else {}
        response = await self._call("DELETE", key, headers=headers, params=params)
        if response.status in (200, 204):
            return
        if _lost_race(response):
            raise ETagMismatch(f"{key}: changed since it was read")
        raise StateUnavailable(
            f"the Dapr state store refused a delete ({response.status}): {response.text()[:200]}"
        )


def _lost_race(response: SidecarResponse) -> bool:
    """Whether Dapr refused a write because another writer got there first."""
    if response.status == 409:
        return True
    body = response.text().lower()
    # state.postgresql (v2) answers a first-write insert of an existing key with 500 "no item
    # was updated"; other stores name the duplicate key or the ETag.
    return response.status in (400, 500) and (
        "no item was updated" in body
        or "etag" in body
        or "duplicate key" in body
        or "already exists" in body
    )


def open_shared_state(settings: Settings, engine: AsyncEngine) -> SharedState:
    """The adapter the settings choose: the Dapr sidecar's state store, or the database."""
    if settings.shared_state_adapter == "dapr":
        token = settings.dapr_api_token
        return DaprState(
            f"http://127.0.0.1:{settings.dapr_http_port}",
            store=settings.state_store_name,
            api_token=token.get_secret_value() if token is not None else None,
        )
    return PostgresState(engine)
