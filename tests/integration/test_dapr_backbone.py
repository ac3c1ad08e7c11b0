"""The outbox relay publishing through a real daprd to a real Kafka broker that goes away.

Mutations only touch PostgreSQL, so they keep committing while the broker is down; the relay's
publishes fail (Dapr answers an error), the rows stay unpublished, and once the broker is back
every event arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from devstack import Daprd, KafkaBroker
from devstack._common import free_port
from devstack.dapr_resources import render_dapr_resources
from gateway_core.persistence import tables as t
from taskstream.messaging.dapr import DaprTransport
from taskstream.persistence.outbox import OutboxRelay
from tests.conftest import GraphQLClient
from tests.integration.test_outbox_relay import drain_existing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker of this module's own, on a fixed port, so that it can be stopped and restarted."""
    data = tmp_path_factory.mktemp("outage-kafka")
    broker = KafkaBroker(data_dir=data, ports=[free_port()])
    with broker:
        yield broker


async def unpublished_for(engine: AsyncEngine, user_id: str) -> int:
    """The user's outbox rows not yet acknowledged."""
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(t.outbox)
            .where(t.outbox.c.partition_key == user_id, t.outbox.c.published_at.is_(None))
        )
    return int(count or 0)


async def event_ids_for(engine: AsyncEngine, user_id: str) -> set[str]:
    """The ids of every event the user's mutations committed."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.outbox.c.event_id).where(t.outbox.c.partition_key == user_id)
        )
    return {str(row.event_id) for row in rows}


async def test_a_broker_outage_during_writes_loses_nothing(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    own_broker: KafkaBroker,
    tmp_path: Path,
) -> None:
    await drain_existing(engine)
    resources = render_dapr_resources(
        tmp_path,
        kafka_brokers=own_broker.bootstrap_servers,
        name_resolution_db=tmp_path / "nameresolution.db",
        components=["pubsub"],
    )
    token = secrets.token_urlsafe(16)
    sidecar = Daprd(
        "gateway",
        resources_paths=[resources.resources_dir],
        config_path=resources.config_path,
        log_level="warn",
        env={"DAPR_API_TOKEN": token},
    )
    await asyncio.to_thread(sidecar.start)
    transport = DaprTransport(app_id="gateway", dapr_http=sidecar.http_endpoint, api_token=token)
    await transport.start()
    relay = asyncio.create_task(
        OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=0.1).run()
    )
    client = GraphQLClient(http)
    user_id = (await client.sign_up())["id"]
    create = "mutation($t: String!) { createTask(input: {title: $t}) { id } }"
    try:
        for n in range(5):
            await client.data(create, {"t": f"before {n}"})
        await asyncio.to_thread(own_broker.stop)
        # The broker is gone: mutations still commit; their events wait in the outbox.
        for n in range(10):
            await client.data(create, {"t": f"during {n}"})
        await asyncio.sleep(1.0)
        assert await unpublished_for(engine, user_id) > 0
        await asyncio.to_thread(own_broker.start)
        for n in range(5):
            await client.data(create, {"t": f"after {n}"})
        async with asyncio.timeout(90):
            while await unpublished_for(engine, user_id):
                await asyncio.sleep(0.2)
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await transport.close()
        await asyncio.to_thread(sidecar.stop)

    expected = await event_ids_for(engine, user_id)
    assert len(expected) >= 20
    consumer = AIOKafkaConsumer(
        "task-events",
        bootstrap_servers=own_broker.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: set[str] = set()
    try:
        async with asyncio.timeout(30):
            while not expected <= seen:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        event = json.loads(record.value)
                        if record.key == user_id.encode():
                            seen.add(event["id"])
    finally:
        await consumer.stop()
    assert expected <= seen
