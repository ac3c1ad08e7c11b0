"""Every worker's processed_events record is pruned by age, a batch at a time, on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.bootstrap import bootstrap
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.pruning import delete_older_than
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings
from workers.audit.tables import processed_events as audit_processed
from workers.notifications.tables import processed_events as notifications_processed
from workers.recurrence.tables import processed_events as recurrence_processed

pytestmark = pytest.mark.integration

TABLES = [recurrence_processed, audit_processed, notifications_processed]


async def seed(engine: AsyncEngine, table: Table, ages_in_hours: Sequence[float]) -> str:
    """Rows of a fresh consumer name processed that many hours ago; the consumer name."""
    consumer = f"pruning-test-{uuid.uuid4()}"
    async with engine.begin() as connection:
        now = (await connection.execute(select(func.now()))).scalar_one()
        await connection.execute(
            insert(table),
            [
                {
                    "consumer": consumer,
                    "event_id": str(uuid.uuid4()),
                    "processed_at": now - timedelta(hours=hours),
                }
                for hours in ages_in_hours
            ],
        )
    return consumer


async def ages_left(engine: AsyncEngine, table: Table, consumer: str) -> list[float]:
    """The ages in hours (rounded) of the consumer's rows still there, oldest first."""
    age = func.extract("epoch", func.now() - table.c.processed_at) / 3600
    async with engine.connect() as connection:
        found = await connection.scalars(
            select(func.round(age)).where(table.c.consumer == consumer).order_by(age.desc())
        )
        return [float(value) for value in found]


@pytest.mark.parametrize("table", TABLES, ids=lambda table: str(table.schema))
async def test_every_processed_events_table_is_indexed_by_time(
    engine: AsyncEngine, table: Table
) -> None:
    async with engine.connect() as connection:
        definition = await connection.scalar(
            text(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = :schema "
                "AND tablename = 'processed_events' AND indexname = 'processed_events_processed_at'"
            ),
            {"schema": table.schema},
        )
    assert definition is not None and definition.endswith("(processed_at)")


@pytest.mark.parametrize("table", TABLES, ids=lambda table: str(table.schema))
async def test_old_ids_are_pruned_in_batches_and_recent_ones_kept(
    engine: AsyncEngine, table: Table
) -> None:
    consumer = await seed(engine, table, [24 * 30] * 5 + [24 * 8] * 2 + [24 * 6, 1, 0])
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        # Batches of 3 take three statements for the 7 old rows (and other tests' rows, if old).
        removed = await delete_older_than(
            connection, table.c.processed_at, timedelta(days=7), batch_size=3
        )
    assert removed >= 7
    assert await ages_left(engine, table, consumer) == [24 * 6, 1, 0]


async def test_a_worker_service_prunes_its_consumers_record(
    settings: Settings, engine: AsyncEngine
) -> None:
    consumer = await seed(engine, audit_processed, [30, 25, 2])
    runtime = bootstrap(
        settings.model_copy(update={"processed_events_retention_hours": 24}),
        app_id="audit",
        engine=engine,
        transport=MemoryTransport(),
    )
    parts = ServiceParts(
        name="pruning-test",
        consumer=Consumer(name=consumer, engine=engine, processed=audit_processed),
    )
    # The pruning loop runs once at start, then hourly: the old rows go right away.
    async with Service(parts, runtime).running():
        async with asyncio.timeout(10):
            while await ages_left(engine, audit_processed, consumer) != [2]:
                await asyncio.sleep(0.05)
