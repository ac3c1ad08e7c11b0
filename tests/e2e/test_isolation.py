"""A user sees and changes only their own objects; others' are reported as missing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e


# Webhooks and notifications live in the notifications service, so both users act on the whole
# in-process system rather than on the gateway alone.
@pytest.fixture
async def alice(system: httpx.AsyncClient) -> GraphQLClient:
    """A user of the whole system."""
    client = GraphQLClient(system)
    await client.sign_up()
    return client


@pytest.fixture
async def bob(system: httpx.AsyncClient) -> GraphQLClient:
    """A second, unrelated user of the same system."""
    client = GraphQLClient(system)
    await client.sign_up()
    return client


async def alices_objects(alice: GraphQLClient) -> dict[str, Any]:
    """A task with a tag and a reminder, and a webhook, all Alice's."""
    task = (
        await alice.data(
            'mutation { createTask(input: {title: "secret plan", tags: ["private"], '
            'dueAt: "2030-01-01T00:00:00Z", recurrence: {rule: "FREQ=DAILY"}, '
            "reminders: [{beforeDue: 5}]}) { id tags { id } reminders { id } } }"
        )
    )["createTask"]
    hook = (
        await alice.data(
            'mutation { registerWebhook(url: "https://93.184.215.14/h") { webhook { id } } }'
        )
    )["registerWebhook"]["webhook"]
    return {
        "task": task["id"],
        "tag": task["tags"][0]["id"],
        "reminder": task["reminders"][0]["id"],
        "webhook": hook["id"],
    }


MUTATIONS = {
    "task": [
        'mutation($id: ID!) { updateTask(id: $id, input: {title: "mine"}) { id } }',
        "mutation($id: ID!) { completeTask(id: $id) { id } }",
        "mutation($id: ID!) { reopenTask(id: $id) { id } }",
        "mutation($id: ID!) { deleteTask(id: $id) }",
        "mutation($id: ID!) { skipOccurrence(id: $id) { id } }",
    ],
    "tag": [
        'mutation($id: ID!) { renameTag(id: $id, name: "mine") { id } }',
        "mutation($id: ID!) { deleteTag(id: $id) }",
    ],
    "reminder": ["mutation($id: ID!) { snoozeReminder(id: $id, minutes: 5) { id } }"],
    "webhook": ["mutation($id: ID!) { deleteWebhook(id: $id) }"],
    "notification": ["mutation($id: ID!) { markNotificationRead(id: $id) { id } }"],
}


async def test_another_users_ids_behave_exactly_like_missing_ones(
    alice: GraphQLClient, bob: GraphQLClient
) -> None:
    ids = await alices_objects(alice)
    ids["notification"] = str(uuid.uuid4())
    for kind, operations in MUTATIONS.items():
        for operation in operations:
            foreign = await bob.error(operation, {"id": ids[kind]})
            missing_id = str(uuid.uuid4())
            missing = await bob.error(operation, {"id": missing_id})
            assert foreign["extensions"] == missing["extensions"] == {"code": "NOT_FOUND"}
            assert foreign["message"].replace(ids[kind], "X") == missing["message"].replace(
                missing_id, "X"
            )
            malformed = await bob.error(operation, {"id": "not-an-id"})
            assert malformed["extensions"] == {"code": "NOT_FOUND"}
    assert (await bob.data("query($id: ID!) { task(id: $id) { id } }", {"id": ids["task"]})) == {
        "task": None
    }
    reads = await bob.data(
        '{ tasks { totalCount } search: tasks(filter: {text: "secret"}) { totalCount } '
        "tags { id } webhooks { id } }"
    )
    assert reads == {
        "tasks": {"totalCount": 0},
        "search": {"totalCount": 0},
        "tags": [],
        "webhooks": [],
    }
    # Bob's tag named like Alice's is his own, and her task kept everything.
    await bob.data('mutation { createTask(input: {title: "x", tags: ["private"]}) { id } }')
    mine = await alice.data(
        "query($id: ID!) { task(id: $id) { title version status tags { id name openTaskCount } } }",
        {"id": ids["task"]},
    )
    assert mine["task"] == {
        "title": "secret plan",
        "version": 1,
        "status": "OPEN",
        "tags": [{"id": ids["tag"], "name": "private", "openTaskCount": 1}],
    }
