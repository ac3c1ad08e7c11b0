"""In `taskstream stack up` (Kafka, Dapr sidecars, every service its own process): a project
task's reminder and its "assigned to you" notice reach the assignee, not the owner; the
invitation's and the assignment's in-app notices are pushed to the recipient's socket live."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import subscribe
from tests.e2e.test_notice_push import NOTIFICATIONS, pushed
from tests.e2e.test_projects import create, invite, join
from tests.e2e.test_stack_up import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

INBOX = "{ notifications { edges { node { taskId title channel } } } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the module."""
    running = StackProcess(tmp_path_factory.mktemp("stack-assignees") / "data")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


async def alice_and_bob(http: httpx.AsyncClient) -> tuple[GraphQLClient, GraphQLClient, Any]:
    """Two new accounts' clients, and Bob's profile."""
    alice, bob = GraphQLClient(http), GraphQLClient(http)
    await alice.sign_up()
    return alice, bob, await bob.sign_up()


async def test_the_assignee_gets_the_reminder_and_the_notice_through_dapr(
    stack: StackProcess,
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        alice, bob, b = await alice_and_bob(http)
        project = (await create(alice))["id"]
        await join(alice, bob, project, b["email"], "EDITOR")
        remind_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        task = (
            await alice.data(
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                {
                    "i": {
                        "title": "Review the budget",
                        "projectId": project,
                        "assigneeId": b["id"],
                        "reminders": [{"remindAt": remind_at}],
                    }
                },
            )
        )["createTask"]
        query = f'{{ task(id: "{task["id"]}") {{ reminders {{ state }} }} }}'
        async with asyncio.timeout(20):
            while (await alice.data(query))["task"]["reminders"][0]["state"] != "SENT":
                await asyncio.sleep(0.1)
        inbox = sorted(
            (e["node"]["taskId"], e["node"]["title"], e["node"]["channel"])
            for e in (await bob.data(INBOX))["notifications"]["edges"]
            # An invitation's notice (no task) aside: sent or not, by how fast Bob accepted.
            if e["node"]["taskId"] is not None
        )
        assert inbox == [
            (task["id"], "Assigned to you: Review the budget", "IN_APP"),
            (task["id"], "Review the budget", "IN_APP"),
        ]
        assert (await alice.data(INBOX))["notifications"]["edges"] == []


async def test_invitation_and_assignment_notices_are_pushed_live_through_dapr(
    stack: StackProcess,
) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        alice, bob, b = await alice_and_bob(http)
        assert bob.token is not None
        ws = await subscribe(stack.url.removeprefix("http://"), bob.token, NOTIFICATIONS)
        try:
            project = await create(alice, "Orchard")
            invitation = await invite(alice, project["id"], b["email"], "EDITOR")
            invited = await pushed(ws)
            assert invited["taskId"] is None and "\u201cOrchard\u201d" in invited["title"]
            await bob.data(
                "mutation($id: ID!) { acceptInvitation(id: $id) { id } }",
                {"id": invitation["id"]},
            )
            task = (
                await alice.data(
                    "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
                    {"i": {"title": "Prune", "projectId": project["id"], "assigneeId": b["id"]}},
                )
            )["createTask"]
            assigned = await pushed(ws)
            assert (assigned["taskId"], assigned["title"]) == (task["id"], "Assigned to you: Prune")
        finally:
            await ws.close()
