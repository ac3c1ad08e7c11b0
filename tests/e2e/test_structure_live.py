"""Live updates of the structure: section changes on projectEvents, a task moved out of a
project reaches the project's members."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe
from tests.e2e.test_project_live import next_project_event, share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

PROJECT_EVENTS = "subscription { projectEvents { kind projectId project { sections { name } } } }"


async def next_section_change(ws: Any) -> dict[str, Any]:
    """The next SECTION_CHANGED on the socket (membership events of the set-up may come first:
    the relay publishes them after the subscription started)."""
    while (event := await next_project_event(ws))["kind"] != "SECTION_CHANGED":
        assert event["kind"] in ("MEMBER_ADDED", "INVITED"), event
    return event


async def next_task_event(ws: Any, kind: str) -> dict[str, Any]:
    """The next taskEvents payload of this kind (a CREATED of the set-up may come first)."""
    while (event := (await receive(ws))["payload"]["data"]["taskEvents"])["kind"] != kind:
        assert event["kind"] == "CREATED", event
    found: dict[str, Any] = event
    return found


async def test_section_changes_reach_members_as_section_changed(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    project, _ = await share_project(alice, bob, role="VIEWER")
    bob_ws = await subscribe(server, bob_token, PROJECT_EVENTS)
    section = (
        await alice.data(
            'mutation($p: ID!) { createSection(projectId: $p, name: "Next") { id } }',
            {"p": project["id"]},
        )
    )["createSection"]
    assert await next_section_change(bob_ws) == {
        "kind": "SECTION_CHANGED",
        "projectId": project["id"],
        "project": {"sections": [{"name": "Next"}]},
    }
    await alice.data(
        'mutation($s: ID!) { renameSection(id: $s, name: "Soon") { id } }', {"s": section["id"]}
    )
    renamed = await next_section_change(bob_ws)
    assert (renamed["kind"], renamed["project"]) == (
        "SECTION_CHANGED",
        {"sections": [{"name": "Soon"}]},
    )
    await alice.data("mutation($s: ID!) { deleteSection(id: $s) }", {"s": section["id"]})
    deleted = await next_section_change(bob_ws)
    assert (deleted["kind"], deleted["project"]) == ("SECTION_CHANGED", {"sections": []})
    await bob_ws.close()
    for http in (alice_http, bob_http):
        await http.aclose()


async def test_a_task_moved_out_of_a_project_reaches_its_members(server: str) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    project, _ = await share_project(alice, bob)
    task = (
        await alice.data(
            'mutation($p: ID) { createTask(input: {title: "leaving", projectId: $p}) { id } }',
            {"p": project["id"]},
        )
    )["createTask"]
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    await alice.data(
        "mutation($id: ID!) { moveTask(id: $id, toInbox: true) { id } }", {"id": task["id"]}
    )
    seen = await next_task_event(bob_ws, "UPDATED")
    assert (seen["kind"], seen["taskId"], seen["version"]) == ("UPDATED", task["id"], 2)
    await bob_ws.close()
    for http in (alice_http, bob_http):
        await http.aclose()
