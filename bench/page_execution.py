"""CPU per page read with each execution of the schema, side by side in one process.

Run: ``.venv/bin/python -m bench.page_execution [--baseline TREE] [--rounds N] [--requests N]``.
The gateway app in-process (bench/profile_requests.py: httpx's ASGI transport, embedded
PostgreSQL, one account with tasks carrying tags and reminders) serves page_peers' document
(`tasks(first: 50)` + tags + reminders) in rounds; each round runs every execution once, in
turn, so background load on a shared machine spreads over all of them:

- "this tree": graphql_schema/execution.py (and its plans.py) as they are here;
- "baseline": the same files from TREE (another checkout, e.g. the base commit exported with
  `git archive`), loaded beside them;
- "strawberry": Strawberry's own execution context, without any short path.

Every execution must answer the same JSON text first. The figure is the process's CPU time per
request (gateway and client together: the client's share is the same for all); the median
round counts. Written to bench/results/page_execution.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.routing import Route
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from bench.common import RESULTS
from bench.page_peers import GATEWAY_PAGE
from bench.profile_requests import in_process_gateway
from gateway.graphql_app import GraphQLApp
from graphql_schema.execution import PlainLeafExecution


def _baseline_execution(tree: Path) -> type[Any]:
    """PlainLeafExecution from another checkout's graphql_schema/execution.py (with that
    checkout's graphql_schema/plans.py beside it, when it has one)."""
    plans = tree / "graphql_schema" / "plans.py"
    ours = sys.modules.get("graphql_schema.plans")
    try:
        if plans.exists():
            # Its `from graphql_schema.plans import ...` must find the baseline's module.
            sys.modules["graphql_schema.plans"] = _load("baseline_plans", plans)
        module = _load("baseline_execution", tree / "graphql_schema" / "execution.py")
    finally:
        if ours is not None:
            sys.modules["graphql_schema.plans"] = ours
    found: type[Any] = module.PlainLeafExecution
    return found


def _load(name: str, path: Path) -> Any:
    """The module at `path`, under `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _schema(app: Any) -> Any:
    """The Strawberry schema the app's /graphql route serves."""
    for route in app.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, GraphQLApp):
            return route.endpoint.schema
    raise RuntimeError("no GraphQL route")


async def main(baseline: Path | None, rounds: int, requests: int, tasks: int) -> dict[str, Any]:
    """CPU per request of each execution, round by round; checks they answer alike."""
    executions: dict[str, type[Any]] = {"this tree": PlainLeafExecution}
    if baseline is not None:
        executions["baseline"] = _baseline_execution(baseline)
    executions["strawberry"] = StrawberryGraphQLCoreExecutionContext
    body = {"query": GATEWAY_PAGE}
    cpu: dict[str, list[float]] = {name: [] for name in executions}
    async with in_process_gateway(tasks) as (http, token, app):
        schema = _schema(app)
        headers = {"Authorization": f"Bearer {token}"}

        async def page() -> str:
            response = await http.post("/graphql", json=body, headers=headers)
            if response.status_code != 200 or "errors" in response.json():
                raise RuntimeError(f"{response.status_code} {response.text[:500]}")
            return response.text

        answers = {}
        for name, execution in executions.items():
            schema.execution_context_class = execution
            answers[name] = await page()
        if len(set(answers.values())) != 1:
            raise SystemExit(f"the executions answer differently: {sorted(answers)}")
        for number in range(rounds):
            for name, execution in executions.items():
                schema.execution_context_class = execution
                for _ in range(10):  # warm up
                    await page()
                started = time.process_time()
                for _ in range(requests):
                    await page()
                cpu[name].append((time.process_time() - started) / requests * 1000)
            line = ", ".join(f"{name} {values[-1]:.2f}" for name, values in cpu.items())
            print(f"round {number + 1}: ms CPU per request: {line}", flush=True)
    medians = {name: round(statistics.median(values), 2) for name, values in cpu.items()}
    record = {
        "ran_at": datetime.now(UTC).isoformat(),
        "load_average": os.getloadavg()[0],
        "document": GATEWAY_PAGE,
        "tasks": tasks,
        "rounds": rounds,
        "requests_per_round": requests,
        "baseline": str(baseline) if baseline else None,
        "cpu_ms_per_request_median": medians,
        "cpu_ms_per_request_rounds": {n: [round(v, 2) for v in vs] for n, vs in cpu.items()},
    }
    out = RESULTS / "page_execution.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"median ms CPU per request: {medians} -> {out}")
    return record


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--tasks", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.baseline, args.rounds, args.requests, args.tasks))
