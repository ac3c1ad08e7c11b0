"""A search is planned for its own word, never with a cached plan made for another word."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import reads

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("word", ["tax", "invoice"])  # without and with a typo budget
async def test_search_statements_get_custom_plans(engine: AsyncEngine, word: str) -> None:
    now, user = datetime.now(UTC), uuid.uuid4()
    async with engine.connect() as connection:
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "auto"
        await reads.task_page(
            connection,
            user_id=user,
            query=reads.TaskQuery(text=word),
            order=None,
            first=20,
            after=None,
            now=now,
        )
        # The rest of the transaction plans each search statement with its own word.
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        await connection.rollback()
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "auto"
        await reads.count_tasks(connection, user_id=user, query=reads.TaskQuery(text=word), now=now)
        assert await connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
