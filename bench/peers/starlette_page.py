"""The plain peer of the page benchmark: a Starlette JSON endpoint running the gateway's SQL.

GET /page?user=<uuid> answers the same 50 tasks, with their tags and reminders, in the same
JSON shape as the gateway's `tasks(first: 50, orderBy: [{field: CREATED_AT}])`, by sending the
three statements the gateway sends (the page, then one batch each for tags and reminders) over
asyncpg, with no GraphQL, no ORM and no authentication: the floor of what the page can cost.

Run: .venv/bin/python -m bench.peers.starlette_page --port 8001 (DATABASE_URL must be set).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PAGE_SIZE = 50
PAGE = """
SELECT id, user_id, title, notes, status, priority, due_at, completed_at, recurrence,
       series_id, instance_number, created_at, updated_at, version
FROM gateway.tasks WHERE user_id = $1 ORDER BY created_at, id LIMIT $2
"""
TAGS = """
SELECT task_tags.task_id, tags.id, tags.name FROM gateway.task_tags
JOIN gateway.tags ON tags.id = task_tags.tag_id
WHERE task_tags.task_id = ANY($1::uuid[]) ORDER BY task_tags.task_id, task_tags.position
"""
REMINDERS = """
SELECT id, task_id, user_id, position, remind_at, before_due, channels, state, sent_at
FROM gateway.reminders WHERE task_id = ANY($1::uuid[]) ORDER BY task_id, position
"""
PRIORITIES = ["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"]


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def create_app(database_url: str) -> Starlette:
    """The app over a pool of 20 connections (the gateway's default pool size)."""
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=20, max_size=20)
        try:
            yield
        finally:
            await pool.close()

    async def page(request: Request) -> Response:
        assert pool is not None
        user = request.query_params["user"]
        async with pool.acquire() as connection:
            rows = await connection.fetch(PAGE, user, PAGE_SIZE + 1)
            rows, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
            ids = [row["id"] for row in rows]
            tags: dict[Any, list[dict[str, str]]] = defaultdict(list)
            for tag in await connection.fetch(TAGS, ids):
                tags[tag["task_id"]].append({"id": str(tag["id"]), "name": tag["name"]})
            reminders: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            for reminder in await connection.fetch(REMINDERS, ids):
                reminders[reminder["task_id"]].append(
                    {
                        "id": str(reminder["id"]),
                        "remindAt": _time(reminder["remind_at"]),
                        "beforeDue": reminder["before_due"],
                        "channels": list(reminder["channels"]),
                        "state": reminder["state"],
                        "sentAt": _time(reminder["sent_at"]),
                    }
                )
        edges = [
            {
                "node": {
                    "id": str(row["id"]),
                    "title": row["title"],
                    "status": row["status"],
                    "priority": PRIORITIES[row["priority"]],
                    "dueAt": _time(row["due_at"]),
                    "tags": tags.get(row["id"], []),
                    "reminders": reminders.get(row["id"], []),
                }
            }
            for row in rows
        ]
        cursor = None
        if rows:
            last = [rows[-1]["created_at"].isoformat(), str(rows[-1]["id"])]
            cursor = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
        page_info = {"endCursor": cursor, "hasNextPage": more}
        return JSONResponse({"data": {"tasks": {"pageInfo": page_info, "edges": edges}}})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/page", page), Route("/healthz", healthz)], lifespan=lifespan)


def main() -> None:
    """Serve on loopback until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = create_app(os.environ["DATABASE_URL"])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
