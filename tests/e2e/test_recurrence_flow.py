"""The recurrence service in `up`: completing an instance yields exactly one next instance."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

FIELDS = """
id title notes priority status dueAt seriesId version
tags { name } reminders { remindAt beforeDue channels state }
recurrence { rule repeatFrom timezone }
"""
CREATE = f"mutation($i: CreateTaskInput!) {{ createTask(input: $i) {{ {FIELDS} }} }}"
SERIES = f"""
query($series: ID!) {{
  tasks(filter: {{seriesId: $series}}, first: 50, orderBy: [{{field: DUE_AT}}]) {{
    edges {{ node {{ {FIELDS} }} }}
  }}
}}
"""


async def instances(client: GraphQLClient, series_id: str) -> list[dict[str, Any]]:
    """Every task of the series, by due date."""
    data = await client.data(SERIES, {"series": series_id})
    return [e["node"] for e in data["tasks"]["edges"]]


async def wait_for_instances(
    client: GraphQLClient, series_id: str, count: int, seconds: float = 20.0
) -> list[dict[str, Any]]:
    """The series once it has `count` instances.

    The bound only says the instance comes at all: how soon (the contract's 2 s in `up`) is a
    latency figure, which a loaded CI machine would turn into a flake, not a finding.
    """
    async with asyncio.timeout(seconds):
        while len(found := await instances(client, series_id)) < count:
            await asyncio.sleep(0.05)
    return found


async def complete(client: GraphQLClient, task_id: str) -> None:
    """Complete a task."""
    await client.data(f'mutation {{ completeTask(id: "{task_id}") {{ id }} }}')


async def test_due_date_series_continues_with_everything_carried_over(carol: GraphQLClient) -> None:
    first = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Water plants",
                    "notes": "all of them",
                    "priority": "HIGH",
                    "tags": ["home"],
                    "dueAt": "2030-03-02T09:00:00+01:00",
                    "recurrence": {"rule": "FREQ=WEEKLY", "timezone": "Europe/Berlin"},
                    "reminders": [
                        {"beforeDue": 30, "channels": ["EMAIL"]},
                        {"remindAt": "2030-03-01T18:00:00Z"},
                    ],
                }
            },
        )
    )["createTask"]
    await complete(carol, first["id"])
    done, following = await wait_for_instances(carol, first["seriesId"], 2)
    assert done["status"] == "DONE" and following["status"] == "OPEN"
    # A week later, still 09:00 in Berlin (08:00 UTC before the March DST change).
    assert following["dueAt"] == "2030-03-09T08:00:00+00:00"
    for key in ("title", "notes", "priority", "tags", "recurrence"):
        assert following[key] == first[key]
    relative, absolute = following["reminders"]
    assert relative == {
        "remindAt": "2030-03-09T07:30:00+00:00",
        "beforeDue": 30,
        "channels": ["EMAIL"],
        "state": "SCHEDULED",
    }
    assert absolute["remindAt"] == "2030-03-08T18:00:00+00:00" and absolute["beforeDue"] is None
    await asyncio.sleep(0.5)
    assert len(await instances(carol, first["seriesId"])) == 2, "exactly one next instance"


async def test_dst_keeps_the_wall_clock_time(carol: GraphQLClient) -> None:
    task = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Stand-up",
                    "dueAt": "2030-03-30T09:00:00+01:00",
                    "recurrence": {"rule": "FREQ=DAILY", "timezone": "Europe/Berlin"},
                }
            },
        )
    )["createTask"]
    await complete(carol, task["id"])
    _, following = await wait_for_instances(carol, task["seriesId"], 2)
    # Catch-up: the next occurrence after both the due date and now.
    due = datetime.fromisoformat(following["dueAt"])
    assert due > datetime.now(UTC)
    assert due.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")).hour == 9


async def test_completion_based_series_restarts_from_the_completion(carol: GraphQLClient) -> None:
    past_due = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    task = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Haircut",
                    "dueAt": past_due.isoformat(),
                    "recurrence": {
                        "rule": "FREQ=WEEKLY;INTERVAL=2",
                        "repeatFrom": "COMPLETION",
                        "timezone": "UTC",
                    },
                }
            },
        )
    )["createTask"]
    await complete(carol, task["id"])
    _, following = await wait_for_instances(carol, task["seriesId"], 2)
    due = datetime.fromisoformat(following["dueAt"])
    assert due - datetime.now(UTC) > timedelta(days=13)
    assert due - datetime.now(UTC) < timedelta(days=14, minutes=1)
    assert (due.hour, due.minute) == (past_due.hour, past_due.minute)


async def test_count_ends_the_series(carol: GraphQLClient) -> None:
    task = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Twice",
                    "dueAt": "2030-01-01T10:00:00Z",
                    "recurrence": {"rule": "FREQ=DAILY;COUNT=2", "timezone": "UTC"},
                }
            },
        )
    )["createTask"]
    await complete(carol, task["id"])
    _, second = await wait_for_instances(carol, task["seriesId"], 2)
    await complete(carol, second["id"])
    await asyncio.sleep(1.0)
    assert [i["status"] for i in await instances(carol, task["seriesId"])] == ["DONE", "DONE"]


async def test_reopening_and_completing_again_makes_no_second_instance(
    carol: GraphQLClient,
) -> None:
    task = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Once more",
                    "dueAt": "2030-06-01T10:00:00Z",
                    "recurrence": {"rule": "FREQ=MONTHLY", "timezone": "UTC"},
                }
            },
        )
    )["createTask"]
    await complete(carol, task["id"])
    await wait_for_instances(carol, task["seriesId"], 2)
    await carol.data(f'mutation {{ reopenTask(id: "{task["id"]}") {{ id }} }}')
    await complete(carol, task["id"])
    await asyncio.sleep(1.0)
    assert len(await instances(carol, task["seriesId"])) == 2


SUBTREE = """
query($id: ID!) {
  task(id: $id) { subtasks {
    title notes priority status dueAt tags { name }
    subtasks { title priority status dueAt }
  } }
}
"""


async def test_the_next_instance_carries_an_open_copy_of_the_subtasks_once(
    carol: GraphQLClient,
) -> None:
    first = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Weekly review",
                    "dueAt": "2030-05-06T09:00:00Z",
                    "recurrence": {"rule": "FREQ=WEEKLY", "timezone": "UTC"},
                }
            },
        )
    )["createTask"]

    async def subtask(title: str, parent: str, **extra: Any) -> str:
        created = await carol.data(CREATE, {"i": {"title": title, "parentId": parent, **extra}})
        return str(created["createTask"]["id"])

    inbox = await subtask("Inbox zero", first["id"], notes="all of it", tags=["home"])
    await subtask("Archive", inbox, priority="HIGH", dueAt="2030-05-06T07:00:00Z")
    await subtask("Reply", inbox)
    await subtask("Plan week", first["id"], priority="LOW")
    await complete(carol, first["id"])
    await wait_for_instances(carol, first["seriesId"], 2)
    done, following = [
        (await carol.data(SUBTREE, {"id": i["id"]}))["task"]
        for i in await instances(carol, first["seriesId"])
    ]
    assert {s["status"] for s in done["subtasks"]} == {"DONE"}
    assert following["subtasks"] == [
        {
            "title": "Inbox zero",
            "notes": "all of it",
            "priority": "NONE",
            "status": "OPEN",
            "dueAt": None,
            "tags": [{"name": "home"}],
            "subtasks": [
                {
                    "title": "Archive",
                    "priority": "HIGH",
                    "status": "OPEN",
                    # Two hours before the instance's due date, as it was for the first.
                    "dueAt": "2030-05-13T07:00:00+00:00",
                },
                {
                    "title": "Reply",
                    "priority": "NONE",
                    "status": "OPEN",
                    "dueAt": None,
                },
            ],
        },
        {
            "title": "Plan week",
            "notes": "",
            "priority": "LOW",
            "status": "OPEN",
            "dueAt": None,
            "tags": [],
            "subtasks": [],
        },
    ]
