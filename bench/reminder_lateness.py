"""Benchmark: how late reminders fire in `taskstream up` (contract: SENT within 2 s).

Run: ``.venv/bin/python -m bench.reminder_lateness [--reminders 1000] [--window 10]``.
Starts a real `taskstream up`, creates the reminders through GraphQL (ten a task, IN_APP),
due evenly over `--window` seconds, waits until every one is SENT, and records per reminder:
- ``sent``: sentAt - remindAt, as the API reports it (when every channel had delivered);
- ``notified``: the in-app Notification's createdAt - remindAt (what the user sees first).
Writes ``bench/results/reminder_lateness.json``.
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

LIMIT_SECONDS = 2.0
PER_TASK = 10
CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
PAGE = """
query($after: String) {
  tasks(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id reminders { id remindAt state sentAt } } }
  }
}
"""
NOTIFICATIONS = """
query($after: String) {
  notifications(first: 200, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { taskId createdAt } }
  }
}
"""


async def graphql(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    """The data of an operation that must succeed."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def pages(client: httpx.AsyncClient, query: str, field: str) -> list[dict[str, Any]]:
    """Every node of a connection."""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await graphql(client, query, {"after": after}))[field]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def run(url: str, reminders: int, window: float, lead: float) -> dict[str, Any]:
    """Create the reminders, wait for all of them, and measure."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        signed = await graphql(
            client,
            "mutation($e: String!) { signUp(email: $e, password: $p) { token } }".replace(
                "$p", '"correct horse"'
            ),
            {"e": email},
        )
        client.headers["Authorization"] = f"Bearer {signed['signUp']['token']}"
        start = datetime.now(UTC) + timedelta(seconds=lead)
        step = window / reminders
        times = [start + timedelta(seconds=i * step) for i in range(reminders)]
        began = time.perf_counter()
        for index in range(0, reminders, PER_TASK):
            chunk = times[index : index + PER_TASK]
            await graphql(
                client,
                CREATE,
                {
                    "i": {
                        "title": f"Bench {index // PER_TASK}",
                        "reminders": [{"remindAt": at.isoformat()} for at in chunk],
                    }
                },
            )
        created_in = time.perf_counter() - began
        assert datetime.now(UTC) < start, "creating took longer than the lead; raise --lead"
        deadline = start + timedelta(seconds=window + 60)
        while True:
            await asyncio.sleep(1.0)
            tasks = await pages(client, PAGE, "tasks")
            found = [r for t in tasks for r in t["reminders"]]
            if len(found) == reminders and all(r["state"] == "SENT" for r in found):
                break
            assert datetime.now(UTC) < deadline, "reminders still not SENT"
        notified = await pages(client, NOTIFICATIONS, "notifications")
    sent = sorted(
        (
            datetime.fromisoformat(r["sentAt"]) - datetime.fromisoformat(r["remindAt"])
        ).total_seconds()
        for r in found
    )
    # In-app notifications carry the task, not the reminder: compare each task's k-th
    # notification with its k-th reminder (both in time order).
    by_task: dict[str, list[datetime]] = {}
    for node in notified:
        by_task.setdefault(node["taskId"], []).append(datetime.fromisoformat(node["createdAt"]))
    shown: list[float] = []
    for task in tasks:
        due = sorted(datetime.fromisoformat(r["remindAt"]) for r in task["reminders"])
        seen = sorted(by_task.get(task["id"], []))
        assert len(seen) == len(due), "every reminder makes exactly one notification"
        shown.extend((s - d).total_seconds() for s, d in zip(seen, due, strict=True))
    shown.sort()

    def summary(samples: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(samples, 0.50) * 1000, 1),
            "p99_ms": round(percentile(samples, 0.99) * 1000, 1),
            "max_ms": round(samples[-1] * 1000, 1),
            "min_ms": round(samples[0] * 1000, 1),
        }

    return {
        "created_seconds": round(created_in, 2),
        "sent": summary(sent),
        "notified": summary(shown),
        "within_limit": sum(1 for s in sent if 0 <= s <= LIMIT_SECONDS),
    }


def main() -> None:
    """Run the benchmark against a fresh `taskstream up` and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds they are spread over")
    parser.add_argument("--lead", type=float, default=20.0, help="seconds before the first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        up = UpProcess(Path(folder) / "data")
        try:
            figures = asyncio.run(run(up.url, args.reminders, args.window, args.lead))
        finally:
            up.stop()
    result = {
        "command": "python -m bench.reminder_lateness",
        "reminders": args.reminders,
        "window_seconds": args.window,
        "rate_per_second": round(args.reminders / args.window, 1),
        "channels": ["IN_APP"],
        "limit_seconds": LIMIT_SECONDS,
        "passed": figures["within_limit"] == args.reminders,
        **figures,
    }
    path = write_result("reminder_lateness", result)
    print(path.read_text())


if __name__ == "__main__":
    main()
