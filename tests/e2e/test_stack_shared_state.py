"""State that holds across replicas, in `taskstream stack up`: both gateways keep their limits,
persisted documents and idempotency keys in the Dapr state store (state.postgresql), through
their own sidecars. The tests talk to each replica directly."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from graphql_schema.persisted import sha256_hex
from tests.e2e.test_stack_up import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

# Small enough to exhaust quickly; the stack's other tests keep the default.
MUTATIONS_PER_MINUTE = 30
# The documented tolerance of leased slices (TASKSTREAM_RATE_LIMIT_LEASE_FRACTION, 0.05 by
# default): each of the two gateways may hold at most floor(0.05 * 30) = 1 unspent point.
LEASE_FRACTION = 0.05
HELD_AT_MOST = 2 * math.floor(LEASE_FRACTION * MUTATIONS_PER_MINUTE)
CREATE = "mutation($t: String!) { createTask(input: {title: $t}) { id title } }"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the module, with a small mutation budget (inherited by the gateways)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASKSTREAM_MUTATIONS_PER_MINUTE", str(MUTATIONS_PER_MINUTE))
        patch.setenv("TASKSTREAM_RATE_LIMIT_LEASE_FRACTION", str(LEASE_FRACTION))
        running = StackProcess(tmp_path_factory.mktemp("stack-state") / "data")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


class Replicas:
    """A signed-up user talking to gateway-1 and gateway-2 directly."""

    def __init__(self, stack: StackProcess, http: httpx.AsyncClient) -> None:
        services = stack.description()["services"]
        self.url = {
            n: f"http://127.0.0.1:{services[f'gateway-{n}']['appPort']}/graphql" for n in (1, 2)
        }
        self.http = http
        self.token = ""
        self.user_id = ""

    async def post(
        self,
        n: int,
        query: str | None,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One request to replica n, as the user."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        body: dict[str, Any] = {"variables": variables or {}}
        if query is not None:
            body["query"] = query
        if extensions is not None:
            body["extensions"] = extensions
        return await self.http.post(self.url[n], json=body, headers=headers)

    async def sign_up(self) -> None:
        """A fresh account on replica 1."""
        signed = await self.post(
            1,
            'mutation($e: String!) { signUp(email: $e, password: "correct horse") '
            "{ token user { id } } }",
            {"e": f"state-{uuid.uuid4().hex[:12]}@example.com"},
        )
        data = signed.json()["data"]["signUp"]
        self.token, self.user_id = data["token"], data["user"]["id"]


@pytest.fixture
async def user(stack: StackProcess) -> AsyncIterator[Replicas]:
    """A fresh user with a client of each replica."""
    async with httpx.AsyncClient(timeout=60) as http:
        replicas = Replicas(stack, http)
        await replicas.sign_up()
        yield replicas


async def created_events(stack: StackProcess, user: Replicas) -> list[dict[str, Any]]:
    """The user's task.created events, read up to a marker task made after them.

    The partition key is the user: every earlier event of the user precedes the marker's.
    """
    marker = (await user.post(1, CREATE, {"t": f"marker {uuid.uuid4()}"})).json()
    marker_id = marker["data"]["createTask"]["id"]
    records = await _read_until(stack, user.user_id, marker_id)
    return [
        e
        for e in records
        if e["type"] == "taskstream.task.created.v1" and e["data"]["taskId"] != marker_id
    ]


async def _read_until(stack: StackProcess, user_id: str, marker_id: str) -> list[dict[str, Any]]:
    """The user's events on task-events up to and including the marker task's creation."""
    consumer = AIOKafkaConsumer(
        "task-events",
        bootstrap_servers=stack.description()["kafka"],
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    events: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(60):
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for record in (r for rs in batches.values() for r in rs):
                    if record.key != user_id.encode():
                        continue
                    event = json.loads(record.value)
                    events.append(event)
                    if event["data"].get("taskId") == marker_id:
                        return events
    finally:
        await consumer.stop()


async def test_two_gateways_give_the_mutation_budget_once_not_twice(user: Replicas) -> None:
    started = time.monotonic()
    responses: list[httpx.Response] = []
    # Twice the budget, ten at a time (five on each replica), alternating replicas.
    for wave in range(0, 2 * MUTATIONS_PER_MINUTE, 10):
        responses += await asyncio.gather(
            *(user.post(1 + n % 2, CREATE, {"t": f"burst {n}"}) for n in range(wave, wave + 10))
        )
    elapsed = time.monotonic() - started
    codes = [
        (r.json().get("errors") or [{}])[0].get("extensions", {}).get("code") for r in responses
    ]
    admitted = codes.count(None)
    assert set(codes) <= {None, "RATE_LIMITED"}, codes
    # Per replica, each would have admitted the whole budget (2x); shared, the budget plus
    # what the bucket refilled while the burst lasted, less at most the slices a gateway
    # leased and let lapse unspent (the documented tolerance).
    refilled = math.ceil(elapsed * MUTATIONS_PER_MINUTE / 60)
    assert MUTATIONS_PER_MINUTE - HELD_AT_MOST <= admitted <= MUTATIONS_PER_MINUTE + refilled
    # Both replicas refused some: neither counted alone.
    refused_on = {1 + n % 2 for n, code in enumerate(codes) if code == "RATE_LIMITED"}
    assert refused_on == {1, 2}


async def test_a_document_persisted_on_one_gateway_runs_on_the_other(user: Replicas) -> None:
    document = f"query Mine{uuid.uuid4().hex} {{ me {{ id }} }}"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}}
    unknown = (await user.post(2, None, extensions=extensions)).json()
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = (await user.post(1, document, extensions=extensions)).json()
    assert registered["data"]["me"]["id"] == user.user_id
    by_hash = (await user.post(2, None, extensions=extensions)).json()
    assert by_hash == registered


async def test_create_task_retried_through_the_other_gateway_makes_one_task_and_one_event(
    stack: StackProcess, user: Replicas
) -> None:
    key = f"action-{uuid.uuid4()}"
    first = await user.post(1, CREATE, {"t": "Exactly once"}, key=key)
    retry = await user.post(2, CREATE, {"t": "Exactly once"}, key=key)
    assert first.json()["data"]["createTask"]["title"] == "Exactly once"
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    tasks = (await user.post(2, "{ tasks(first: 50) { edges { node { id } } } }")).json()
    assert len(tasks["data"]["tasks"]["edges"]) == 1
    events = await created_events(stack, user)
    assert [e["data"]["taskId"] for e in events] == [first.json()["data"]["createTask"]["id"]]


async def test_concurrent_retries_on_both_gateways_make_one_task(
    stack: StackProcess, user: Replicas
) -> None:
    key = f"action-{uuid.uuid4()}"
    responses = await asyncio.gather(
        *(user.post(1 + n % 2, CREATE, {"t": "Once"}, key=key) for n in range(10))
    )
    bodies = [r.json() for r in responses]
    different = [body for body in bodies if body != bodies[0]]
    assert not different, json.dumps({"first": bodies[0], "different": different})
    events = await created_events(stack, user)
    assert [e["data"]["taskId"] for e in events] == [bodies[0]["data"]["createTask"]["id"]]
