"""Transports for the messaging contract suite: in-process, a real Kafka broker, real Dapr."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from devstack import Daprd, KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import (
    DaprResources,
    PubsubRetries,
    render_dapr_resources,
    state_connection_string,
)
from taskstream.messaging.bus import BulkSubscribe, Transport
from taskstream.messaging.consumer import processed_events_table
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.messaging.memory import MemoryTransport
from taskstream.messaging.retry import RetryPolicy
from taskstream.persistence.db import create_engine
from taskstream.sharedstate import DaprState, PostgresState, SharedState

FAST_RETRIES = RetryPolicy(attempts=3, first_delay=0.01, max_delay=0.05)
# Dapr's own retries (its Resiliency policy), as short as the other transports' in these tests.
FAST_DAPR_RETRIES = PubsubRetries(max_retries=3, initial_interval="20ms", max_interval="100ms")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """One real single-node KRaft broker for the whole run (provisioned on first use)."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def dapr_resources(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> DaprResources:
    """infra/dapr rendered for the test broker: the pubsub component and short retries."""
    target: Path = tmp_path_factory.mktemp("dapr")
    return render_dapr_resources(
        target,
        kafka_brokers=kafka_broker.bootstrap_servers,
        name_resolution_db=target / "nameresolution.db",
        components=["pubsub"],
        retries=FAST_DAPR_RETRIES,
    )


@pytest.fixture(params=["memory", "kafka", "dapr", "dapr-bulk", "dapr-bulk-parsed"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    """A started transport of each kind (Dapr with single and with bulk subscribe, the bulk's
    events as raw payloads or, as when tracing is on, parsed by the sidecar)."""
    built: Transport
    if request.param == "memory":
        built = MemoryTransport(policy=FAST_RETRIES)
    elif request.param.startswith("dapr"):
        # Its own sidecar, started when the test subscribes (Dapr reads subscriptions once).
        built = SidecarOnSubscribe(
            request.getfixturevalue("kafka_broker").bootstrap_servers,
            request.getfixturevalue("dapr_resources"),
            bulk=BulkSubscribe(
                max_messages=50,
                max_await_ms=20,
                raw_payloads=request.param == "dapr-bulk",
            )
            if request.param.startswith("dapr-bulk")
            else None,
            policy=FAST_RETRIES,
        )
    else:
        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        built = KafkaTransport(
            KafkaOptions(broker.bootstrap_servers, partitions=3),
            app_id="contract-test",
            policy=FAST_RETRIES,
        )
    await built.start()
    yield built
    await built.close()


@pytest.fixture
async def scratch_engine(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, empty database beside the test database."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(engine.url.render_as_string(hide_password=False)).set(database=name)
    scratch = create_engine(url.render_as_string(hide_password=False), pool_size=2)
    yield scratch
    await scratch.dispose()
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def state_sidecar(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Daprd, str]]:
    """A gateway sidecar with infra/dapr's statestore (and the secret store it reads)."""
    target: Path = tmp_path_factory.mktemp("dapr-state")
    secrets_file = target / "secrets.json"
    secrets_file.write_text(
        json.dumps({"state-connection-string": state_connection_string(database_url)})
    )
    resources = render_dapr_resources(
        target,
        kafka_brokers="127.0.0.1:9",
        name_resolution_db=target / "nameresolution.db",
        secrets_file=secrets_file,
        components=["statestore", "secretstore"],
    )
    token = secrets.token_urlsafe(16)
    sidecar = Daprd(
        "gateway",
        resources_paths=[resources.resources_dir],
        config_path=resources.config_path,
        log_level="warn",
        env={"DAPR_API_TOKEN": token},
    )
    with sidecar:
        yield sidecar, token


@pytest.fixture(params=["database", "dapr"])
async def state(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[SharedState]:
    """The shared state through each adapter."""
    built: SharedState
    if request.param == "dapr":
        sidecar, token = request.getfixturevalue("state_sidecar")
        built = DaprState(sidecar.http_endpoint, api_token=token)
    else:
        built = PostgresState(engine)
    yield built
    await built.close()


# The scratch consumers of the messaging tests: their processed-events table, and a row per
# effect a consumer (group) applied.
_effects = MetaData(schema="consumer_test")
_effects_processed = processed_events_table(_effects)
_effects_applied = Table(
    "applied",
    _effects,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", Text, nullable=False),
    Column("event_id", Text, nullable=False),
)


@dataclass(frozen=True, slots=True)
class AppliedEffects:
    """A scratch schema for test consumers: their processed-events table, and a row per event
    a consumer applied, to see how often (and in which order) events took effect."""

    engine: AsyncEngine
    processed: Table

    async def apply(self, connection: AsyncConnection, event_id: str, *, by: str = "") -> None:
        """Record the event's effect (by this consumer group) in the handler's transaction."""
        await connection.execute(insert(_effects_applied).values(consumer=by, event_id=event_id))

    async def times_applied(self, event_id: str) -> int:
        """How many times the event took effect."""
        async with self.engine.connect() as connection:
            count = await connection.scalar(
                select(func.count())
                .select_from(_effects_applied)
                .where(_effects_applied.c.event_id == event_id)
            )
        return int(count or 0)

    async def applied_by(self, group: str) -> list[str]:
        """The event ids whose effect the group applied, in the order it applied them."""
        async with self.engine.connect() as connection:
            rows = await connection.scalars(
                select(_effects_applied.c.event_id)
                .where(_effects_applied.c.consumer == group)
                .order_by(_effects_applied.c.id)
            )
            return list(rows)


@pytest.fixture(scope="session")
async def applied_effects(engine: AsyncEngine) -> AppliedEffects:
    """The scratch consumer schema (each test uses topics and groups of its own)."""
    async with engine.begin() as connection:
        await connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {_effects.schema}")
        await connection.run_sync(_effects.create_all)
    return AppliedEffects(engine, _effects_processed)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 60.0) -> None:
    """Wait until check() holds (consumers and relays act in their own time)."""
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.05)
