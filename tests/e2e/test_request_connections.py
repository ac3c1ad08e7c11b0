"""A shared project's board page holds one pooled connection at a time, whatever it loads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

CREATE = (
    "mutation($title: String!, $p: ID, $s: ID, $parent: ID, $a: ID) { createTask(input: "
    '{title: $title, projectId: $p, sectionId: $s, parentId: $parent, assigneeId: $a, tags: ["t"], '
    'reminders: [{remindAt: "2030-01-01T08:00:00Z"}]}) { id } }'
)
# What the web app's board asks of a page (bench/shared_projects.py: PROJECT_PAGE), with the
# total: six loaders and the count on top of the page.
BOARD = """
query($project: ID!) {
  tasks(first: 50, filter: {projectId: $project, topLevel: true}, orderBy: [{field: MANUAL}]) {
    totalCount
    edges { node { id project { id myRole } section { id } assignee { id } createdBy { id }
                   tags { id name openTaskCount } reminders { id }
                   subtasks { id parent { id } } } }
  }
}
"""


class CheckedOut:
    """How many pooled connections are checked out at once, at most, while active."""

    def __init__(self) -> None:
        self.now = self.most = self.checkouts = 0

    def out(self, *_: Any) -> None:
        self.now += 1
        self.checkouts += 1
        self.most = max(self.most, self.now)

    def back(self, *_: Any) -> None:
        self.now -= 1


@pytest.fixture
def checked_out(engine: AsyncEngine) -> Iterator[CheckedOut]:
    """The test engine's pool, watched."""
    pool, watch = engine.sync_engine.pool, CheckedOut()
    event.listen(pool, "checkout", watch.out)
    event.listen(pool, "checkin", watch.back)
    yield watch
    event.remove(pool, "checkout", watch.out)
    event.remove(pool, "checkin", watch.back)


async def test_a_board_page_holds_one_connection_at_a_time(
    http: httpx.AsyncClient, checked_out: CheckedOut
) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = (await create(alice))["id"]
    await join(alice, bob, project, b["email"], "EDITOR")
    section = await alice.data(
        'mutation($p: ID!) { createSection(projectId: $p, name: "Doing") { id } }', {"p": project}
    )
    for n in range(4):
        place = {"p": project, "s": section["createSection"]["id"], "a": b["id"]}
        parent = (await alice.data(CREATE, {"title": f"task {n}", **place}))["createTask"]
        await bob.data(CREATE, {"title": f"step {n}", **place, "parent": parent["id"]})
    # The account check of the token happens outside the measured request (KnownUsers).
    await bob.data("{ tasks(first: 1) { edges { cursor } } }")
    checked_out.most = checked_out.checkouts = 0
    data = await bob.data(BOARD, {"project": project})
    nodes = [edge["node"] for edge in data["tasks"]["edges"]]
    assert data["tasks"]["totalCount"] == len(nodes) == 4
    assert all(n["assignee"] == {"id": b["id"]} and len(n["subtasks"]) == 1 for n in nodes)
    assert all(n["project"]["myRole"] == "EDITOR" and n["tags"][0]["openTaskCount"] for n in nodes)
    # Loaders that each checked out their own connection held five at once here.
    assert checked_out.most == 1, vars(checked_out)
