"""taskEvents of a shared project's tasks reach every member, and stop at once on removal."""

from __future__ import annotations

import pytest

from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe

pytestmark = pytest.mark.e2e

__all__ = ["server"]


async def test_project_task_events_reach_members_until_they_are_removed(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    bob_id = (await bob.data("{ me { id email } }"))["me"]
    project = (await alice.data('mutation { createProject(name: "Live") { id } }'))["createProject"]
    invitation = (
        await alice.data(
            "mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, "
            "role: EDITOR) { id } }",
            {"p": project["id"], "e": bob_id["email"]},
        )
    )["inviteToProject"]
    await bob.data("mutation($i: ID!) { acceptInvitation(id: $i) { id } }", {"i": invitation["id"]})
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
        {"p": project["id"], "u": bob_id["id"]},
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
