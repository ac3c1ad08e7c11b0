"""deleteAccount and shared projects: refused while the account is a project's only owner with
other members; otherwise it leaves, losing nothing of the others."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from tests.e2e.test_projects import create, join, new_user, project_of

pytestmark = pytest.mark.e2e

DELETE = 'mutation { deleteAccount(password: "correct horse") }'
CREATE = (
    "mutation($p: ID, $t: String!, $a: ID) { createTask(input: {title: $t, projectId: $p, "
    'assigneeId: $a, tags: ["shared"]}) { id } }'
)
READ = (
    "query($id: ID!) { task(id: $id) { title version tags { name } assignee { id } "
    "createdBy { id } } }"
)
ROLE = (
    "mutation($p: ID!, $u: ID!, $r: ProjectRole!) { changeMemberRole(projectId: $p, userId: $u, "
    "role: $r) { id } }"
)


async def test_the_only_owner_of_a_shared_project_cannot_delete_the_account(
    http: httpx.AsyncClient,
) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    task = (await alice.data(CREATE, {"p": project["id"], "t": "kept", "a": a["id"]}))["createTask"]
    error = await alice.error(DELETE)
    assert error["extensions"]["code"] == "CONFLICT", error
    assert project["id"] in error["message"] and "OWNER" in error["message"]
    # Nothing changed: the account, the project and the task are as they were.
    assert (await alice.data("{ me { id } }"))["me"]["id"] == a["id"]
    assert (await project_of(bob, project["id"])) is not None
    seen = (await bob.data(READ, {"id": task["id"]}))["task"]
    assert (seen["version"], seen["assignee"]) == (1, {"id": a["id"]})


async def test_after_handing_ownership_over_the_account_goes_and_its_work_stays(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, a = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    made = (await alice.data(CREATE, {"p": project["id"], "t": "alice made", "a": a["id"]}))[
        "createTask"
    ]
    for_alice = (await bob.data(CREATE, {"p": project["id"], "t": "bob made", "a": a["id"]}))[
        "createTask"
    ]
    private = (await alice.data(CREATE, {"p": None, "t": "alice private", "a": None}))["createTask"]
    await alice.data(ROLE, {"p": project["id"], "u": b["id"], "r": "OWNER"})
    assert (await alice.data(DELETE))["deleteAccount"] is True
    # The task Alice made stays in the project, handed to Bob, its tags and all.
    kept = (await bob.data(READ, {"id": made["id"]}))["task"]
    assert kept == {
        "title": "alice made",
        "version": 3,
        "tags": [{"name": "shared"}],
        "assignee": None,
        "createdBy": {"id": b["id"]},
    }
    unassigned = (await bob.data(READ, {"id": for_alice["id"]}))["task"]
    assert (unassigned["assignee"], unassigned["version"]) == (None, 2)
    project_now = await project_of(bob, project["id"])
    assert project_now is not None
    assert [m["user"]["id"] for m in project_now["members"]] == [b["id"]]
    async with engine.connect() as connection:
        left = await connection.scalar(select(func.count()).where(t.tasks.c.id == private["id"]))
        handed = await connection.scalar(
            select(t.outbox.c.payload["data"]["changes"]).where(
                t.outbox.c.payload["data"]["taskId"].astext == made["id"],
                t.outbox.c.payload["data"]["changes"]["userId"].is_not(None),
            )
        )
    assert left == 0
    assert handed == {"userId": {"before": a["id"], "after": b["id"]}}


async def test_a_project_the_account_is_alone_in_goes_with_it(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    by_bob = (await bob.data(CREATE, {"p": project["id"], "t": "bob's", "a": None}))["createTask"]
    await bob.data("mutation($p: ID!) { leaveProject(projectId: $p) }", {"p": project["id"]})
    assert (await alice.data(DELETE))["deleteAccount"] is True
    async with engine.connect() as connection:
        projects = await connection.scalar(
            select(func.count()).where(t.projects.c.id == project["id"])
        )
        deleted = await connection.scalar(
            select(func.count()).where(
                t.outbox.c.type == "taskstream.task.deleted.v1",
                t.outbox.c.payload["data"]["taskId"].astext == by_bob["id"],
            )
        )
    assert (projects, deleted) == (0, 1)


async def test_a_member_who_is_not_the_only_owner_just_leaves(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], "EDITOR")
    assert (await bob.data(DELETE))["deleteAccount"] is True
    members = await project_of(alice, project["id"])
    assert members is not None and len(members["members"]) == 1


SUBTASK = (
    "mutation($parent: ID!, $t: String!) { createTask(input: {title: $t, parentId: $parent}) "
    "{ id } }"
)


async def test_a_project_with_nested_subtasks_goes_with_the_account(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _ = await new_user(http)
    project = await create(alice)
    parent = (await alice.data(CREATE, {"p": project["id"], "t": "top", "a": None}))["createTask"]
    child = (await alice.data(SUBTASK, {"parent": parent["id"], "t": "child"}))["createTask"]
    grandchild = (await alice.data(SUBTASK, {"parent": child["id"], "t": "grandchild"}))[
        "createTask"
    ]
    # And in the personal space, where the account's own tasks go with its row.
    mine = (await alice.data(CREATE, {"p": None, "t": "inbox top", "a": None}))["createTask"]
    await alice.data(SUBTASK, {"parent": mine["id"], "t": "inbox child"})
    assert (await alice.data(DELETE))["deleteAccount"] is True
    ids = [parent["id"], child["id"], grandchild["id"]]
    async with engine.connect() as connection:
        left = await connection.scalar(select(func.count()).where(t.tasks.c.id.in_(ids)))
        deleted = await connection.scalar(
            select(func.count()).where(
                t.outbox.c.type == "taskstream.task.deleted.v1",
                t.outbox.c.payload["data"]["taskId"].astext.in_(ids),
            )
        )
    assert (left, deleted) == (0, 3)
