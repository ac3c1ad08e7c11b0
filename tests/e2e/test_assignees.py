"""Assignees over HTTP: who may be assigned, filters, unassigning on removal, the events."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from tests.conftest import GraphQLClient
from tests.e2e.test_projects import create, join, new_user
from tests.e2e.test_statement_count import StatementCounter, counter

pytestmark = pytest.mark.e2e

__all__ = ["counter"]

TASK = "id version assignee { id email } createdBy { id email }"
CREATE = (
    'mutation($p: ID, $a: ID) { createTask(input: {title: "plan", projectId: $p, '
    f"assigneeId: $a}}) {{ {TASK} }} }}"
)
UPDATE = (
    f"mutation($id: ID!, $i: UpdateTaskInput!) {{ updateTask(id: $id, input: $i) {{ {TASK} }} }}"
)
READ = f"query($id: ID!) {{ task(id: $id) {{ {TASK} }} }}"
TITLES = "query($f: TaskFilter) { tasks(filter: $f) { totalCount edges { node { id } } } }"
RULE = (
    "must be the id of an EDITOR or OWNER member of the task's project "
    "(of yourself for a task of your personal space)"
)


async def ids(client: GraphQLClient, filter: dict[str, Any]) -> set[str]:
    """Ids of the tasks the client sees with this filter."""
    data = await client.data(TITLES, {"f": filter})
    assert data["tasks"]["totalCount"] == len(data["tasks"]["edges"])
    return {e["node"]["id"] for e in data["tasks"]["edges"]}


async def team(
    http: httpx.AsyncClient,
) -> tuple[
    GraphQLClient, dict[str, Any], GraphQLClient, dict[str, Any], GraphQLClient, dict[str, Any], str
]:
    """Alice's project with Bob as EDITOR and Vic as VIEWER."""
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    vic, v = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    await join(alice, vic, project["id"], v["email"], "VIEWER")
    return alice, a, bob, b, vic, v, project["id"]


