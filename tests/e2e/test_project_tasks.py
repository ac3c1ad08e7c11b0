"""Tasks in shared projects over HTTP: who sees and changes them, filters, events, old data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from tests.conftest import GraphQLClient
from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

CREATE = (
    "mutation($p: ID, $title: String!) { createTask(input: {title: $title, projectId: $p, "
    'tags: ["shared"]}) { id title version project { id name myRole } } }'
)
TITLES = "query($f: TaskFilter) { tasks(filter: $f) { totalCount edges { node { title } } } }"


async def titles(client: GraphQLClient, filter: dict[str, Any] | None = None) -> list[str]:
    """Titles of the tasks the client sees (with the filter), in the default order."""
    data = await client.data(TITLES, {"f": filter})
    edges = data["tasks"]["edges"]
    assert data["tasks"]["totalCount"] == len(edges)
    return sorted(e["node"]["title"] for e in edges)


async def shared(
    http: httpx.AsyncClient, role: str = "EDITOR"
) -> tuple[GraphQLClient, GraphQLClient, dict[str, Any], dict[str, Any]]:
    """Alice's project with Bob in `role`, and a task of Alice's in it."""
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], role)
    task = (await alice.data(CREATE, {"p": project["id"], "title": "shared plan"}))["createTask"]
    return alice, bob, project, task


async def test_every_member_sees_a_project_task_and_editors_change_it(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, project, task = await shared(http)
    assert task["project"] == {"id": project["id"], "name": "Launch", "myRole": "OWNER"}
    await alice.data(CREATE, {"p": None, "title": "alice private"})
    await bob.data(CREATE, {"p": None, "title": "bob private"})
    assert await titles(alice) == ["alice private", "shared plan"]
    assert await titles(bob) == ["bob private", "shared plan"]
    seen = await bob.data(
        "query($id: ID!) { task(id: $id) { title project { myRole } } }", {"id": task["id"]}
    )
    assert seen["task"] == {"title": "shared plan", "project": {"myRole": "EDITOR"}}
    updated = await bob.data(
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "edited by bob"}) { version } }',
        {"id": task["id"]},
    )
    assert updated["updateTask"]["version"] == 2
    by_bob = (await bob.data(CREATE, {"p": project["id"], "title": "bob's shared"}))["createTask"]
    assert await titles(alice, {"projectId": project["id"]}) == ["bob's shared", "edited by bob"]
    await alice.data("mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": by_bob["id"]})


async def test_open_task_count_counts_the_projects_open_tasks(http: httpx.AsyncClient) -> None:
    alice, bob, project, task = await shared(http)
    await alice.data(CREATE, {"p": None, "title": "not in the project"})
    count = "query($p: ID!) { project(id: $p) { openTaskCount } }"
    assert (await bob.data(count, {"p": project["id"]}))["project"]["openTaskCount"] == 1
    await bob.data("mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": task["id"]})
    assert (await alice.data(count, {"p": project["id"]}))["project"]["openTaskCount"] == 0


async def test_inbox_and_project_filters(http: httpx.AsyncClient) -> None:
    alice, _, project, _ = await shared(http)
    await alice.data(CREATE, {"p": None, "title": "mine"})
    assert await titles(alice, {"inbox": True}) == ["mine"]
    assert await titles(alice, {"inbox": False}) == ["shared plan"]
    assert await titles(alice, {"projectId": project["id"]}) == ["shared plan"]


@pytest.mark.parametrize(
    "mutation",
    [
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "x"}) { id } }',
        "mutation($id: ID!) { completeTask(id: $id) { id } }",
        "mutation($id: ID!) { deleteTask(id: $id) }",
    ],
)
async def test_viewers_read_but_cannot_change(http: httpx.AsyncClient, mutation: str) -> None:
    alice, bob, project, task = await shared(http, role="VIEWER")
    assert await titles(bob) == ["shared plan"]
    error = await bob.error(mutation, {"id": task["id"]})
    assert error["extensions"]["code"] == "FORBIDDEN"
    create_error = await bob.error(CREATE, {"p": project["id"], "title": "no"})
    assert create_error["extensions"]["code"] == "FORBIDDEN"
    assert create_error["message"].startswith("projectId:")
    after = await alice.data(
        "query($id: ID!) { task(id: $id) { title status version } }", {"id": task["id"]}
    )
    assert after["task"] == {"title": "shared plan", "status": "OPEN", "version": 1}
    assert await titles(alice) == ["shared plan"]


PROBES = [
    'mutation($id: ID!) { updateTask(id: $id, input: {title: "x"}) { id } }',
    "mutation($id: ID!) { completeTask(id: $id) { id } }",
    "mutation($id: ID!) { reopenTask(id: $id) { id } }",
    "mutation($id: ID!) { deleteTask(id: $id) }",
    "mutation($id: ID!) { skipOccurrence(id: $id) { id } }",
]


@pytest.mark.parametrize("outsider", ["stranger", "removed"])
async def test_non_members_and_removed_members_find_nothing(
    http: httpx.AsyncClient, outsider: str
) -> None:
    alice, bob, project, task = await shared(http)
    if outsider == "removed":
        probe = bob
        me = await bob.data(
            "query($p: ID!) { project(id: $p) { members { user { id email } } } }",
            {"p": project["id"]},
        )
        bob_id = me["project"]["members"][1]["user"]["id"]
        await alice.data(
            "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
            {"p": project["id"], "u": bob_id},
        )
    else:
        probe, _ = await new_user(http)
    for mutation in PROBES:
        error = await probe.error(mutation, {"id": task["id"]})
        assert error["extensions"]["code"] == "NOT_FOUND", (mutation, error)
    missing = await probe.data("query($id: ID!) { task(id: $id) { id } }", {"id": task["id"]})
    assert missing["task"] is None
    assert await titles(probe) == []
    for query, variables in [
        (CREATE, {"p": project["id"], "title": "sneak"}),
        (TITLES, {"f": {"projectId": project["id"]}}),
    ]:
        error = await probe.error(query, variables)
        assert error["extensions"]["code"] == "NOT_FOUND"
    assert await titles(alice) == ["shared plan"]


async def test_task_events_of_a_project_task_carry_the_project(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _, project, task = await shared(http)
    personal = (await alice.data(CREATE, {"p": None, "title": "mine"}))["createTask"]
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.outbox.c.payload).where(
                    t.outbox.c.type == "taskstream.task.created.v1",
                    t.outbox.c.payload["subject"].astext.in_([task["id"], personal["id"]]),
                )
            )
        ).all()
    by_task = {r.payload["subject"]: r.payload["data"]["task"] for r in rows}
    assert by_task[task["id"]]["projectId"] == project["id"]
    # A personal task's event reads exactly as before projects existed.
    assert "projectId" not in by_task[personal["id"]]


async def test_a_project_holding_tasks_is_not_deleted(http: httpx.AsyncClient) -> None:
    alice, _, project, task = await shared(http)
    error = await alice.error("mutation($p: ID!) { deleteProject(id: $p) }", {"p": project["id"]})
    assert error["extensions"]["code"] == "CONFLICT"
    assert await titles(alice) == ["shared plan"]
    await alice.data("mutation($id: ID!) { deleteTask(id: $id) }", {"id": task["id"]})
    await alice.data("mutation($p: ID!) { deleteProject(id: $p) }", {"p": project["id"]})
