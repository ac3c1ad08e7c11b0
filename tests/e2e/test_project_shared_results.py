"""A project's task event is executed once for every member whose document reads nothing of
the viewer, and once per account for a document that does (gateway/shared_streams.py)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe
from tests.e2e.test_project_live import invite_and_accept, share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

# Reads the caller's role in the task's project: never shared.
WITH_ROLE = "subscription { taskEvents { kind taskId task { title project { myRole } } } }"


def shared(outcome: str) -> float:
    """taskstream_live_shared_results_total{outcome} so far."""
    return (
        REGISTRY.get_sample_value("taskstream_live_shared_results_total", {"outcome": outcome})
        or 0.0
    )


async def test_members_share_one_execution_unless_the_document_reads_the_viewer(
    server: str,
) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    project, _ = await share_project(alice, bob)
    carol_me: dict[str, Any] = (await carol.data("{ me { id email } }"))["me"]
    await invite_and_accept(alice, carol, project["id"], carol_me["email"], "VIEWER")
    plain = [await subscribe(server, token, TASK_EVENTS) for token in (bob_token, carol_token)]
    with_role = [await subscribe(server, token, WITH_ROLE) for token in (bob_token, carol_token)]
    executed, reused = shared("executed"), shared("reused")

    task = (
        await alice.data(
            'mutation($p: ID) { createTask(input: {title: "once", projectId: $p}) { id } }',
            {"p": project["id"]},
        )
    )["createTask"]
    payloads = [(await receive(ws))["payload"] for ws in plain]
    assert payloads[0] == payloads[1]
    assert payloads[0]["data"]["taskEvents"]["taskId"] == task["id"]
    roles = [(await receive(ws))["payload"]["data"]["taskEvents"] for ws in with_role]
    assert [event["task"]["project"]["myRole"] for event in roles] == ["EDITOR", "VIEWER"]
    # TASK_EVENTS: one execution for both members; WITH_ROLE is no shared execution at all.
    assert (shared("executed") - executed, shared("reused") - reused) == (1, 1)

    # A personal change is its owner's alone: nothing to share.
    mine = (await bob.data('mutation { createTask(input: {title: "bob alone"}) { id } }'))[
        "createTask"
    ]
    assert (await receive(plain[0]))["payload"]["data"]["taskEvents"]["taskId"] == mine["id"]
    assert (await receive(with_role[0]))["payload"]["data"]["taskEvents"]["taskId"] == mine["id"]
    assert (shared("executed") - executed, shared("reused") - reused) == (1, 1)

    for ws in (*plain, *with_role):
        await ws.close()
    for http in (alice_http, bob_http, carol_http):
        await http.aclose()
