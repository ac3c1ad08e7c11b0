"""Membership revocation on live subscriptions across two gateway replicas, in
`taskstream stack up` (issue 16): a member removed on gateway-1 gets no further event of the
project on the socket they hold open on gateway-2. The tests talk to each replica directly."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.e2e.test_live_updates import task_event, until_live
from tests.e2e.test_stack_up import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

TASK_EVENTS = "subscription { taskEvents { kind taskId task { title } } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the module."""
    running = StackProcess(tmp_path_factory.mktemp("stack-members") / "data")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


class Person:
    """A signed-up user talking to gateway-1 and gateway-2 directly."""

    def __init__(self, stack: StackProcess, http: httpx.AsyncClient) -> None:
        services = stack.description()["services"]
        self.url = {
            n: f"http://127.0.0.1:{services[f'gateway-{n}']['appPort']}/graphql" for n in (1, 2)
        }
        self.http = http
        self.token = ""
        self.id = ""
        self.email = f"member-{uuid.uuid4().hex[:12]}@example.com"

    async def data(self, n: int, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The data of an operation on replica n that must succeed."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = (
            await self.http.post(
                self.url[n], json={"query": query, "variables": variables or {}}, headers=headers
            )
        ).json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def sign_up(self) -> Person:
        """A fresh account, made on replica 1."""
        data = await self.data(
            1,
            'mutation($e: String!) { signUp(email: $e, password: "correct horse") '
            "{ token user { id } } }",
            {"e": self.email},
        )
        self.token, self.id = data["signUp"]["token"], data["signUp"]["user"]["id"]
        return self

    async def subscribe(self, n: int) -> ClientConnection:
        """A socket on replica n with a running taskEvents subscription, once it is live: a
        task the person creates comes through it (probing again if the first came too early)."""
        ws = await websockets.connect(
            self.url[n].replace("http://", "ws://"),
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        )
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": TASK_EVENTS}})
        )
        await until_live(functools.partial(self.create, n), [ws])
        return ws

    async def create(self, n: int, title: str, project: str | None = None) -> str:
        """Create a task (in the project when given) on replica n; its id."""
        data = await self.data(
            n,
            "mutation($t: String!, $p: ID) { createTask(input: {title: $t, projectId: $p}) "
            "{ id } }",
            {"t": title, "p": project},
        )
        return str(data["createTask"]["id"])


async def test_a_member_removed_on_one_gateway_stops_receiving_on_the_other(
    stack: StackProcess,
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        alice, bob, carol = [await Person(stack, http).sign_up() for _ in range(3)]
        project = (await alice.data(1, 'mutation { createProject(name: "Both") { id } }'))[
            "createProject"
        ]["id"]
        for member in (bob, carol):
            invitation = (
                await alice.data(
                    1,
                    "mutation($p: ID!, $e: String!) { inviteToProject(projectId: $p, "
                    "email: $e, role: EDITOR) { id } }",
                    {"p": project, "e": member.email},
                )
            )["inviteToProject"]["id"]
            await member.data(
                1, "mutation($i: ID!) { acceptInvitation(id: $i) { id } }", {"i": invitation}
            )
        # Bob and Carol watch on gateway-2; Alice works on gateway-1.
        bob_ws, carol_ws = await bob.subscribe(2), await carol.subscribe(2)
        try:
            task = await alice.create(1, "shared", project)
            for ws in (bob_ws, carol_ws):
                seen = await task_event(ws)
                assert (seen["kind"], seen["taskId"], seen["task"]) == (
                    "CREATED",
                    task,
                    {"title": "shared"},
                )
            # gateway-2 has now answered (and cached) that Bob is a member.
            await alice.data(
                1,
                "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }",
                {"p": project, "u": bob.id},
            )
            await alice.data(
                1,
                'mutation($id: ID!) { updateTask(id: $id, input: {title: "without bob"}) { id } }',
                {"id": task},
            )
            marker = await alice.create(1, "marker", project)
            # Carol, on the same replica, gets the change and then the marker: both were
            # offered to every subscription of gateway-2, Bob's included, by now.
            changed, marked = await task_event(carol_ws), await task_event(carol_ws)
            assert (changed["kind"], changed["taskId"], changed["task"]) == (
                "UPDATED",
                task,
                {"title": "without bob"},
            )
            assert (marked["kind"], marked["taskId"]) == ("CREATED", marker)
            # A subscription delivers in order: Bob's own change, made after, is the next
            # thing he gets, so neither of Alice's reached him.
            mine = await bob.create(2, "bob alone")
            after = await task_event(bob_ws)
            assert (after["kind"], after["taskId"]) == ("CREATED", mine)
        finally:
            for ws in (bob_ws, carol_ws):
                await ws.close()
