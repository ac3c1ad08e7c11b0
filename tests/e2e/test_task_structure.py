"""Sections, subtasks, manual order and moveTask over HTTP: the rules, the limits, the events."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.positions import REBALANCE_AT
from gateway_core.persistence import tables as t
from tests.conftest import GraphQLClient
from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

TASK = "id title version position status project { id } section { id name } parent { id }"
CREATE = (
    "mutation($title: String!, $p: ID, $s: ID, $parent: ID) { createTask(input: {title: $title, "
    f"projectId: $p, sectionId: $s, parentId: $parent}}) {{ {TASK} }} }}"
)
SECTION = "mutation($p: ID!, $n: String!) { createSection(projectId: $p, name: $n) { id name } }"
MOVE = (
    "mutation($id: ID!, $p: ID, $inbox: Boolean, $s: ID, $nosec: Boolean, $parent: ID, "
    "$top: Boolean, $after: ID, $before: ID, $v: Int) { moveTask(id: $id, projectId: $p, "
    "toInbox: $inbox, sectionId: $s, toNoSection: $nosec, parentId: $parent, toTopLevel: $top, "
    "afterId: $after, beforeId: $before, "
    f"expectedVersion: $v) {{ {TASK} }} }}"
)
MANUAL = (
    "query($f: TaskFilter, $first: Int, $after: String) { tasks(filter: $f, first: $first, "
    "after: $after, orderBy: [{field: MANUAL}]) { edges { cursor node { title position } } "
    "pageInfo { hasNextPage endCursor } } }"
)
SUBTASKS = "query($id: ID!) { task(id: $id) { title subtasks { title parent { title } } } }"


async def new_task(client: GraphQLClient, title: str, **place: str | None) -> dict[str, Any]:
    """A task created with the given place (p: project, s: section, parent)."""
    data = await client.data(CREATE, {"title": title, **place})
    task: dict[str, Any] = data["createTask"]
    return task


async def move(client: GraphQLClient, task_id: str, **arguments: Any) -> dict[str, Any]:
    """The moved task."""
    moved: dict[str, Any] = (await client.data(MOVE, {"id": task_id, **arguments}))["moveTask"]
    return moved


async def manual(client: GraphQLClient, filter: dict[str, Any]) -> list[str]:
    """Titles of the list in manual order."""
    data = await client.data(MANUAL, {"f": filter, "first": 200})
    return [e["node"]["title"] for e in data["tasks"]["edges"]]


async def task_updates(engine: AsyncEngine, *where: Any) -> list[dict[str, Any]]:
    """The payloads of the task.updated events in the outbox matching `where`, in order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.payload)
            .where(t.outbox.c.type == "taskstream.task.updated.v1", *where)
            .order_by(t.outbox.c.position)
        )
        return [row.payload for row in rows]


async def team(
    http: httpx.AsyncClient, role: str = "EDITOR"
) -> tuple[GraphQLClient, GraphQLClient, dict[str, Any]]:
    """Alice's project with Bob as a member in `role`."""
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    project = await create(alice)
    await join(alice, bob, project["id"], b["email"], role)
    return alice, bob, project


async def test_sections_are_created_in_order_renamed_and_listed(http: httpx.AsyncClient) -> None:
    alice, bob, project = await team(http)
    first = (await alice.data(SECTION, {"p": project["id"], "n": "  To   do "}))["createSection"]
    second = (await bob.data(SECTION, {"p": project["id"], "n": "Done"}))["createSection"]
    assert first["name"] == "To do"
    renamed = await bob.data(
        'mutation($id: ID!) { renameSection(id: $id, name: "Doing") { id name } }',
        {"id": first["id"]},
    )
    assert renamed["renameSection"] == {"id": first["id"], "name": "Doing"}
    listed = await alice.data(
        "query($p: ID!) { project(id: $p) { version sections { id name position } } }",
        {"p": project["id"]},
    )
    sections = listed["project"]["sections"]
    assert [s["name"] for s in sections] == ["Doing", "Done"]
    assert sections[0]["position"] < sections[1]["position"]
    assert [s["id"] for s in sections] == [first["id"], second["id"]]


