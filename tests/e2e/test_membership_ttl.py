"""A replica trusts a cached project membership for a limited time only: with the broadcast
of a removal lost, the removed member stops receiving the project's events within the
membership's time to live (TASKSTREAM_LIVE_MEMBERSHIP_TTL_SECONDS)."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway_core.live import MembershipCache, ProjectIndex
from taskstream.settings import Settings
from tests.e2e.test_live_updates import TASK_EVENTS, account, server, subscribe
from tests.e2e.test_membership_cache import (
    carol_has_seen_everything,
    project_task,
    task_event,
)
from tests.e2e.test_project_live import share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

TTL = 2.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings with a short membership time to live."""
    return settings.model_copy(update={"live_membership_ttl_seconds": TTL})


async def test_a_removed_member_stops_receiving_within_the_ttl_when_the_broadcast_is_lost(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    project, me = await share_project(alice, bob, name="TTL")
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    task = await project_task(alice, project["id"])
    # Delivered: Bob's membership is now cached on the replica as true.
    assert (await task_event(bob_ws))["kind"] == "CREATED"
    cached_at = time.monotonic()

    # The broadcast is lost: neither the committing replica's forgetProject nor the removal's
    # own event makes the replica forget what it cached, nor reach its project index (which
    # would otherwise stop offering Bob the project's events at once).
    monkeypatch.setattr(MembershipCache, "forget", lambda *_: None)
    monkeypatch.setattr(ProjectIndex, "changed", lambda *_: None)
    await alice.data(
        "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
        {"p": project["id"], "u": me["id"]},
    )
    await asyncio.sleep(max(0.0, cached_at + TTL + 0.2 - time.monotonic()))
    await alice.data(
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "after the ttl"}) { id } }',
        {"id": task["id"]},
    )
    # Bob's own change, made after Alice's, is the next event he gets: hers never came.
    await carol_has_seen_everything(bob, bob_ws)
    await bob_ws.close()
    for http in (alice_http, bob_http):
        await http.aclose()
