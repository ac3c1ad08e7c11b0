"""Why a broad search over everything a member sees is slow, and what would fix it: a profile.

Run: ``.venv/bin/python -m bench.profile_shared_search [--quick]``. Loads the benchmark data set
(bench/datasets.py: the search user's 1M tasks, 30 % of them in shared projects), then EXPLAIN
ANALYZEs, for the selective and the broad word:

- ``gateway``: the statement the gateway runs (reads.page_statement, default order);
- ``gateway + index``: the same with a candidate index, each project's tasks in the default
  order: ``(project_id, coalesce(due_at, 'infinity'), created_at, id) WHERE project_id IS NOT
  NULL``;
- ``per-scope + index``: the candidate query with that index: the personal space's first page
  and each member project's first page (LATERAL, ordered and limited), merged;
- ``per-scope, existing indexes``: the same query with each project's page ordered by due_at
  (NULLs last, the same order), which gateway_0005's tasks_project_due serves: no migration.

Writes bench/results/profiles/shared_search.json (times and plans) and prints a table. The
index is dropped again; nothing of this is in the gateway yet (it would be a migration).

``--requests N``: instead, where a search request's time goes in the gateway, beside its SQL:
the gateway app in-process (httpx's ASGI transport, as bench/profile_requests.py) on the loaded
database, N selective searches of each scope (bench/search.py's document) timed unprofiled
(wall and CPU per request), then profiled with pyinstrument (wall-clock samples) and cProfile
(CPU time): bench/results/profiles/shared_search_request{,_cpu}.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr

from bench.common import RESULTS
from bench.datasets import BROAD_WORD, SELECTIVE_WORD, load, plain_url
from bench.search import SEARCH
from bench.stack import BenchStack
from gateway.app import create_app
from gateway_core.persistence import reads
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine
from taskstream.settings import Settings

CASES = {"selective": SELECTIVE_WORD, "broad": BROAD_WORD}
CANDIDATE_INDEX = (
    "CREATE INDEX bench_tasks_project_due_order ON gateway.tasks "
    "(project_id, (coalesce(due_at, 'infinity'::timestamptz)), created_at, id) "
    "WHERE project_id IS NOT NULL"
)
ORDER = "coalesce(t.due_at, 'infinity'::timestamptz), t.created_at, t.id"
KEYS = "coalesce(t.due_at, 'infinity'::timestamptz) AS k0, t.created_at AS k1, t.id AS k2"
PER_SCOPE = f"""
SELECT * FROM (
  (SELECT t.*, {KEYS} FROM gateway.tasks AS t
   WHERE t.user_id = $1 AND t.project_id IS NULL
     AND t.search_vector @@ to_tsquery('simple', $2)
   ORDER BY {ORDER} LIMIT 21)
  UNION ALL
  (SELECT page.* FROM gateway.project_members AS m
   CROSS JOIN LATERAL (
     SELECT t.*, {KEYS} FROM gateway.tasks AS t
     WHERE t.project_id = m.project_id AND t.search_vector @@ to_tsquery('simple', $2)
     ORDER BY {ORDER} LIMIT 21) AS page
   WHERE m.user_id = $1)
) AS visible
ORDER BY k0, k1, k2 LIMIT 21
"""
# The same with each project's page ordered as tasks_project_due (project_id, due_at) holds it:
# due_at ascending puts NULLs last, as the coalesce with 'infinity' does (no due date is
# infinite), so gateway_0005's index serves it (created_at, id: an incremental sort).
PER_SCOPE_EXISTING_INDEX = PER_SCOPE.replace(
    f"WHERE t.project_id = m.project_id AND t.search_vector @@ to_tsquery('simple', $2)\n"
    f"     ORDER BY {ORDER}",
    "WHERE t.project_id = m.project_id AND t.search_vector @@ to_tsquery('simple', $2)\n"
    "     ORDER BY t.due_at, t.created_at, t.id",
)


def _shape(node: dict[str, Any], depth: int = 0) -> list[str]:
    """The plan as indented lines: node, index, actual rows and time."""
    line = "  " * depth + node["Node Type"]
    if "Index Name" in node:
        line += f" using {node['Index Name']}"
    line += f" (rows {node.get('Actual Rows')}, loops {node.get('Actual Loops')}, "
    line += f"{node.get('Actual Total Time')} ms)"
    lines = [line]
    for child in node.get("Plans", []):
        lines += _shape(child, depth + 1)
    return lines


async def _explain(connection: asyncpg.Connection, sql: str, *arguments: Any) -> dict[str, Any]:
    await connection.fetch(sql, *arguments)  # warm the buffers
    found = await connection.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *arguments)
    plan = json.loads(found)[0]
    return {
        "execution_ms": plan["Execution Time"],
        "plan": _shape(plan["Plan"]),
    }


async def _gateway_sql(
    url: str,
    user: uuid.UUID,
    query: reads.TaskQuery,
    order: list[tuple[reads.SortField, bool]] | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """The gateway's statement for the page, with its arguments (asyncpg's $n style)."""
    engine = create_engine(url, pool_size=1)
    words = reads.search_words(query.text)
    try:
        async with engine.connect() as connection:
            close = await reads.close_words(connection, user, words) if words else {}
            page = reads.page_statement(
                user_id=user,
                query=query,
                order=order,
                first=50 if query.text is None else 20,
                after=None,
                now=datetime.now(UTC),
                close=close,
            )
            compiled = page.statement.compile(dialect=connection.dialect)
    finally:
        await engine.dispose()
    arguments = tuple(compiled.params[name] for name in compiled.positiontup or ())
    return compiled.string, arguments


async def profile(url: str, user: uuid.UUID, page_user: uuid.UUID) -> dict[str, Any]:
    """Every variant of every case, explained."""
    results: dict[str, Any] = {}
    connection = await asyncpg.connect(plain_url(url))
    try:
        # Today's page benchmark (page_peers): the page user's first 50 by creation time, over
        # everything the user sees (the user is in no project), and over the personal space.
        created = [(reads.SortField.CREATED_AT, False)]
        for scope, inbox in (("everything visible", None), ("personal space only", True)):
            sql, arguments = await _gateway_sql(
                url, page_user, reads.TaskQuery(inbox=inbox), created
            )
            results.setdefault("today's page (first: 50, CREATED_AT)", {})[scope] = await _explain(
                connection, sql, *arguments
            )
        statements = {
            case: await _gateway_sql(url, user, reads.TaskQuery(text=w))
            for case, w in CASES.items()
        }
        for case, (sql, arguments) in statements.items():
            results.setdefault(case, {})["gateway"] = await _explain(connection, sql, *arguments)
            results[case]["per-scope, existing indexes"] = await _explain(
                connection, PER_SCOPE_EXISTING_INDEX, user, CASES[case] + ":*"
            )
        await connection.execute("SET maintenance_work_mem = '256MB'")
        await connection.execute(CANDIDATE_INDEX)
        await connection.execute("ANALYZE gateway.tasks")
        try:
            for case, (sql, arguments) in statements.items():
                results[case]["gateway + index"] = await _explain(connection, sql, *arguments)
                results[case]["per-scope + index"] = await _explain(
                    connection, PER_SCOPE, user, CASES[case] + ":*"
                )
        finally:
            await connection.execute("DROP INDEX gateway.bench_tasks_project_due_order")
    finally:
        await connection.close()
    return results


SCOPES: dict[str, dict[str, Any]] = {
    "everything visible": {"text": SELECTIVE_WORD},
    "personal space only": {"text": SELECTIVE_WORD, "inbox": True},
}


async def profile_requests(stack: BenchStack, user: uuid.UUID, requests: int) -> dict[str, Any]:
    """The selective search of each scope through the gateway app in-process: per request wall
    and CPU time unprofiled, then a pyinstrument and a cProfile profile of the same requests."""
    from pyinstrument import Profiler

    engine = create_engine(stack.url, pool_size=4)
    settings = Settings(
        env="production",
        database_url=stack.url,
        jwt_secret=SecretStr(stack.secret),
        log_level="WARNING",
        # As the benchmark's gateway (bench/stack.py): one account reading as fast as it can.
        graphql_cost_per_second=10**9,
    )
    runtime = bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    transport = httpx.ASGITransport(app=create_app(runtime))
    headers = {"Authorization": f"Bearer {stack.tokens.issue(user)}"}
    figures: dict[str, Any] = {"requests": requests, "load_average_1m": os.getloadavg()[0]}
    profiles: list[str] = []
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:

            async def search(variables: dict[str, Any]) -> None:
                response = await http.post(
                    "/graphql",
                    json={"query": SEARCH, "variables": {"f": variables}},
                    headers=headers,
                )
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise RuntimeError(f"{response.status_code} {body}")

            async def each(variables: dict[str, Any]) -> None:
                for _ in range(requests):
                    await search(variables)

            for scope, variables in SCOPES.items():
                for _ in range(20):  # warm: the document, the plans, the pool
                    await search(variables)
                walls, cpus = [], []
                for _ in range(requests):
                    wall, cpu = time.perf_counter(), time.process_time()
                    await search(variables)
                    walls.append((time.perf_counter() - wall) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                walls.sort()
                figures[scope] = {
                    "wall_ms_p50": round(statistics.median(walls), 2),
                    "wall_ms_p95": round(walls[int(0.95 * (len(walls) - 1))], 2),
                    "cpu_ms_mean": round(statistics.fmean(cpus), 2),
                }
                print(scope, figures[scope], flush=True)
                sampler = Profiler(interval=0.0005, async_mode="enabled")
                sampler.start()
                await each(variables)
                sampler.stop()
                counting = cProfile.Profile(time.process_time)
                counting.enable()
                await each(variables)
                counting.disable()
                out = io.StringIO()
                for order in ("cumtime", "tottime"):
                    pstats.Stats(counting, stream=out).sort_stats(order).print_stats(45)
                profiles.append(
                    f"## {scope}: {figures[scope]}\n"
                    + sampler.output_text(unicode=True, show_all=False)
                    + f"\n## {scope}, cProfile (CPU time), by cumulative then own time\n"
                    + out.getvalue()
                )
    finally:
        await engine.dispose()
    path = RESULTS / "profiles" / "shared_search_request.txt"
    path.write_text(
        f"# python -m bench.profile_shared_search --quick --requests {requests}: the selective "
        f"search in-process, {requests} requests per scope (load average "
        f"{figures['load_average_1m']:.1f})\n\n" + "\n\n".join(profiles)
    )
    figures["profile"] = str(path.relative_to(RESULTS.parent.parent))
    return figures


def main() -> None:
    """Load, profile, write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 tasks instead of 1M")
    parser.add_argument(
        "--requests", type=int, default=0, help="profile N search requests through the gateway"
    )
    args = parser.parse_args()
    page_tasks, search_tasks = (5_000, 50_000) if args.quick else (100_000, 1_000_000)
    with contextlib.closing(BenchStack()) as stack:
        dataset = asyncio.run(
            load(stack.url, page_tasks=page_tasks, search_tasks=search_tasks, log=print)
        )
        if args.requests:
            figures = asyncio.run(profile_requests(stack, dataset.search_user, args.requests))
            print(json.dumps(figures, indent=2))
            return
        results = asyncio.run(profile(stack.url, dataset.search_user, dataset.page_user))
    record = {
        "command": "python -m bench.profile_shared_search" + (" --quick" if args.quick else ""),
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset.record(),
        "candidate_index": CANDIDATE_INDEX,
        "results": results,
    }
    path = RESULTS / "profiles" / "shared_search.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    for case, variants in results.items():
        for variant, figures in variants.items():
            print(f"{case:10} {variant:18} {figures['execution_ms']:9.2f} ms")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
