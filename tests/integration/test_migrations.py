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
        "dead_letters",
        "shared_state",
        "saved_filters",
        "sections",
        "task_tombstones",
        "task_counts",
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


async def test_project_tasks_take_their_tags_from_the_projects_set(
    scratch_engine: AsyncEngine,
) -> None:
    # A task put in a project under gateway_0005 carried its creator's personal tags.
    await migrate(scratch_engine, revision="gateway_0005")
    user = "00000000-0000-0000-0000-0000000000a2"
    project = "00000000-0000-0000-0000-0000000000c2"
    async with scratch_engine.begin() as connection:
        for statement in (
            "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
            f"VALUES ('{user}', 'tagged@example.com', 'tagged@example.com', 'x', 'UTC')",
            "INSERT INTO gateway.projects (id, name, created_by, created_at, updated_at, version) "
            f"VALUES ('{project}', 'P', '{user}', now(), now(), 1)",
            "INSERT INTO gateway.project_members (project_id, user_id, role, added_at) "
            f"VALUES ('{project}', '{user}', 'OWNER', now())",
            "INSERT INTO gateway.tags (id, user_id, name, name_key) VALUES "
            f"('00000000-0000-0000-0000-0000000000d1', '{user}', 'Release', 'release'), "
            f"('00000000-0000-0000-0000-0000000000d2', '{user}', 'Home', 'home')",
            "INSERT INTO gateway.tasks (id, user_id, title, notes, status, priority, "
            "instance_number, created_at, updated_at, version, project_id) VALUES "
            f"('00000000-0000-0000-0000-0000000000b2', '{user}', 'shared', '', 'OPEN', 0, 1, "
            f"now(), now(), 1, '{project}'), "
            f"('00000000-0000-0000-0000-0000000000b3', '{user}', 'mine', '', 'OPEN', 0, 1, "
            "now(), now(), 1, NULL)",
            "INSERT INTO gateway.task_tags (task_id, tag_id, position) VALUES "
            "('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-0000000000d1', 0), "
            "('00000000-0000-0000-0000-0000000000b3', '00000000-0000-0000-0000-0000000000d1', 0), "
            "('00000000-0000-0000-0000-0000000000b3', '00000000-0000-0000-0000-0000000000d2', 1)",
        ):
            await connection.execute(text(statement))
    await migrate(scratch_engine)
    async with scratch_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT tk.title, tg.name, tg.user_id IS NULL AS shared, tg.project_id "
                "FROM gateway.task_tags tt JOIN gateway.tasks tk ON tk.id = tt.task_id "
                "JOIN gateway.tags tg ON tg.id = tt.tag_id ORDER BY tk.title, tt.position"
            )
        )
        links = [tuple(row) for row in rows]
        personal = await connection.scalar(
            text("SELECT count(*) FROM gateway.tags WHERE user_id IS NOT NULL")
        )
        assignees = await connection.scalar(
            text("SELECT count(*) FROM gateway.tasks WHERE assignee_id IS NOT NULL")
        )
    assert [(title, name, shared) for title, name, shared, _ in links] == [
        ("mine", "Release", False),
        ("mine", "Home", False),
        ("shared", "Release", True),
    ]
    assert str(links[2][3]) == project
    # Nothing of the personal tags was lost, and nobody is assigned anything.
    assert (personal, assignees) == (2, 0)
