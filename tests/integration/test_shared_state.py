"""The shared-state contract, one body per adapter: PostgreSQL directly, and the Dapr state API
through a real daprd whose state.postgresql component sits on the test database (the `state`
fixture, tests/integration/conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.sharedstate import ETagMismatch, PostgresState, SharedState

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
