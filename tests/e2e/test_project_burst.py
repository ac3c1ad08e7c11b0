"""A burst of one project's events reaches its members only: nobody else's socket fills up.

The live hub offers a project's message to the subscriptions of the users it indexes as the
project's members; before, it offered every one to every subscriber of the replica, and a
burst (a rebalance, a bulk move, a relayed backlog) closed unrelated sockets with 1013.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import websockets
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as t
from tests.e2e.test_live_updates import TASK_EVENTS, account, receive, server, subscribe
from tests.e2e.test_project_live import share_project

pytestmark = pytest.mark.e2e

__all__ = ["server"]

# Well past a subscription's queue (TASKSTREAM_LIVE_QUEUE_SIZE, 256).
BURST = 1_000
CREATE = 'mutation($p: ID) { createTask(input: {title: "burst", projectId: $p}) { id } }'


async def relay_burst(engine: AsyncEngine, task_id: str, count: int) -> None:
    """`count` copies of the task's creation event, committed in one transaction: the relay
    publishes them as one backlog, as after a rebalance or an outage."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                select(t.outbox).where(t.outbox.c.payload["subject"].astext == task_id)
            )
        ).one()
        copies = []
        for _ in range(count):
            event_id = uuid.uuid4()
            copies.append(
                {
                    "event_id": event_id,
                    "topic": row.topic,
                    "partition_key": row.partition_key,
                    "type": row.type,
                    "payload": {**row.payload, "id": str(event_id)},
                }
            )
        await connection.execute(insert(t.outbox), copies)


async def all_relayed(engine: AsyncEngine, task_id: str) -> None:
    """Wait until the relay has published every event of the task (bounded: a minute), so no
    backlog is left for the next test's server."""
    for _ in range(600):
        async with engine.connect() as connection:
            left = await connection.scalar(
                select(func.count()).where(
                    t.outbox.c.payload["subject"].astext == task_id,
                    t.outbox.c.published_at.is_(None),
                )
            )
        if left == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{left} events of the burst still unpublished after a minute")


async def events_until_closed(ws: Any, at_most: int) -> tuple[int, int | None]:
    """How many taskEvents the socket got before it went quiet or closed, and its close code."""
    got = 0
    try:
        while got < at_most:
            message = await receive(ws, seconds=10.0)
            assert message["type"] == "next", message
            got += 1
    except websockets.ConnectionClosed:
        return got, ws.close_code
    except TimeoutError:
        pass
    return got, None


async def test_a_burst_in_one_project_reaches_its_members_and_nobody_else(
    server: str, engine: AsyncEngine
) -> None:
    _, alice, alice_http = await account(server)
    bob_token, bob, bob_http = await account(server)
    carol_token, carol, carol_http = await account(server)
    project, _ = await share_project(alice, bob)
    bob_ws = await subscribe(server, bob_token, TASK_EVENTS)
    carol_ws = await subscribe(server, carol_token, TASK_EVENTS)
    task = (await alice.data(CREATE, {"p": project["id"]}))["createTask"]
    first = (await receive(bob_ws))["payload"]["data"]["taskEvents"]
    assert first["taskId"] == task["id"]

    await relay_burst(engine, task["id"], BURST)

    # Bob, a member, gets the burst, or is told he fell behind (1013) and must refetch.
    got, closed = await events_until_closed(bob_ws, BURST)
    assert got == BURST or closed == 1013, (got, closed)
    await all_relayed(engine, task["id"])
    # Carol, never a member, was offered none of it: her socket is open, and the next thing
    # she gets is her own change (behind whatever of the burst is still being consumed).
    hers = (await carol.data(CREATE, {"p": None}))["createTask"]
    message = await receive(carol_ws, seconds=60.0)
    assert message["type"] == "next", message
    assert message["payload"]["data"]["taskEvents"]["taskId"] == hers["id"]
    for ws in (bob_ws, carol_ws):
        await ws.close()
    for http in (alice_http, bob_http, carol_http):
        await http.aclose()
