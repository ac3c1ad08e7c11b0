"""A count reads the rows its user can see, in plans whose cost does not grow with others' data.

A tag filter's count joins the named tags' links once, whatever their number. Inside the OR of
the visible scopes PostgreSQL ran the filter's IN as a subplan, hashed only while the links fit
in work_mem; past that it scanned them again for every task (anyTags of five common tags over
100,000 tasks: 277 s; bench/abuse.py). The plan's shape says which: a semi-join beside the
scopes, or a subplan per task. work_mem at its minimum stands in for the links of a large
account. And the projects scope looks up the user's projects, never every project's tasks.
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


async def test_a_count_reads_only_the_projects_the_user_belongs_to(engine: AsyncEngine) -> None:
    """Another team's project tasks cost nothing to the count of a user outside that team.

    With the member's projects as `IN (subquery)` beside the scopes' OR, PostgreSQL scanned every
    project task of the database and filtered them by a hashed subplan (a user in no project:
    356 ms over 305,000 project tasks).
    """
    stranger, owner = uuid.uuid4(), uuid.uuid4()
    projects = [uuid.uuid4() for _ in range(100)]
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "INSERT INTO gateway.users (id, email, email_key, password_hash, timezone) "
                "SELECT id, id::text, id::text, 'x', 'UTC' FROM unnest(CAST(:ids AS uuid[])) id"
            ),
            {"ids": [stranger, owner]},
        )
        await connection.execute(
            text(
                "INSERT INTO gateway.projects (id, name, created_by, created_at, updated_at, "
                "version) SELECT id, 'theirs', :owner, now(), now(), 1 "
                "FROM unnest(CAST(:ids AS uuid[])) id"
            ),
            {"ids": projects, "owner": owner},
        )
        # The stranger's ten personal tasks, and 200 in each of the other team's projects.
        await connection.execute(
            text(
                "INSERT INTO gateway.tasks (id, user_id, project_id, title, notes, status, "
                "priority, instance_number, created_at, updated_at, version) "
                "SELECT gen_random_uuid(), CASE WHEN n <= 10 THEN CAST(:stranger AS uuid) "
                "ELSE CAST(:owner AS uuid) END, "
                "CASE WHEN n > 10 THEN (CAST(:ids AS uuid[]))[1 + n % 100] END, 't', '', "
                "'OPEN', 0, 0, now(), now(), 1 FROM generate_series(1, 20010) n"
            ),
            {"stranger": stranger, "owner": owner, "ids": projects},
        )
        await connection.execute(text("ANALYZE gateway.tasks"))
        statement = reads.count_statement(
            user_id=stranger, query=reads.TaskQuery(), now=datetime.now(UTC), close={}
        )
        compiled = statement.compile(dialect=connection.dialect)
        arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
        assert (await connection.exec_driver_sql(compiled.string, arguments)).scalar() == 10
        explained: Any = (
            await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, arguments
            )
        ).scalar()
        await connection.rollback()
    plan = (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]
    # Every row a node produced or threw away: the stranger's ten, and not the project's.
    read = max(
        node.get("Actual Rows", 0)
        + node.get("Rows Removed by Filter", 0)
        + node.get("Rows Removed by Index Recheck", 0)
        for node in nodes(plan)
    )
    assert read <= 10, json.dumps(plan)[:3000]
