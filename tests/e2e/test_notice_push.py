"""In-app notices that no reminder announces reach the recipient's `notifications`
subscription live in `up` (gateway → outbox → notifications → its outbox → gateway-live →
the socket), not only on the next reload: "assigned to you", and an invitation to a project."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import account, receive, server, subscribe
from tests.e2e.test_project_live import share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

NOTIFICATIONS = "subscription { notifications { id taskId title body channel readAt } }"
INBOX = "{ notifications(first: 50) { edges { node { id taskId title } } } }"
ASSIGNED = (
    "mutation($p: ID, $a: ID) { createTask(input: "
    '{title: "Ship it", projectId: $p, assigneeId: $a}) { id } }'
)
INVITE = (
    "mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, email: $e, "
    "role: VIEWER) { id } }"
)


async def pushed(ws: ClientConnection) -> dict[str, Any]:
    """The next notification the subscription pushes (the contract's 2 s, with room)."""
    message = await receive(ws, seconds=10.0)
    assert message["type"] == "next", message
    notification: dict[str, Any] = message["payload"]["data"]["notifications"]
    return notification


async def inbox(client: GraphQLClient) -> list[dict[str, Any]]:
    """The caller's stored notifications, newest first (what a reload shows)."""
    page = (await client.data(INBOX))["notifications"]
    return [edge["node"] for edge in page["edges"]]


async def test_an_assignment_notice_is_pushed_to_the_assignee_live(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    project, me = await share_project(alice, bob, name="Launch")
    # The invitation's notice to bob is written by the notifications worker after the invite
    # returns: once it is stored, the first push bob's socket gets is the assignment's.
    async with asyncio.timeout(10):
        while not await inbox(bob):
            await asyncio.sleep(0.1)
    bob_ws = await subscribe(server, bob_token, NOTIFICATIONS)
    task = (await alice.data(ASSIGNED, {"p": project["id"], "a": me["id"]}))["createTask"]
    notification = await pushed(bob_ws)
    assert notification == {
        "id": notification["id"],
        "taskId": task["id"],
        "title": "Assigned to you: Ship it",
        "body": "A task in a shared project was assigned to you.",
        "channel": "IN_APP",
        "readAt": None,
    }
    # The very notification a reload shows.
    assert (await inbox(bob))[0] == {
        "id": notification["id"],
        "taskId": task["id"],
        "title": "Assigned to you: Ship it",
    }
    await bob_ws.close()
    for http in (alice_http, bob_http):
        await http.aclose()


async def test_an_invitation_is_pushed_to_an_invitee_with_an_account_live(server: str) -> None:
    _, alice, alice_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    carol_email = (await carol.data("{ me { email } }"))["me"]["email"]
    project = (await alice.data('mutation { createProject(name: "Garden") { id } }'))[
        "createProject"
    ]
    carol_ws = await subscribe(server, carol_token, NOTIFICATIONS)
    await alice.data(INVITE, {"p": project["id"], "e": carol_email})
    notification = await pushed(carol_ws)
    assert notification["taskId"] is None and notification["channel"] == "IN_APP"
    assert "\u201cGarden\u201d" in notification["title"]
    assert "a viewer (read only)" in notification["body"]
    assert [n["id"] for n in await inbox(carol)] == [notification["id"]]
    # Alice, who invited, is notified of nothing.
    assert await inbox(alice) == []
    await carol_ws.close()
    for http in (alice_http, carol_http):
        await http.aclose()
