"""Benchmark: how soon the next instance of a recurring task exists in `taskstream up`.

The contract: completing an instance yields the next one within 2 s in `up`. Measured here, not
by a timed assertion in the tests (a loaded machine would turn it into a flake there).

Run: ``.venv/bin/python -m bench.recurrence_lateness [--series 200] [--rate 10]``.
Starts a real `taskstream up`, creates `--series` daily recurring tasks through GraphQL,
completes them at `--rate` per second, waits until every series has its next instance, and
records per series the next instance's createdAt - the completed one's completedAt (both the
server's clock, so no polling interval is in the figure). Writes
``bench/results/recurrence_lateness.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import UpProcess, percentile, write_result
from bench.reminder_lateness import graphql, pages
from bench.stats import comparison

LIMIT_SECONDS = 2.0
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
COMPLETE = "mutation($id: ID!) { completeTask(id: $id) { id } }"
PAGE = """
query($after: String) {
  tasks(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id seriesId status createdAt completedAt } }
  }
}
"""


async def run(url: str, series: int, rate: float) -> dict[str, Any]:
    """Create the series, complete one instance of each at `rate`, and measure."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed = await graphql(
            client,
            'mutation($e: String!) { signUp(email: $e, password: "correct horse") { token } }',
            {"e": email},
        )
        client.headers["Authorization"] = f"Bearer {signed['signUp']['token']}"
        due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
        created = [
            (
                await graphql(
                    client,
                    CREATE,
                    {
                        "i": {
                            "title": f"Bench series {n}",
                            "dueAt": due.isoformat(),
                            "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC"},
                        }
                    },
                )
            )["createTask"]["id"]
            for n in range(series)
        ]
        began = time.perf_counter()
        for index, task_id in enumerate(created):
            # A steady rate: each completion at its own slot, not a burst.
            await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
            await graphql(client, COMPLETE, {"id": task_id})
        deadline = time.perf_counter() + 120
        while True:
            tasks = await pages(client, PAGE, "tasks")
            if len(tasks) >= 2 * series:
                break
            assert time.perf_counter() < deadline, "next instances still missing after 120 s"
            await asyncio.sleep(0.5)
    by_series: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_series.setdefault(task["seriesId"], []).append(task)
    late: list[float] = []
    for instances in by_series.values():
        assert len(instances) == 2, "exactly one next instance per completion"
        (done,) = [t for t in instances if t["status"] == "DONE"]
        (following,) = [t for t in instances if t["status"] == "OPEN"]
        completed = datetime.fromisoformat(done["completedAt"])
        late.append((datetime.fromisoformat(following["createdAt"]) - completed).total_seconds())
    late.sort()
    return {
        "p50_ms": round(percentile(late, 0.50) * 1000, 1),
        "p99_ms": round(percentile(late, 0.99) * 1000, 1),
        "max_ms": round(late[-1] * 1000, 1),
        "within_limit": sum(1 for s in late if s <= LIMIT_SECONDS),
    }


def main() -> None:
    """Run the benchmark against a fresh `taskstream up` and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="completions per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        up = UpProcess(Path(folder) / "data")
        try:
            figures = asyncio.run(run(up.url, args.series, args.rate))
        finally:
            up.stop()
    passed = figures["within_limit"] == args.series
    result = {
        "command": (
            f"python -m bench.recurrence_lateness --series {args.series} --rate {args.rate:g}"
        ),
        "series": args.series,
        "rate_per_second": args.rate,
        "limit_seconds": LIMIT_SECONDS,
        "passed": passed,
        **figures,
        "comparisons": [
            comparison(
                f"next recurring instance after completeTask at {args.rate:g}/s: {label}",
                value=figures[key],
                unit="ms",
                peer="the contract's limit",
                peer_value=LIMIT_SECONDS * 1000,
                goal="every next instance ≤ 2 s after the completion" if key == "p99_ms" else None,
                met=passed if key == "p99_ms" else None,
            )
            for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"))
        ],
    }
    path = write_result("recurrence_lateness", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
