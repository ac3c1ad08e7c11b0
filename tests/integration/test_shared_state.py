"""The shared-state contract, one body per adapter: PostgreSQL directly, and the Dapr state API
through a real daprd whose state.postgresql component sits on the test database (the `state`
fixture, tests/integration/conftest.py)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack.daprd import Daprd
from taskstream.sharedstate import (
    BucketSpend,
    DaprState,
    ETagMismatch,
    PostgresState,
    SharedState,
)

pytestmark = pytest.mark.integration


def fresh(name: str) -> str:
    """A key no other test uses."""
    return f"test:{name}:{uuid.uuid4().hex}"


async def test_a_value_comes_back_with_an_etag_and_an_absent_key_is_none(
    state: SharedState,
) -> None:
    key = fresh("roundtrip")
    assert await state.get(key) is None
    value = {"n": 1, "text": "ünïcode", "list": [1, 2.5, None]}
    await state.set(key, value)
    entry = await state.get(key)
    assert entry is not None and entry.value == value and entry.etag
    await state.delete(key)
    assert await state.get(key) is None


async def test_a_write_with_a_stale_etag_is_refused_and_changes_nothing(
    state: SharedState,
) -> None:
    key = fresh("cas")
    await state.set(key, 1)
    first = await state.get(key)
    assert first is not None
    await state.set(key, 2, etag=first.etag)
    with pytest.raises(ETagMismatch):
        await state.set(key, 3, etag=first.etag)
    current = await state.get(key)
    assert current is not None and current.value == 2 and current.etag != first.etag
    with pytest.raises(ETagMismatch):
        await state.delete(key, etag=first.etag)
    await state.delete(key, etag=current.etag)
    assert await state.get(key) is None


async def test_only_the_first_of_two_writers_of_an_absent_key_wins(state: SharedState) -> None:
    key = fresh("first-write")
    await state.set(key, "mine", absent=True)
    with pytest.raises(ETagMismatch):
        await state.set(key, "yours", absent=True)
    entry = await state.get(key)
    assert entry is not None and entry.value == "mine"


async def test_the_sidecar_answers_a_lost_race_without_retrying_it(
    state_sidecar: tuple[Daprd, str],
) -> None:
    """state.postgresql reports a lost insert race and a delete on an old ETag as plain errors;
    a retry policy on the store would repeat them for seconds, in vain."""
    sidecar, token = state_sidecar
    state = DaprState(sidecar.http_endpoint, api_token=token)
    try:
        key = fresh("lost-race")
        await state.set(key, "mine", absent=True)
        first = await state.get(key)
        assert first is not None
        await state.set(key, "mine again", etag=first.etag)
        with pytest.raises(ETagMismatch):
            await state.set(key, "yours", absent=True)
        with pytest.raises(ETagMismatch):
            await state.delete(key, etag=first.etag)
    finally:
        await state.close()
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{sidecar.metrics_port}/metrics")).text
    retried = [
        line
        for line in metrics.splitlines()
        if line.startswith("dapr_resiliency_activations_total")
        and 'policy="retry"' in line
        and "Statestore" in line
    ]
    assert not retried, retried


async def test_concurrent_increments_lose_none(state: SharedState) -> None:
    key = fresh("counter")
    # Forty writers at once on one key: every one lands exactly once.
    results = await asyncio.gather(*(state.increment(key, ttl=60) for _ in range(40)))
    assert sorted(results) == list(range(1, 41))
    entry = await state.get(key)
    assert entry is not None and entry.value == 40


async def test_an_entry_is_gone_after_its_ttl(state: SharedState, engine: AsyncEngine) -> None:
    key = fresh("ttl")
    await state.set(key, "short", ttl=1)
    await state.set(fresh("ttl-long"), "long", ttl=3600)
    assert await state.get(key) is not None
    # Wait for the store's clock, not ours: PostgreSQL decides expiry in both adapters.
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_sleep(2.1)"))
    assert await state.get(key) is None
    # An expired key counts as absent for a first writer.
    await state.set(key, "again", absent=True)
    entry = await state.get(key)
    assert entry is not None and entry.value == "again"


async def test_update_applies_a_change_atomically_and_returns_its_result(
    state: SharedState,
) -> None:
    key = fresh("update")

    def append(value: Any) -> tuple[Any, int]:
        items = [*(value or []), len(value or [])]
        return items, len(items)

    sizes = await asyncio.gather(*(state.update(key, append, ttl=60) for _ in range(10)))
    assert sorted(sizes) == list(range(1, 11))
    entry = await state.get(key)
    assert entry is not None and entry.value == list(range(10))
    # None deletes.
    assert await state.update(key, lambda value: (None, "gone")) == "gone"
    assert await state.get(key) is None


async def test_the_database_adapter_deletes_expired_rows_as_it_writes(engine: AsyncEngine) -> None:
    state = PostgresState(engine)
    state.PRUNE_EVERY_SECONDS = 0.0  # every write prunes
    expired, kept = fresh("expired"), fresh("kept")
    await state.set(expired, 1, ttl=1)
    await state.set(kept, 2, ttl=3600)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_sleep(1.1)"))
    await state.set(fresh("writer"), 3, ttl=60)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT key FROM gateway.shared_state WHERE key = ANY(:keys)"),
            {"keys": [expired, kept]},
        )
        assert {row.key for row in rows} == {kept}


def random_spend(rng: random.Random, now: float) -> BucketSpend:
    """A bucket spend of random size and shape (interval and capacity not round numbers)."""
    interval = rng.choice([1 / 3, 0.1, 1 / 7, 0.0002, 6.0])
    capacity = rng.choice([5, 20, 100, 1000, 100_000])
    return BucketSpend(
        now=now,
        costs=tuple(
            rng.choice([1, 2, 7, 25, capacity]) * interval for _ in range(rng.randrange(4))
        ),
        returned=rng.choice([0.0, 3.0]) * interval,
        tolerance=capacity * interval,
        interval=interval,
        lease_max=float(rng.choice([0, 1, capacity // 20, capacity // 4])),
        half=capacity / 2,
    )


async def test_a_bucket_spend_in_sql_is_the_same_arithmetic_as_in_python(
    engine: AsyncEngine,
) -> None:
    state = PostgresState(engine)
    rng = random.Random(16)
    for _ in range(300):
        key = fresh("bucket")
        now = 1_000_000 + rng.random() * 1000
        spend = random_spend(rng, now)
        # The bucket absent (full), or holding a time anywhere from long past to the far end.
        stored: float | None = None
        if rng.random() < 0.8:
            stored = now + rng.uniform(-2, 1.2) * spend.tolerance
            await state.set(key, {"tat": stored}, ttl=60)
        expected = spend.apply(stored)
        outcome = await state.spend_bucket(key, spend, ttl=60)
        # Bit for bit: the statement's doubles are Python's, and so is what it stored.
        assert outcome == expected, (stored, spend)
        entry = await state.get(key)
        unchanged = expected.tat == (now if stored is None else stored)
        if unchanged:
            assert (entry.value["tat"] if entry is not None else None) == stored
        else:
            assert entry is not None and entry.value == {"tat": expected.tat}


async def test_a_bucket_spend_through_each_adapter_keeps_the_same_rule(state: SharedState) -> None:
    # The Dapr store goes through update() (read, ETag-guarded write); both answer alike.
    rng = random.Random(19)
    for _ in range(20):
        key = fresh("bucket")
        now = 2_000_000 + rng.random()
        spend = random_spend(rng, now)
        first = await state.spend_bucket(key, spend, ttl=60)
        assert first == spend.apply(None)
        second = await state.spend_bucket(key, spend, ttl=60)
        stored = first.tat if first.tat != now else None
        assert second == spend.apply(stored)


async def test_concurrent_bucket_spends_of_a_new_key_on_several_replicas_lose_none(
    engine: AsyncEngine,
) -> None:
    # Four replicas' adapters, 60 spends at once of a key no one has written: each is counted
    # once (the race to create the row is retried, a waiting spend sees the time before it).
    replicas = [PostgresState(engine) for _ in range(4)]
    key, now, interval = fresh("bucket"), 3_000_000.0, 0.25
    spend = BucketSpend(
        now=now,
        costs=(interval,),
        returned=0.0,
        tolerance=40 * interval,
        interval=interval,
        lease_max=0.0,
        half=20.0,
    )
    outcomes = await asyncio.gather(
        *(replicas[n % 4].spend_bucket(key, spend, ttl=60) for n in range(60))
    )
    assert sorted(o.results[0][0] for o in outcomes).count(True) == 40
    entry = await state_of(engine, key)
    assert entry == now + 40 * interval


async def state_of(engine: AsyncEngine, key: str) -> float | None:
    """The stored time of a bucket, read apart from the adapter under test."""
    entry = await PostgresState(engine).get(key)
    return None if entry is None else float(entry.value["tat"])
