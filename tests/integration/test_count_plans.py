"""A tag filter's count joins the named tags' links once, whatever their number.

Inside the OR of the visible scopes PostgreSQL ran the filter's IN as a subplan, hashed only
while the links fit in work_mem; past that it scanned them again for every task (anyTags of
five common tags over 100,000 tasks: 277 s; bench/abuse.py). The plan's shape says which: a
semi-join beside the scopes, or a subplan per task. work_mem at its minimum stands in for the
links of a large account.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import reads

pytestmark = pytest.mark.integration

NAMES = [f"tag{n}" for n in range(20)]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(plan: dict[str, Any]) -> set[str]:
    """The relations a plan (or subplan) reads."""
    return {node["Relation Name"] for node in nodes(plan) if "Relation Name" in node}


@pytest.mark.parametrize(
    "query",
    [reads.TaskQuery(any_tags=NAMES), reads.TaskQuery(all_tags=NAMES)],
    ids=["anyTags", "allTags"],
)
async def test_a_tag_filter_count_reads_the_links_in_a_join_not_per_task(
    engine: AsyncEngine, query: reads.TaskQuery
) -> None:
    statement = reads.count_statement(
        user_id=uuid.uuid4(), query=query, now=datetime.now(UTC), close={}
    )
    async with engine.connect() as connection:
        compiled = statement.compile(
            dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
        await connection.execute(text("SET LOCAL work_mem = '64kB'"))
        explained: Any = (
            await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, arguments)
        ).scalar()
        await connection.rollback()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    assert "task_tags" in scans(plan)
    subplans = [node for node in nodes(plan) if node.get("Parent Relationship") == "SubPlan"]
    assert all("task_tags" not in scans(node) for node in subplans), json.dumps(plan)[:3000]
