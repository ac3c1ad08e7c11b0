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
        "sections",
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


async def test_existing_tasks_stay_in_their_owners_personal_space(
    scratch_engine: AsyncEngine,
) -> None:
    await migrate(scratch_engine, revision="gateway_0004")
    async with scratch_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
                "VALUES ('00000000-0000-0000-0000-0000000000a1', 'old@example.com', "
                "'old@example.com', 'x', 'UTC')"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, "
                "instance_number, created_at, updated_at, version) VALUES "
                "('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', "
                "'from before projects', '', 'OPEN', 0, 1, now(), now(), 3)"
            )
        )
    await migrate(scratch_engine)
    async with scratch_engine.connect() as connection:
        row = (
            await connection.execute(text("SELECT title, version, project_id FROM gateway.tasks"))
        ).one()
    assert tuple(row) == ("from before projects", 3, None)
