"""Search over the search user's tasks, and keyset paging at depth, through the real gateway.

Search: `tasks(filter: {text: …}, first: 20)` over HTTP to the running gateway (the whole
search path: GraphQL, reads.task_page, PostgreSQL), one request at a time, for a selective
term, a broad term, a term with filters and a typo of the broad term beyond the typo budget
(no match, while the planner expects as many as for the broad term); p95 with the search
indexes, then the same requests with those indexes dropped (rebuilt before the module returns).

Keyset: the page user's `tasks(first: 50)` page 1 vs the page after a cursor 50,000 tasks deep
(both through the gateway), and the server execution time (EXPLAIN ANALYZE) of the same keyset
page vs page 1 vs OFFSET 50,000.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from bench.datasets import (
    BROAD_WORD,
    SELECTIVE_WORD,
    create_indexes,
    drop_indexes,
    plain_url,
)
from bench.loadgen import Request, alternating, fetch_json, sequential
from bench.runtime import BenchContext
from bench.stats import comparison, summary

# Two edits (a transposition) from BROAD_WORD, whose six letters allow one: matches nothing.
TYPO_BEYOND_BUDGET = "reprot"
SEARCH = """
query($f: TaskFilter) {
  tasks(filter: $f, first: 20) { edges { node { id title dueAt tags { name } } } }
}
"""
CASES: dict[str, dict[str, Any]] = {
    "selective": {"text": SELECTIVE_WORD},
    "broad": {"text": BROAD_WORD},
    "text + filters": {
        "text": "invoice",
        "status": "OPEN",
        "priorities": ["HIGH", "URGENT"],
        "anyTags": ["tag3", "tag4"],
    },
    "no match (typo beyond budget)": {"text": TYPO_BEYOND_BUDGET},
}
GOALS_MS = {"selective": 20.0, "broad": 200.0}
SEARCH_INDEXES = ("tasks_search_vector", "search_words_trgm")

PAGE = """
query($after: String, $first: Int) {
  tasks(first: $first, after: $after) {
    pageInfo { endCursor hasNextPage }
    edges { node { id title dueAt tags { id name } reminders { id remindAt } } }
  }
}
"""
SKIP = """
query($after: String) {
  tasks(first: 200, after: $after) { pageInfo { endCursor hasNextPage } }
}
"""
# The page user's default ordering (due date, undated last, then creation, then id), as SQL.
ORDER_SQL = "coalesce(due_at, 'infinity'::timestamptz), created_at, id"


async def _search(context: BenchContext, count: int) -> dict[str, Any]:
    token = context.token(context.dataset.search_user)
    url = context.gateway_url + "/graphql"
    results: dict[str, Any] = {}
    for label, indexed in (("indexed", True), ("without indexes", False)):
        connection = await asyncpg.connect(plain_url(context.stack.url))
        try:
            if not indexed:
                definitions = await connection.fetch(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'gateway' "
                    "AND indexname = ANY($1::text[])",
                    list(SEARCH_INDEXES),
                )
                await drop_indexes(connection, list(SEARCH_INDEXES))
            try:
                for case, search_filter in CASES.items():
                    request = Request.graphql(url, SEARCH, {"f": search_filter}, token=token)
                    answer = await fetch_json(request)
                    assert "errors" not in answer, answer
                    matches = len(answer["data"]["tasks"]["edges"])
                    # Without indexes a request may take seconds: fewer of them, bounded.
                    runs = count if indexed else max(5, count // 10)
                    context.log(f"  search {case!r} {label}: {runs} requests")
                    figures = await sequential(request, count=runs, warmup=2, max_seconds=60)
                    results.setdefault(case, {})[label] = {"matches_on_page": matches, **figures}
            finally:
                if not indexed:
                    context.log("  rebuilding the search indexes…")
                    await create_indexes(connection, [row["indexdef"] for row in definitions])
        finally:
            await connection.close()
    return results


async def _keyset(context: BenchContext, count: int) -> dict[str, Any]:
    user = context.dataset.page_user
    token = context.token(user)
    url = context.gateway_url + "/graphql"
    depth = min(50_000, context.dataset.page_tasks // 2)
    # Walk to the depth through the API itself: the cursor is whatever the gateway made.
    cursor = None
    for _ in range(depth // 200):
        answer = await fetch_json(Request.graphql(url, SKIP, {"after": cursor}, token=token))
        cursor = answer["data"]["tasks"]["pageInfo"]["endCursor"]
    first_page = Request.graphql(url, PAGE, {"first": 50}, token=token)
    deep_page = Request.graphql(url, PAGE, {"first": 50, "after": cursor}, token=token)
    deep = await fetch_json(deep_page)
    assert len(deep["data"]["tasks"]["edges"]) == 50, deep
    context.log(f"  keyset: page 1 and page at depth {depth:,}, {count} requests each")
    pages = await alternating({"page 1": first_page, "at depth": deep_page}, count=count)
    page_one, at_depth = pages["page 1"], pages["at depth"]
    # The same page at the SQL level: keyset after the row at `depth` vs OFFSET `depth`.
    connection = await asyncpg.connect(plain_url(context.stack.url))
    try:
        anchor = await connection.fetchrow(
            f"SELECT coalesce(due_at, 'infinity'::timestamptz) AS k0, created_at, id "
            f"FROM gateway.tasks WHERE user_id = $1 ORDER BY {ORDER_SQL} OFFSET $2 LIMIT 1",
            user,
            depth - 1,
        )
        statements = {
            "sql page 1": (f"WHERE user_id = $1 ORDER BY {ORDER_SQL} LIMIT 51", [user]),
            "sql keyset": (
                f"WHERE user_id = $1 AND ({ORDER_SQL}) > ($2, $3, $4) "
                f"ORDER BY {ORDER_SQL} LIMIT 51",
                [user, anchor["k0"], anchor["created_at"], anchor["id"]],
            ),
            "sql offset": (
                f"WHERE user_id = $1 ORDER BY {ORDER_SQL} OFFSET $2 LIMIT 51",
                [user, depth],
            ),
        }
        # The server's own execution time: what keyset vs OFFSET is about, and free of the
        # client-side noise of a shared machine at sub-millisecond scale. The statements take
        # turns, so that the load of other processes drifting over the run weighs on each alike.
        prepared = {
            name: await connection.prepare(
                f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT * FROM gateway.tasks {clause}"
            )
            for name, (clause, _) in statements.items()
        }
        samples: dict[str, list[float]] = {name: [] for name in statements}
        for run_number in range(count + 5):
            for name, (_, arguments) in statements.items():
                plan = json.loads(await prepared[name].fetchval(*arguments))
                if run_number >= 5:  # warm-up: plan cache, buffers
                    samples[name].append(float(plan[0]["Execution Time"]))
        sql = {name: summary(values) for name, values in samples.items()}
    finally:
        await connection.close()
    return {"depth": depth, "gateway page 1": page_one, "gateway at depth": at_depth, **sql}


async def run(context: BenchContext) -> dict[str, Any]:
    """Search p95 with and without indexes; keyset depth vs page 1 vs OFFSET."""
    count = 20 if context.quick else 200
    search = await _search(context, count)
    keyset = await _keyset(context, count)
    comparisons = []
    for case, figures in search.items():
        goal = GOALS_MS.get(case)
        p95 = figures["indexed"]["p95_ms"]
        comparisons.append(
            comparison(
                f"search {case!r}: p95 over {context.dataset.search_tasks:,} tasks",
                value=p95,
                unit="ms",
                peer="same query, search indexes dropped",
                peer_value=figures["without indexes"]["p95_ms"],
                goal=f"p95 ≤ {goal:.0f} ms" if goal else None,
                met=p95 <= goal if goal else None,
            )
        )
    deep, first = keyset["gateway at depth"]["p50_ms"], keyset["gateway page 1"]["p50_ms"]
    comparisons += [
        comparison(
            f"keyset page at depth {keyset['depth']:,}: p50 (gateway)",
            value=deep,
            unit="ms",
            peer="page 1 (gateway)",
            peer_value=first,
            goal="≤ 1.5x page 1",
            met=deep <= 1.5 * first,
        ),
        comparison(
            f"keyset page at depth {keyset['depth']:,}: p50 (SQL execution)",
            value=keyset["sql keyset"]["p50_ms"],
            unit="ms",
            peer=f"OFFSET {keyset['depth']:,} (SQL)",
            peer_value=keyset["sql offset"]["p50_ms"],
        ),
        comparison(
            f"keyset page at depth {keyset['depth']:,}: p50 (SQL execution)",
            value=keyset["sql keyset"]["p50_ms"],
            unit="ms",
            peer="page 1 (SQL)",
            peer_value=keyset["sql page 1"]["p50_ms"],
            goal="≤ 1.5x page 1",
            met=keyset["sql keyset"]["p50_ms"] <= 1.5 * keyset["sql page 1"]["p50_ms"],
        ),
    ]
    return {
        "search_path": "HTTP to the real gateway: tasks(filter: {text}, first: 20)",
        "search_tasks": context.dataset.search_tasks,
        "search": search,
        "keyset": keyset,
        "comparisons": comparisons,
    }
