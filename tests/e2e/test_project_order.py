"""Each member's own order of their projects (moveProject): stored per membership, answered by
`projects`, refused as NOT_FOUND outside the caller's projects, followed live by the member's
other windows only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.positions import REBALANCE_AT
from gateway_core.persistence import tables as t
from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import account, server, subscribe
from tests.e2e.test_project_live import next_project_event
from tests.e2e.test_projects import create, join, new_user

pytestmark = pytest.mark.e2e

__all__ = ["server"]

MOVE = (
    "mutation($id: ID!, $after: ID, $before: ID) { moveProject(id: $id, afterId: $after, "
    "beforeId: $before) { id name myRole } }"
)
NAMES = "{ projects { name } }"


async def names(client: GraphQLClient) -> list[str]:
    """The client's projects' names in the order `projects` answers."""
    return [p["name"] for p in (await client.data(NAMES))["projects"]]


async def move(client: GraphQLClient, project_id: str, **where: str | None) -> dict[str, Any]:
    """The moved project."""
    moved: dict[str, Any] = (await client.data(MOVE, {"id": project_id, **where}))["moveProject"]
    return moved


async def test_each_member_orders_their_own_projects(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    alpha, beta, gamma = [await create(alice, name) for name in ("Alpha", "Beta", "Gamma")]
    for project in (beta, gamma):
        await join(alice, bob, project["id"], b["email"], "VIEWER")
    # Never ordered: by name, as before.
    assert await names(alice) == ["Alpha", "Beta", "Gamma"]

    moved = await move(alice, gamma["id"], before=alpha["id"])
    assert moved == {"id": gamma["id"], "name": "Gamma", "myRole": "OWNER"}
    assert await names(alice) == ["Gamma", "Alpha", "Beta"]
    assert await names(bob) == ["Beta", "Gamma"]
    # A viewer orders their own sidebar too, without touching Alice's.
    await move(bob, gamma["id"], before=beta["id"])
    assert await names(bob) == ["Gamma", "Beta"]
    assert await names(alice) == ["Gamma", "Alpha", "Beta"]

    # A project joined or created later comes after the ordered ones.
    await create(alice, "Aardvark")
    assert await names(alice) == ["Gamma", "Alpha", "Beta", "Aardvark"]
    await move(alice, alpha["id"])
    assert await names(alice) == ["Gamma", "Beta", "Aardvark", "Alpha"]
    await move(alice, beta["id"], after=alpha["id"])
    assert await names(alice) == ["Gamma", "Aardvark", "Alpha", "Beta"]
    await move(alice, beta["id"], after=gamma["id"], before=(await first_named(alice, "Aardvark")))
    assert await names(alice) == ["Gamma", "Beta", "Aardvark", "Alpha"]


async def first_named(client: GraphQLClient, name: str) -> str:
    """The id of the client's project with this name."""
    projects = (await client.data("{ projects { id name } }"))["projects"]
    found: str = next(p["id"] for p in projects if p["name"] == name)
    return found


