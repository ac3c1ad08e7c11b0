"""Migrations run up, down and up again on a real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.persistence.db import downgrade, migrate, pending_migrations

pytestmark = pytest.mark.integration


async def tables(engine: AsyncEngine) -> set[str]:
    """Tables of the gateway schema."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'gateway'")
        )
        return {row[0] for row in rows}


async def test_up_down_up(scratch_engine: AsyncEngine) -> None:
    assert await pending_migrations(scratch_engine)
    await migrate(scratch_engine)
    assert not await pending_migrations(scratch_engine)
    expected = {
        "users",
        "tags",
        "tasks",
        "task_tags",
        "reminders",
        "outbox",
        "revoked_tokens",
        "search_words",
        "projects",
        "project_members",
        "project_invitations",
    }
    assert await tables(scratch_engine) == expected
    await downgrade(scratch_engine, revision="base")
    assert await tables(scratch_engine) == set()
    assert await pending_migrations(scratch_engine)
    await migrate(scratch_engine)
    assert await tables(scratch_engine) == expected


async def test_search_indexes_exist(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE schemaname = 'gateway'")
        )
        names = {row[0] for row in rows}
    assert {
        "tasks_search_vector",
        "tasks_user_due",
        "search_words_trgm",
    } <= names
    assert "tasks_search_trgm" not in names  # typo search no longer reads whole task texts