@pytest.mark.parametrize(("name", "field"), [("", "name"), ("   ", "name"), ("x" * 101, "name")])
async def test_a_bad_section_name_is_bad_user_input_and_changes_nothing(
    http: httpx.AsyncClient, name: str, field: str
) -> None:
    alice, _, project = await team(http)
    error = await alice.error(SECTION, {"p": project["id"], "n": name})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(f"{field}:")
    listed = await alice.data(
        "query($p: ID!) { project(id: $p) { sections { id } } }", {"p": project["id"]}
    )
    assert listed["project"]["sections"] == []


async def test_a_viewer_may_not_change_sections_or_move_tasks(http: httpx.AsyncClient) -> None:
    alice, viewer, project = await team(http, role="VIEWER")
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Todo"}))["createSection"]
    task = await new_task(alice, "plan", p=project["id"])
    in_section = await new_task(alice, "sectioned", s=section["id"])
    attempts = [
        (SECTION, {"p": project["id"], "n": "Mine"}),
        ('mutation($id: ID!) { renameSection(id: $id, name: "x") { id } }', {"id": section["id"]}),
        ("mutation($id: ID!) { deleteSection(id: $id) }", {"id": section["id"]}),
        (MOVE, {"id": task["id"], "s": section["id"]}),
        (MOVE, {"id": in_section["id"], "nosec": True}),
        (CREATE, {"title": "sub", "parent": task["id"]}),
        (CREATE, {"title": "in section", "s": section["id"]}),
    ]
    for query, variables in attempts:
        error = await viewer.error(query, variables)
        assert error["extensions"]["code"] == "FORBIDDEN", (query, error)
    state = await alice.data(
        "query($p: ID!, $t: ID!) { project(id: $p) { sections { name } } "
        "task(id: $t) { version section { id } subtasks { id } } }",
        {"p": project["id"], "t": task["id"]},
    )
    assert state["project"]["sections"] == [{"name": "Todo"}]
    assert state["task"] == {"version": 1, "section": None, "subtasks": []}
    assert await manual(alice, {"sectionId": section["id"]}) == ["sectioned"]


async def test_deleting_a_section_keeps_its_tasks_after_the_unsectioned_ones(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, bob, project = await team(http)
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Later"}))["createSection"]
    await new_task(alice, "loose", p=project["id"])
    first = await new_task(alice, "first in section", s=section["id"])
    await new_task(bob, "second in section", s=section["id"])
    sub = await new_task(bob, "sub of first", parent=first["id"])
    assert first["project"] == {"id": project["id"]}
    assert sub["section"] == {"id": section["id"], "name": "Later"}
    in_section = {"sectionId": section["id"], "topLevel": True}
    assert await manual(alice, in_section) == ["first in section", "second in section"]

    deleted = await bob.data("mutation($id: ID!) { deleteSection(id: $id) }", {"id": section["id"]})
    assert deleted["deleteSection"] == section["id"]
    top = {"projectId": project["id"], "topLevel": True}
    assert await manual(alice, top) == ["loose", "first in section", "second in section"]
    assert await manual(alice, {"sectionId": section["id"]}) == []
    moved = await alice.data(
        "query($id: ID!) { task(id: $id) { section { id } parent { title } version } }",
        {"id": sub["id"]},
    )
    assert moved["task"] == {"section": None, "parent": {"title": "first in section"}, "version": 2}
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.outbox.c.type, t.outbox.c.payload).where(
                    t.outbox.c.partition_key.in_([project["id"], first["id"]])
                    | t.outbox.c.payload["data"]["task"]["projectId"].astext.in_([project["id"]]),
                    t.outbox.c.type.in_(
                        ["taskstream.project.section.deleted.v1", "taskstream.task.updated.v1"]
                    ),
                )
            )
        ).all()
    section_events = [r.payload["data"] for r in rows if "section.deleted" in r.type]
    assert [(e["sectionId"], e["movedTaskCount"]) for e in section_events] == [(section["id"], 3)]
    # One task.updated per task moved out of the section, each with the old and new section.
    updates = [r.payload["data"] for r in rows if r.type == "taskstream.task.updated.v1"]
    assert len(updates) == 3
    assert {u["changes"]["sectionId"]["before"] for u in updates} == {section["id"]}
    assert {u["changes"]["sectionId"]["after"] for u in updates} == {None}


