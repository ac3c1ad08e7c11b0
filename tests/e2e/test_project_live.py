"""taskEvents of a shared project's tasks reach every member, and stop at once on removal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe

pytestmark = pytest.mark.e2e

__all__ = ["server"]


async def invite_and_accept(
    owner: GraphQLClient, member: GraphQLClient, project_id: str, email: str, role: str = "EDITOR"
) -> None:
    """`member` (whose address is `email`) joins the project with `role`: invited, accepted."""
    invitation = (
        await owner.data(
            "mutation($p: ID!, $e: String!, $r: ProjectRole!) { inviteToProject(projectId: $p, "
            "email: $e, role: $r) { id } }",
            {"p": project_id, "e": email, "r": role},
        )
    )["inviteToProject"]
    await member.data(
        "mutation($i: ID!) { acceptInvitation(id: $i) { id } }", {"i": invitation["id"]}
    )


async def share_project(
    owner: GraphQLClient, member: GraphQLClient, *, role: str = "EDITOR", name: str = "Live"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new project of `owner` that `member` joined with `role`: the project (its id) and the
    member (id and email)."""
    me: dict[str, Any] = (await member.data("{ me { id email } }"))["me"]
    project: dict[str, Any] = (
        await owner.data("mutation($n: String!) { createProject(name: $n) { id } }", {"n": name})
    )["createProject"]
    await invite_and_accept(owner, member, project["id"], me["email"], role)
    return project, me


async def test_project_task_events_reach_members_until_they_are_removed(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    project, bob_me = await share_project(alice, bob)
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    carol_ws = await subscribe(server, carol_token, TASK_EVENTS)
    task = (
        await alice.data(
            'mutation($p: ID) { createTask(input: {title: "together", projectId: $p}) { id } }',
            {"p": project["id"]},
        )
    )["createTask"]
    seen = (await receive(bob_ws))["payload"]["data"]["taskEvents"]
    assert (seen["kind"], seen["taskId"], seen["task"]) == (
        "CREATED",
        task["id"],
        {"title": "together", "version": 1},
    )
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": bob_me["id"]},
    )
    await alice.data(
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "without bob"}) { id } }',
        {"id": task["id"]},
    )
    # Events reach a subscription in commit order: Bob's own change, made after Alice's, is
    # the next thing he gets, so Alice's change after his removal never reached him.
    mine = (await bob.data('mutation { createTask(input: {title: "bob alone"}) { id } }'))[
        "createTask"
    ]
    after = (await receive(bob_ws))["payload"]["data"]["taskEvents"]
    assert (after["kind"], after["taskId"]) == ("CREATED", mine["id"])
    # Carol, never a member, got none of the project's events: her own change comes first.
    hers = (await carol.data('mutation { createTask(input: {title: "carol"}) { id } }'))[
        "createTask"
    ]
    first = (await receive(carol_ws))["payload"]["data"]["taskEvents"]
    assert first["taskId"] == hers["id"]
    for ws in (bob_ws, carol_ws):
        await ws.close()
    for http in (alice_http, bob_http, carol_http):
        await http.aclose()


PROJECT_EVENTS = "subscription { projectEvents { kind projectId project { myRole } } }"


async def next_project_event(ws: Any) -> dict[str, Any]:
    """The next projectEvents payload on the socket."""
    event: dict[str, Any] = (await receive(ws))["payload"]["data"]["projectEvents"]
    return event


async def test_project_events_follow_membership(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    me = (await bob.data("{ me { id email } }"))["me"]
    bob_ws = await subscribe(server, bob_token, PROJECT_EVENTS)
    project = (await alice.data('mutation { createProject(name: "Live") { id } }'))["createProject"]
    invitation = (
        await alice.data(
            "mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, "
            "role: VIEWER) { id } }",
            {"p": project["id"], "e": me["email"]},
        )
    )["inviteToProject"]
    # Invited: Bob is told though not a member yet (the project stays hidden from him).
    assert await next_project_event(bob_ws) == {
        "kind": "INVITED",
        "projectId": project["id"],
        "project": None,
    }
    await bob.data("mutation($i: ID!) { acceptInvitation(id: $i) { id } }", {"i": invitation["id"]})
    added = await next_project_event(bob_ws)
    assert (added["kind"], added["project"]) == ("MEMBER_ADDED", {"myRole": "VIEWER"})
    assert (await next_project_event(bob_ws))["kind"] == "INVITED"  # the answer
    await alice.data(
        "mutation($p: ID!, $u: ID!) { changeMemberRole(projectId: $p, userId: $u, role: EDITOR) "
        "{ id } }",
        {"p": project["id"], "u": me["id"]},
    )
    changed = await next_project_event(bob_ws)
    assert (changed["kind"], changed["project"]) == ("ROLE_CHANGED", {"myRole": "EDITOR"})
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": me["id"]},
    )
    assert await next_project_event(bob_ws) == {
        "kind": "MEMBER_REMOVED",
        "projectId": project["id"],
        "project": None,
    }
    await alice.data(
        'mutation($p: ID!) { updateProject(id: $p, name: "Renamed") { id } }', {"p": project["id"]}
    )
    # In commit order, Bob's own new project comes next: Alice's rename never reached him.
    mine = (await bob.data('mutation { createProject(name: "Bob") { id } }'))["createProject"]
    own = await next_project_event(bob_ws)
    assert (own["kind"], own["projectId"]) == ("MEMBER_ADDED", mine["id"])
    await bob_ws.close()
    for http in (alice_http, bob_http):
        await http.aclose()
