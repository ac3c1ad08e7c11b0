"""Delivery checks membership from a per-replica cache: one read per subscriber and project
instead of one per event, and a removal still stops the removed member's events at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.live import MembershipCache
from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe
from tests.e2e.test_project_live import invite_and_accept, share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

UPDATES = 4
PROJECT_EVENTS = "subscription { projectEvents { kind } }"


class MembershipReads:
    """Counts the delivery-time membership reads (projects.is_member) sent to PostgreSQL."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        flat = " ".join(statement.split())
        if (
            flat.startswith("SELECT gateway.project_members.role FROM gateway.project_members")
            and "FOR SHARE" not in flat
        ):
            self.count += 1


@pytest.fixture
def reads(engine: AsyncEngine) -> Iterator[MembershipReads]:
    """The membership read counter on the engine the server uses."""
    counting = MembershipReads()
    event.listen(engine.sync_engine, "before_cursor_execute", counting)
    yield counting
    event.remove(engine.sync_engine, "before_cursor_execute", counting)


async def task_event(ws: Any) -> dict[str, Any]:
    """The next taskEvents payload."""
    payload: dict[str, Any] = (await receive(ws))["payload"]["data"]["taskEvents"]
    return payload


async def project_task(owner: GraphQLClient, project_id: str) -> dict[str, Any]:
    """A new task of the project, created by `owner`."""
    task: dict[str, Any] = (
        await owner.data(
            'mutation($p: ID) { createTask(input: {title: "t", projectId: $p}) { id } }',
            {"p": project_id},
        )
    )["createTask"]
    return task


async def round_of_updates(
    alice: GraphQLClient, carol: GraphQLClient, bob_ws: Any, carol_ws: Any, task_id: str
) -> None:
    """Alice changes the project's task UPDATES times; both subscriptions have seen them all
    (Bob receives each; Carol, not a member, receives her own change made afterwards)."""
    for index in range(UPDATES):
        await alice.data(
            "mutation($id: ID!, $t: String!) { updateTask(id: $id, input: {title: $t}) { id } }",
            {"id": task_id, "t": f"round {index}"},
        )
    for _ in range(UPDATES):
        seen = await task_event(bob_ws)
        assert (seen["kind"], seen["taskId"]) == ("UPDATED", task_id)
    await carol_has_seen_everything(carol, carol_ws)


async def carol_has_seen_everything(carol: GraphQLClient, carol_ws: Any) -> None:
    """Carol's subscription has handled every event so far: her own change, made after them,
    reaches her (events reach a subscription in commit order)."""
    hers = (await carol.data('mutation { createTask(input: {title: "carol"}) { id } }'))[
        "createTask"
    ]
    assert (await task_event(carol_ws))["taskId"] == hers["id"]


async def test_membership_is_read_once_per_subscriber_and_project(
    server: str, reads: MembershipReads, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice_token, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    project, me = await share_project(alice, bob, name="Cache")
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    carol_ws = await subscribe(server, carol_token, TASK_EVENTS)
    task = await project_task(alice, project["id"])
    assert (await task_event(bob_ws))["kind"] == "CREATED"
    await carol_has_seen_everything(carol, carol_ws)

    # Without the cache (as before it): one read per member's subscription and event (Carol,
    # not a member, is never offered the project's events: the hub's project index).
    with monkeypatch.context() as patched:
        patched.setattr(MembershipCache, "get", lambda *_: None)
        patched.setattr(MembershipCache, "put", lambda *_: None)
        reads.count = 0
        await round_of_updates(alice, carol, bob_ws, carol_ws, task["id"])
        uncached = reads.count
    # Someone joins: the project's cached memberships are forgotten, the next round starts cold
    # (once the join's own events have gone by: they forget the project again).
    alice_ws = await subscribe(server, alice_token, PROJECT_EVENTS)
    _, dave, dave_http = await account(server)
    dave_me = (await dave.data("{ me { email } }"))["me"]
    await invite_and_accept(alice, dave, project["id"], dave_me["email"])
    kinds = [(await receive(alice_ws))["payload"]["data"]["projectEvents"]["kind"] for _ in "123"]
    assert kinds == ["INVITED", "MEMBER_ADDED", "INVITED"]
    await alice_ws.close()
    # With the cache: one read per member's subscription, whatever the number of events.
    reads.count = 0
    await round_of_updates(alice, carol, bob_ws, carol_ws, task["id"])
    cached = reads.count
    assert (uncached, cached) == (UPDATES, 1)

    # Bob's membership is cached as true; his removal must still stop the project's events.
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": me["id"]},
    )
    await alice.data(
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "without bob"}) { id } }',
        {"id": task["id"]},
    )
    mine = (await bob.data('mutation { createTask(input: {title: "bob alone"}) { id } }'))[
        "createTask"
    ]
    assert (await task_event(bob_ws))["taskId"] == mine["id"]
    for ws in (bob_ws, carol_ws):
        await ws.close()
    for http in (alice_http, bob_http, carol_http, dave_http):
        await http.aclose()