async def test_subtasks_nest_four_levels_in_order_and_filter(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    root = await new_task(alice, "level 1")
    chain = [root]
    for level in (2, 3, 4):
        chain.append(await new_task(alice, f"level {level}", parent=chain[-1]["id"]))
    error = await alice.error(CREATE, {"title": "level 5", "parent": chain[-1]["id"]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("parentId:") and "4 levels" in error["message"]
    second = await new_task(alice, "level 2 b", parent=root["id"])
    seen = await alice.data(SUBTASKS, {"id": root["id"]})
    assert seen["task"]["subtasks"] == [
        {"title": "level 2", "parent": {"title": "level 1"}},
        {"title": "level 2 b", "parent": {"title": "level 1"}},
    ]
    assert second["parent"] == {"id": root["id"]}
    assert await manual(alice, {"parentId": root["id"]}) == ["level 2", "level 2 b"]
    assert await manual(alice, {"topLevel": True}) == ["level 1"]
    assert len(await manual(alice, {"topLevel": False})) == 4


async def test_a_subtask_lives_in_its_parents_project_and_section(
    http: httpx.AsyncClient,
) -> None:
    alice, _, project = await team(http)
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Now"}))["createSection"]
    parent = await new_task(alice, "parent", s=section["id"])
    sub = await new_task(alice, "sub", parent=parent["id"])
    assert (sub["project"], sub["section"]["id"]) == ({"id": project["id"]}, section["id"])
    mine = await new_task(alice, "mine")
    error = await alice.error(CREATE, {"title": "x", "parent": mine["id"], "p": project["id"]})
    assert (error["extensions"]["code"], error["message"][:10]) == ("BAD_USER_INPUT", "projectId:")
    other = (await alice.data(SECTION, {"p": project["id"], "n": "Other"}))["createSection"]
    error = await alice.error(CREATE, {"title": "x", "parent": parent["id"], "s": other["id"]})
    assert (error["extensions"]["code"], error["message"][:10]) == ("BAD_USER_INPUT", "sectionId:")
    assert await manual(alice, {"parentId": parent["id"]}) == ["sub"]


async def test_completing_or_deleting_a_parent_takes_its_subtasks(
    http: httpx.AsyncClient,
) -> None:
    alice, _ = await new_user(http)
    parent = await new_task(alice, "parent")
    child = await new_task(alice, "child", parent=parent["id"])
    grandchild = await new_task(alice, "grandchild", parent=child["id"])
    await alice.data("mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": parent["id"]})
    status = "query($id: ID!) { task(id: $id) { status } }"
    for task in (child, grandchild):
        assert (await alice.data(status, {"id": task["id"]}))["task"] == {"status": "DONE"}
    await alice.data("mutation($id: ID!) { deleteTask(id: $id) }", {"id": parent["id"]})
    for task in (parent, child, grandchild):
        assert (await alice.data(status, {"id": task["id"]}))["task"] is None


async def test_moving_between_siblings_rewrites_no_other_task(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    a, b, c = [await new_task(alice, name) for name in ("a", "b", "c")]
    moved = await move(alice, c["id"], after=a["id"], v=1)
    assert a["position"] < moved["position"] < b["position"]
    assert moved["version"] == 2
    assert await manual(alice, {"inbox": True}) == ["a", "c", "b"]
    moved = await move(alice, a["id"], before=b["id"])
    assert await manual(alice, {"inbox": True}) == ["c", "a", "b"]
    positions = await alice.data(
        "query($a: ID!, $b: ID!) { a: task(id: $a) { position version } "
        "b: task(id: $b) { position version } }",
        {"a": b["id"], "b": c["id"]},
    )
    # Neither neighbour was rewritten.
    assert positions["a"] == {"position": b["position"], "version": 1}
    stale = await alice.error(MOVE, {"id": c["id"], "after": b["id"], "v": 1})
    assert stale["extensions"]["code"] == "CONFLICT"
    assert await manual(alice, {"inbox": True}) == ["c", "a", "b"]


async def test_manual_order_pages_with_cursors(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    for name in ("one", "two", "three", "four", "five"):
        await new_task(alice, name)
    seen, after = [], None
    while True:
        page = (await alice.data(MANUAL, {"f": {"inbox": True}, "first": 2, "after": after}))[
            "tasks"
        ]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["one", "two", "three", "four", "five"]


async def test_impossible_moves_are_refused_and_change_nothing(http: httpx.AsyncClient) -> None:
    alice, _, project = await team(http)
    parent = await new_task(alice, "parent")
    child = await new_task(alice, "child", parent=parent["id"])
    grandchild = await new_task(alice, "grandchild", parent=child["id"])
    other = await new_task(alice, "other")
    deep = [await new_task(alice, "deep 1")]
    for level in (2, 3):
        deep.append(await new_task(alice, f"deep {level}", parent=deep[-1]["id"]))
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Here"}))["createSection"]
    sectioned = await new_task(alice, "sectioned", s=section["id"])
    in_section_sub = await new_task(alice, "in section sub", parent=sectioned["id"])
    refused = [
        ({"id": parent["id"], "parent": grandchild["id"]}, "BAD_USER_INPUT", "parentId:"),
        ({"id": parent["id"], "parent": parent["id"]}, "BAD_USER_INPUT", "parentId:"),
        ({"id": other["id"], "p": project["id"], "inbox": True}, "BAD_USER_INPUT", "toInbox:"),
        (
            {"id": sectioned["id"], "s": section["id"], "nosec": True},
            "BAD_USER_INPUT",
            "toNoSection:",
        ),
        ({"id": in_section_sub["id"], "nosec": True}, "BAD_USER_INPUT", "toTopLevel:"),
        (
            {"id": other["id"], "nosec": True, "parent": sectioned["id"]},
            "BAD_USER_INPUT",
            "toNoSection:",
        ),
        ({"id": other["id"], "parent": parent["id"], "top": True}, "BAD_USER_INPUT", "toTopLevel:"),
        ({"id": child["id"], "p": project["id"]}, "BAD_USER_INPUT", "toTopLevel:"),
        ({"id": other["id"], "after": child["id"]}, "BAD_USER_INPUT", "afterId:"),
        ({"id": other["id"], "after": other["id"]}, "BAD_USER_INPUT", "afterId:"),
        (
            {"id": other["id"], "after": deep[0]["id"], "before": parent["id"]},
            "BAD_USER_INPUT",
            "beforeId:",
        ),
        # parent (3 levels) under deep 3 (level 3) would reach 6 levels.
        ({"id": parent["id"], "parent": deep[-1]["id"]}, "BAD_USER_INPUT", "parentId:"),
    ]
    snapshot = (
        "query { tasks(first: 200) { edges { node { id version position parent { id } } } } }"
    )
    before = await alice.data(snapshot)
    for variables, code, prefix in refused:
        error = await alice.error(MOVE, variables)
        assert (error["extensions"]["code"], error["message"][: len(prefix)]) == (code, prefix), (
            variables,
            error,
        )
    assert await alice.data(snapshot) == before


async def test_moves_check_the_role_on_both_projects_and_take_the_subtree(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, editing = await team(http)
    viewing = await create(alice, "Read only")
    me = (await bob.data("{ me { email } }"))["me"]
    await join(alice, bob, viewing["id"], me["email"], "VIEWER")
    shared = await new_task(alice, "shared", p=editing["id"])
    sub = await new_task(alice, "shared sub", parent=shared["id"])
    read_only = await new_task(alice, "read only", p=viewing["id"])
    for variables in (
        {"id": shared["id"], "p": viewing["id"]},
        {"id": read_only["id"], "p": editing["id"]},
        {"id": read_only["id"], "inbox": True},
    ):
        error = await bob.error(MOVE, variables)
        assert error["extensions"]["code"] == "FORBIDDEN", (variables, error)

    # Bob takes the shared task (and its subtask) into his own inbox: Alice no longer sees it.
    taken = await move(bob, shared["id"], inbox=True)
    assert taken["project"] is None
    assert await manual(bob, {"inbox": True, "topLevel": True}) == ["shared"]
    assert await manual(bob, {"parentId": shared["id"]}) == ["shared sub"]
    look = "query($id: ID!) { task(id: $id) { id } }"
    for task in (shared, sub):
        assert (await alice.data(look, {"id": task["id"]}))["task"] is None
    # And back into the project, where Alice sees both again.
    back = await move(bob, shared["id"], p=editing["id"])
    assert back["project"] == {"id": editing["id"]}
    assert await manual(alice, {"projectId": editing["id"], "topLevel": True}) == ["shared"]
    assert (await alice.data(SUBTASKS, {"id": shared["id"]}))["task"]["subtasks"] == [
        {"title": "shared sub", "parent": {"title": "shared"}}
    ]


async def test_a_move_emits_one_update_with_the_old_and_new_place(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _, project = await team(http)
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Here"}))["createSection"]
    await new_task(alice, "already there", s=section["id"])
    task = await new_task(alice, "mine")
    moved = await move(alice, task["id"], s=section["id"])
    assert moved["position"] != task["position"]
    rows = await task_updates(engine, t.outbox.c.payload["subject"].astext == task["id"])
    assert len(rows) == 1
    data = rows[0]["data"]
    assert data["changes"] == {
        "projectId": {"before": None, "after": project["id"]},
        "sectionId": {"before": None, "after": section["id"]},
        "position": {"before": task["position"], "after": moved["position"]},
    }
    assert (data["task"]["projectId"], data["task"]["sectionId"]) == (project["id"], section["id"])


async def test_concurrent_moves_into_one_gap_both_apply_and_converge(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, project = await team(http)
    first = await new_task(alice, "first", p=project["id"])
    last = await new_task(alice, "last", p=project["id"])
    movers = [await new_task(alice, f"m{i}", p=project["id"]) for i in range(8)]
    # Pairs of members move two tasks into the same gap at once, four times.
    for left, right in zip(movers[::2], movers[1::2], strict=True):
        results = await asyncio.gather(
            alice.execute(MOVE, {"id": left["id"], "after": first["id"], "before": last["id"]}),
            bob.execute(MOVE, {"id": right["id"], "after": first["id"], "before": last["id"]}),
        )
        assert all("errors" not in r for r in results), results
    listing = {"projectId": project["id"], "topLevel": True}
    seen_by_alice, seen_by_bob = await manual(alice, listing), await manual(bob, listing)
    assert seen_by_alice == seen_by_bob
    assert seen_by_alice[0] == "first" and seen_by_alice[-1] == "last"
    assert sorted(seen_by_alice[1:-1]) == sorted(m["title"] for m in movers)
    positions = await alice.data(MANUAL, {"f": listing, "first": 200})
    keys = [e["node"]["position"] for e in positions["tasks"]["edges"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


async def test_subtasks_of_a_page_load_in_one_statement_per_level(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    from tests.e2e.test_statement_count import StatementCounter

    alice, _ = await new_user(http)
    for i in range(6):
        parent = await new_task(alice, f"parent {i}")
        child = await new_task(alice, f"child {i}", parent=parent["id"])
        await new_task(alice, f"grandchild {i}", parent=child["id"])
    query = (
        "{ tasks(first: 6, filter: {topLevel: true}) { edges { node { title "
        "subtasks { title parent { title } subtasks { title } } } } } }"
    )
    await alice.data("{ tasks(first: 1) { edges { cursor } } }")
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    try:
        data = await alice.data(query)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)
    nodes = [e["node"] for e in data["tasks"]["edges"]]
    assert len(nodes) == 6
    assert all(n["subtasks"][0]["parent"] == {"title": n["title"]} for n in nodes)
    assert [n["subtasks"][0]["subtasks"][0]["title"] for n in nodes] == [
        f"grandchild {i}" for i in range(6)
    ]
    subtask_reads = [s for s in counter.statements if "parent_id IN" in s]
    # One batch per level (children, then grandchildren), whatever the page size.
    assert len(subtask_reads) == 2, counter.statements


async def test_a_full_parent_takes_no_more_subtasks(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    from datetime import UTC, datetime
    from uuid import UUID, uuid4

    from sqlalchemy import insert

    from gateway_core.domain.sections import SUBTASKS_MAX

    alice, account = await new_user(http)
    parent = await new_task(alice, "full")
    loose = await new_task(alice, "loose")
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(t.tasks),
            [
                {
                    "id": uuid4(),
                    "user_id": UUID(account["id"]),
                    "title": f"sub {i}",
                    "notes": "",
                    "status": "OPEN",
                    "priority": 0,
                    "instance_number": 1,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "parent_id": UUID(parent["id"]),
                }
                for i in range(SUBTASKS_MAX)
            ],
        )
    error = await alice.error(CREATE, {"title": "one more", "parent": parent["id"]})
    assert (error["extensions"]["code"], error["message"][:9]) == ("BAD_USER_INPUT", "parentId:")
    assert f"at most {SUBTASKS_MAX} direct subtasks" in error["message"]
    error = await alice.error(MOVE, {"id": loose["id"], "parent": parent["id"]})
    assert (error["extensions"]["code"], error["message"][:9]) == ("BAD_USER_INPUT", "parentId:")
    assert len(await manual(alice, {"parentId": parent["id"]})) == SUBTASKS_MAX


async def test_a_subtask_created_while_its_parent_is_deleted_is_never_orphaned(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, project = await team(http)
    for round in range(6):
        parent = await new_task(alice, f"parent {round}", p=project["id"])
        created, deleted = await asyncio.gather(
            bob.execute(CREATE, {"title": f"child {round}", "parent": parent["id"]}),
            alice.execute("mutation($id: ID!) { deleteTask(id: $id) }", {"id": parent["id"]}),
        )
        assert "errors" not in deleted, deleted
        if "errors" in created:
            # The parent was gone first: answered like any missing task.
            assert [e["extensions"]["code"] for e in created["errors"]] == ["NOT_FOUND"]
        else:
            # The child came first: the deletion took it along.
            child = created["data"]["createTask"]["id"]
            look = await alice.data("query($id: ID!) { task(id: $id) { id } }", {"id": child})
            assert look["task"] is None
    assert await manual(alice, {"projectId": project["id"]}) == []


async def test_a_removed_member_reaches_no_structure_of_the_project(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, project = await team(http)
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Ours"}))["createSection"]
    task = await new_task(alice, "ours", s=section["id"])
    sibling = await new_task(alice, "ours too", s=section["id"])
    own = await new_task(bob, "bob's")
    members = await alice.data(
        "query($p: ID!) { project(id: $p) { members { user { id } role } } }", {"p": project["id"]}
    )
    bob_id = next(m["user"]["id"] for m in members["project"]["members"] if m["role"] == "EDITOR")
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": bob_id},
    )
    refused = [
        (SECTION, {"p": project["id"], "n": "mine"}),
        ('mutation($id: ID!) { renameSection(id: $id, name: "x") { id } }', {"id": section["id"]}),
        ("mutation($id: ID!) { deleteSection(id: $id) }", {"id": section["id"]}),
        (CREATE, {"title": "sneak", "s": section["id"]}),
        (CREATE, {"title": "sneak", "parent": task["id"]}),
        (MOVE, {"id": task["id"], "inbox": True}),
        (MOVE, {"id": own["id"], "p": project["id"]}),
        (MOVE, {"id": own["id"], "s": section["id"]}),
        (MOVE, {"id": own["id"], "parent": task["id"]}),
        (MOVE, {"id": own["id"], "after": task["id"]}),
        (MOVE, {"id": own["id"], "before": sibling["id"]}),
        (MOVE, {"id": task["id"], "nosec": True}),
    ]
    for query, variables in refused:
        error = await bob.error(query, variables)
        assert error["extensions"]["code"] == "NOT_FOUND", (variables, error)
    assert await manual(bob, {"sectionId": section["id"]}) == []
    assert await manual(bob, {"parentId": task["id"]}) == []
    assert await manual(alice, {"sectionId": section["id"]}) == ["ours", "ours too"]
    state = await alice.data(
        "query($p: ID!, $t: ID!) { project(id: $p) { sections { name } } "
        "task(id: $t) { version subtasks { id } } }",
        {"p": project["id"], "t": task["id"]},
    )
    assert state == {
        "project": {"sections": [{"name": "Ours"}]},
        "task": {"version": 1, "subtasks": []},
    }


async def test_a_task_moved_into_a_section_being_deleted_is_kept(
    http: httpx.AsyncClient,
) -> None:
    alice, bob, project = await team(http)
    for round in range(6):
        section = (await alice.data(SECTION, {"p": project["id"], "n": f"s{round}"}))[
            "createSection"
        ]
        task = await new_task(bob, f"task {round}", p=project["id"])
        moved, deleted = await asyncio.gather(
            bob.execute(MOVE, {"id": task["id"], "s": section["id"]}),
            alice.execute("mutation($id: ID!) { deleteSection(id: $id) }", {"id": section["id"]}),
        )
        assert "errors" not in deleted, deleted
        if "errors" in moved:
            assert [e["extensions"]["code"] for e in moved["errors"]] == ["NOT_FOUND"]
        kept = await alice.data(
            "query($id: ID!) { task(id: $id) { project { id } section { id } } }",
            {"id": task["id"]},
        )
        assert kept["task"] == {"project": {"id": project["id"]}, "section": None}


PLACES = (
    "query($p: ID!) { tasks(filter: {projectId: $p, topLevel: true}, first: 200, "
    "orderBy: [{field: MANUAL}]) { edges { node { title section { id } } } } }"
)


async def unsectioned(client: GraphQLClient, project_id: str) -> list[str]:
    """Titles of the project's top-level tasks without a section, in manual order."""
    edges = (await client.data(PLACES, {"p": project_id}))["tasks"]["edges"]
    return [e["node"]["title"] for e in edges if e["node"]["section"] is None]


async def test_to_no_section_keeps_the_task_and_its_subtasks_in_the_project(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, bob, project = await team(http)
    section = (await alice.data(SECTION, {"p": project["id"], "n": "Doing"}))["createSection"]
    first = await new_task(alice, "loose 1", p=project["id"])
    await new_task(alice, "loose 2", p=project["id"])
    leaving = await new_task(alice, "leaving", s=section["id"])
    sub = await new_task(alice, "leaving sub", parent=leaving["id"])
    placed = await new_task(alice, "placed", s=section["id"])
    await new_task(alice, "staying", s=section["id"])

    moved = await move(bob, leaving["id"], nosec=True, v=1)
    assert (moved["project"], moved["section"]) == ({"id": project["id"]}, None)
    # At the end of the unsectioned top-level tasks; its subtask follows it.
    assert await unsectioned(alice, project["id"]) == ["loose 1", "loose 2", "leaving"]
    sub_now = await alice.data(
        "query($id: ID!) { task(id: $id) { section { id } } }", {"id": sub["id"]}
    )
    assert sub_now["task"]["section"] is None
    assert await manual(alice, {"sectionId": section["id"], "topLevel": True}) == [
        "placed",
        "staying",
    ]
    # afterId places it among the unsectioned tasks.
    await move(alice, placed["id"], nosec=True, after=first["id"])
    assert await unsectioned(alice, project["id"]) == ["loose 1", "placed", "loose 2", "leaving"]
    # Moving a task already without a section changes nothing.
    again = await move(alice, leaving["id"], nosec=True)
    assert again["version"] == moved["version"]
    rows = await task_updates(
        engine, t.outbox.c.payload["subject"].astext.in_([leaving["id"], sub["id"]])
    )
    assert len(rows) == 2
    assert {r["subject"]: r["data"]["changes"]["sectionId"] for r in rows} == {
        task_id: {"before": section["id"], "after": None} for task_id in (leaving["id"], sub["id"])
    }


async def test_many_moves_into_one_gap_rebalance_the_keys_around_it_and_keep_the_order(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, bob, project = await team(http)
    titles = [f"t{i:02}" for i in range(40)]
    tasks = {title: await new_task(alice, title, p=project["id"]) for title in titles}
    first, ping, pong = tasks["t19"], tasks["t20"], tasks["t21"]
    expected = list(titles)
    # Each move lands right after t19, halving the same gap: far past REBALANCE_AT's length.
    moves = REBALANCE_AT * 6 + 150
    for step in range(moves):
        mover = (ping, pong)[step % 2]
        client = (alice, bob)[step % 2]
        moved = await move(client, mover["id"], after=first["id"])
        assert len(moved["position"]) <= REBALANCE_AT, (step, moved["position"])
        expected.remove(mover["title"])
        expected.insert(expected.index("t19") + 1, mover["title"])
        if step % 100 == 0 or step == moves - 1:
            assert await manual(bob, {"projectId": project["id"], "topLevel": True}) == expected
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(t.tasks.c.id, t.tasks.c.position, t.tasks.c.version).where(
                    t.tasks.c.project_id == project["id"]
                )
            )
        ).all()
    updates = await task_updates(
        engine, t.outbox.c.payload["data"]["task"]["projectId"].astext == project["id"]
    )
    # Siblings other than the two movers were rewritten (each with its event) ...
    rebalanced = {str(r.id) for r in rows if r.version > 1} - {ping["id"], pong["id"]}
    assert rebalanced
    assert max(len(r.position) for r in rows) <= REBALANCE_AT
    # ... and a client applying the events in order ends with the database's positions.
    replayed = {task["id"]: task["position"] for task in tasks.values()}
    for change in updates:
        replayed[change["subject"]] = change["data"]["task"]["position"]
    assert replayed == {str(r.id): r.position for r in rows}