async def task_events(engine: AsyncEngine, task_id: str) -> list[dict[str, Any]]:
    """The task's CloudEvents in the outbox, in commit order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.payload)
            .where(t.outbox.c.payload["data"]["taskId"].astext == task_id)
            .order_by(t.outbox.c.position)
        )
    return [dict(row.payload) for row in rows]


async def test_a_member_is_assigned_and_filters_find_it(http: httpx.AsyncClient) -> None:
    alice, a, bob, b, _, _, project = await team(http)
    task = (await alice.data(CREATE, {"p": project, "a": b["id"]}))["createTask"]
    assert task["assignee"] == {"id": b["id"], "email": b["email"]}
    assert task["createdBy"] == {"id": a["id"], "email": a["email"]}
    other = (await alice.data(CREATE, {"p": project, "a": None}))["createTask"]
    assert other["assignee"] is None
    assert await ids(bob, {"assignedToMe": True}) == {task["id"]}
    assert await ids(bob, {"assignedToMe": False}) == {other["id"]}
    assert await ids(alice, {"assigneeId": b["id"]}) == {task["id"]}
    assert await ids(alice, {"assigneeId": "not-an-id"}) == set()
    # Bob reads the creator and assignee through the task like any member.
    seen = (await bob.data(READ, {"id": task["id"]}))["task"]
    assert (seen["assignee"]["id"], seen["createdBy"]["id"]) == (b["id"], a["id"])


async def test_only_editors_and_owners_of_the_project_can_be_assigned(
    http: httpx.AsyncClient,
) -> None:
    alice, a, _, b, _, v, project = await team(http)
    _, s = await new_user(http)
    task = (await alice.data(CREATE, {"p": project, "a": None}))["createTask"]
    # A viewer, a non-member, an account that does not exist and a malformed id: one answer.
    for candidate in (v["id"], s["id"], str(uuid.uuid4()), "nope"):
        error = await alice.error(UPDATE, {"id": task["id"], "i": {"assigneeId": candidate}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert error["message"] == f"assigneeId: {RULE}", error
        created = await alice.error(CREATE, {"p": project, "a": candidate})
        assert created["message"] == f"assigneeId: {RULE}", created
    assert (await alice.data(READ, {"id": task["id"]}))["task"]["version"] == 1
    assert await ids(alice, {"projectId": project}) == {task["id"]}
    done = await alice.data(UPDATE, {"id": task["id"], "i": {"assigneeId": a["id"]}})
    assert done["updateTask"]["assignee"]["id"] == a["id"]
    both = await alice.error(
        UPDATE, {"id": task["id"], "i": {"assigneeId": b["id"], "clearAssignee": True}}
    )
    assert both["extensions"]["code"] == "BAD_USER_INPUT"
    assert both["message"].startswith("clearAssignee:")
    cleared = await alice.data(UPDATE, {"id": task["id"], "i": {"clearAssignee": True}})
    assert cleared["updateTask"]["assignee"] is None


async def test_viewers_cannot_assign(http: httpx.AsyncClient) -> None:
    alice, _, _, b, vic, v, project = await team(http)
    task = (await alice.data(CREATE, {"p": project, "a": None}))["createTask"]
    for candidate in (v["id"], b["id"]):
        error = await vic.error(UPDATE, {"id": task["id"], "i": {"assigneeId": candidate}})
        assert error["extensions"]["code"] == "FORBIDDEN", error
    assert (await alice.data(READ, {"id": task["id"]}))["task"]["assignee"] is None


async def test_inbox_tasks_are_assigned_to_their_owner_only(http: httpx.AsyncClient) -> None:
    alice, a = await new_user(http)
    _, b = await new_user(http)
    error = await alice.error(CREATE, {"p": None, "a": b["id"]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("assigneeId:")
    assert await ids(alice, {}) == set()
    mine = (await alice.data(CREATE, {"p": None, "a": a["id"]}))["createTask"]
    assert mine["assignee"]["id"] == a["id"]
    assert await ids(alice, {"assignedToMe": True}) == {mine["id"]}


async def test_removal_and_demotion_unassign_with_an_event(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _, bob, b, _, _, project = await team(http)
    carol, c = await new_user(http)
    await join(alice, carol, project, c["email"], "EDITOR")
    for_bob = (await alice.data(CREATE, {"p": project, "a": b["id"]}))["createTask"]
    for_carol = (await alice.data(CREATE, {"p": project, "a": c["id"]}))["createTask"]
    created = (await task_events(engine, for_bob["id"]))[0]
    assert created["data"]["task"]["assigneeId"] == b["id"]
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project, "u": b["id"]},
    )
    after = (await alice.data(READ, {"id": for_bob["id"]}))["task"]
    assert (after["assignee"], after["version"]) == (None, 2)
    last = (await task_events(engine, for_bob["id"]))[-1]
    assert last["type"] == "taskstream.task.updated.v1"
    assert last["data"]["changes"] == {"assigneeId": {"before": b["id"], "after": None}}
    assert "assigneeId" not in last["data"]["task"]
    await alice.data(
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: VIEWER) "
        "{ id } }",
        {"p": project, "u": c["id"]},
    )
    assert (await alice.data(READ, {"id": for_carol["id"]}))["task"]["assignee"] is None
    assert await ids(carol, {"assignedToMe": True}) == set()
    # Bob's own inbox is untouched by leaving the project.
    assert await ids(bob, {"projectId": None, "inbox": True}) == set()


PEOPLE_PAGE = (
    "{ tasks(first: 50) { edges { node { id assignee { email } createdBy { email } } } } }"
)


async def test_people_on_a_page_cost_one_statement_however_many_tasks(
    http: httpx.AsyncClient, counter: StatementCounter
) -> None:
    alice, _, bob, b, _, _, project = await team(http)
    await alice.data(CREATE, {"p": project, "a": b["id"]})
    await bob.data("{ me { id } }")  # the account check of a new token, outside the count
    counter.count = 0
    one = await bob.data(PEOPLE_PAGE)
    few = counter.count
    for _ in range(9):
        await bob.data(CREATE, {"p": project, "a": b["id"]})
        await alice.data(CREATE, {"p": project, "a": None})
    counter.count = 0
    many = await bob.data(PEOPLE_PAGE)
    assert (len(one["tasks"]["edges"]), len(many["tasks"]["edges"])) == (1, 19)
    # The page, then one batch of users for every creator and assignee on it.
    assert counter.count == few, counter.statements


async def test_an_assignment_racing_a_removal_never_leaves_a_non_member_assigned(
    http: httpx.AsyncClient,
) -> None:
    alice, _ = await new_user(http)
    project = await create(alice)
    for _ in range(3):
        bob, b = await new_user(http)
        await join(alice, bob, project["id"], b["email"], "EDITOR")
        task = (await alice.data(CREATE, {"p": project["id"], "a": None}))["createTask"]
        assign = alice.execute(UPDATE, {"id": task["id"], "i": {"assigneeId": b["id"]}})
        remove = alice.execute(
            "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
            {"p": project["id"], "u": b["id"]},
        )
        assigned, removed = await asyncio.gather(assign, remove)
        assert "errors" not in removed, removed
        # Either the assignment came first (and the removal took it off) or it was refused.
        if "errors" in assigned:
            assert assigned["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        after = (await alice.data(READ, {"id": task["id"]}))["task"]
        assert after["assignee"] is None, after


MOVE = (
    "mutation($id: ID!, $p: ID, $inbox: Boolean) { moveTask(id: $id, projectId: $p, "
    "toInbox: $inbox) { id version assignee { id } project { id } } }"
)


async def test_a_move_keeps_the_assignee_only_where_they_may_hold_the_task(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, a, bob, b, _, _, project = await team(http)
    other = (await alice.data('mutation { createProject(name: "elsewhere") { id } }'))[
        "createProject"
    ]["id"]
    shared = (await alice.data('mutation { createProject(name: "shared") { id } }'))[
        "createProject"
    ]["id"]
    await join(alice, bob, shared, b["email"], "EDITOR")
    task = (await alice.data(CREATE, {"p": project, "a": b["id"]}))["createTask"]
    # Bob is an EDITOR of `shared` too: he keeps the task.
    kept = (await alice.data(MOVE, {"id": task["id"], "p": shared}))["moveTask"]
    assert kept["assignee"] == {"id": b["id"]}
    # Bob is no member of `other`: the same event that moves the task unassigns him.
    moved = (await alice.data(MOVE, {"id": task["id"], "p": other}))["moveTask"]
    assert (moved["project"], moved["assignee"]) == ({"id": other}, None)
    last = (await task_events(engine, task["id"]))[-1]
    assert last["data"]["changes"]["assigneeId"] == {"before": b["id"], "after": None}
    assert last["data"]["changes"]["projectId"] == {"before": shared, "after": other}
    assert await ids(bob, {"assignedToMe": True}) == set()
    # In the inbox only the owner may be assigned: Alice's own assignment stays.
    mine = (await alice.data(CREATE, {"p": project, "a": a["id"]}))["createTask"]
    home = (await alice.data(MOVE, {"id": mine["id"], "inbox": True}))["moveTask"]
    assert (home["project"], home["assignee"]) == (None, {"id": a["id"]})