async def test_bad_moves_are_refused_and_change_nothing(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _ = await new_user(http)
    bob, b = await new_user(http)
    stranger, _ = await new_user(http)
    alpha, beta, gamma = [await create(alice, name) for name in ("Alpha", "Beta", "Gamma")]
    await join(alice, bob, beta["id"], b["email"], "EDITOR")
    own = await create(bob, "Bob's")
    await move(alice, gamma["id"], before=alpha["id"])
    refused = [
        (alice, {"id": alpha["id"], "after": alpha["id"]}, "BAD_USER_INPUT", "afterId:"),
        (alice, {"id": alpha["id"], "before": alpha["id"]}, "BAD_USER_INPUT", "beforeId:"),
        # Both given, not neighbours once alpha is taken out (Gamma, Beta).
        (
            alice,
            {"id": alpha["id"], "after": beta["id"], "before": gamma["id"]},
            "BAD_USER_INPUT",
            "beforeId:",
        ),
        (stranger, {"id": alpha["id"]}, "NOT_FOUND", "project"),
        (bob, {"id": alpha["id"]}, "NOT_FOUND", "project"),
        (bob, {"id": own["id"], "after": alpha["id"]}, "NOT_FOUND", "project"),
        (bob, {"id": own["id"], "before": gamma["id"]}, "NOT_FOUND", "project"),
        (bob, {"id": "not-an-id"}, "NOT_FOUND", "project"),
    ]
    for client, variables, code, prefix in refused:
        error = await client.error(MOVE, variables)
        assert (error["extensions"]["code"], error["message"][: len(prefix)]) == (code, prefix), (
            variables,
            error,
        )
    assert await names(alice) == ["Gamma", "Alpha", "Beta"]
    assert await names(bob) == ["Beta", "Bob's"]
    async with engine.connect() as connection:
        moved = (
            await connection.execute(
                select(t.outbox.c.payload).where(
                    t.outbox.c.type == "taskstream.project.moved.v1",
                    t.outbox.c.payload["data"]["projectId"].astext.in_(
                        [p["id"] for p in (alpha, beta, gamma, own)]
                    ),
                )
            )
        ).all()
    # Only Alice's one move, by her; moving a project where it already is emits nothing.
    assert [(r.payload["data"]["userId"], r.payload["subject"]) for r in moved] == [
        (
            (await alice.data("{ me { id } }"))["me"]["id"],
            gamma["id"],
        )
    ]


async def test_many_moves_into_one_gap_keep_the_order(
    http: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    alice, _ = await new_user(http)
    projects = {name: await create(alice, name) for name in ("a", "b", "c", "d", "e")}
    expected = ["a", "b", "c", "d", "e"]
    # Each move lands right after "b", halving the same gap, past REBALANCE_AT's length.
    moves = REBALANCE_AT * 6 + 50
    for step in range(moves):
        name = ("c", "d")[step % 2]
        await move(alice, projects[name]["id"], after=projects["b"]["id"])
        expected.remove(name)
        expected.insert(expected.index("b") + 1, name)
        if step % 100 == 0:
            assert await names(alice) == expected
    assert await names(alice) == expected
    async with engine.connect() as connection:
        keys = (
            await connection.scalars(
                select(t.project_members.c.sidebar_position).where(
                    t.project_members.c.project_id.in_([p["id"] for p in projects.values()])
                )
            )
        ).all()
    # The keys were given even spacing again on the way (never past the threshold).
    assert max(len(key) for key in keys) <= REBALANCE_AT


async def test_the_members_other_windows_follow_a_move_and_no_one_else(server: str) -> None:
    alice_token, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    me = (await bob.data("{ me { email } }"))["me"]
    first = (await alice.data('mutation { createProject(name: "First") { id } }'))["createProject"]
    shared = (await alice.data('mutation { createProject(name: "Shared") { id } }'))[
        "createProject"
    ]
    await join(alice, bob, shared["id"], me["email"], "EDITOR")
    query = "subscription { projectEvents { kind projectId project { name } } }"
    alice_ws = await subscribe(server, alice_token, query)
    bob_ws = await subscribe(server, bob_token, query)
    await alice.data(MOVE, {"id": shared["id"], "before": first["id"]})
    # A later change of the shared project: Bob's next event is that one, not Alice's move.
    await alice.data(
        'mutation($p: ID!) { createSection(projectId: $p, name: "Next") { id } }',
        {"p": shared["id"]},
    )
    while (seen := await next_project_event(alice_ws))["kind"] != "MOVED":
        assert seen["kind"] in ("MEMBER_ADDED", "INVITED"), seen
    assert seen == {"kind": "MOVED", "projectId": shared["id"], "project": {"name": "Shared"}}
    while (other := await next_project_event(bob_ws))["kind"] != "SECTION_CHANGED":
        assert other["kind"] in ("MEMBER_ADDED", "INVITED"), other
    for ws in (alice_ws, bob_ws):
        await ws.close()
    for client in (alice_http, bob_http):
        await client.aclose()
