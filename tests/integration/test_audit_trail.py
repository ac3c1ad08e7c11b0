"""The audit service over a real PostgreSQL: chaining, idempotency, append-only, retention."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from taskstream.domain.audit import GENESIS_HASH, Verification, entry_hash
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import NOTIFICATIONS_TOPIC, TASK_EVENTS_TOPIC, envelope
from taskstream.messaging.consumer import Consumer
from workers.audit import trail
from workers.audit.handlers import AuditHandlers
from workers.audit.tables import checkpoints, entries, processed_events

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
# The audit key (held by the audit service, never by the database) and the retention period.
KEY = b"audit-key-of-the-tests-0123456789"
RETENTION = timedelta(days=365)


async def verify(engine: AsyncEngine, user_id: uuid.UUID) -> Verification:
    """The user's chain verified as verifyAuditLog does, with the key and the period."""
    return await trail.verify(engine, user_id, key=KEY, retention=RETENTION)


async def retain(
    engine: AsyncEngine, *, now: datetime = NOW, keep: timedelta = RETENTION
) -> int:
    """One retention run, as the audit service does it."""
    return await trail.apply_retention(engine, now=now, keep=keep, key=KEY)


@pytest.fixture
def consumer(engine: AsyncEngine) -> Consumer:
    """The audit service's consumer on the test database."""
    consumer = Consumer(name="audit", engine=engine, processed=processed_events)
    AuditHandlers(KEY).register(consumer)
    return consumer


def task_event(
    user_id: uuid.UUID,
    kind: str = "updated",
    *,
    at: datetime = NOW,
    source: str = "gateway",
    title: str = "Plan",
) -> Message:
    """A task event as the gateway's outbox publishes it."""
    task_id = str(uuid.uuid4())
    data: dict[str, Any] = {
        "userId": str(user_id),
        "taskId": task_id,
        "version": 2,
        "task": {"id": task_id, "userId": str(user_id), "title": title, "status": "OPEN"},
    }
    if kind == "updated":
        data["changes"] = {"title": {"before": "Plan", "after": title}}
    body = envelope(
        topic=TASK_EVENTS_TOPIC,
        type_=f"taskstream.task.{kind}.v1",
        source=source,
        subject=task_id,
        partition_key=str(user_id),
        time=at,
        data=data,
    ).body
    return Message(TASK_EVENTS_TOPIC, str(user_id), body)


async def all_records(engine: AsyncEngine, user_id: uuid.UUID) -> list[Any]:
    """Every entry of the user, in chain order."""
    async with engine.connect() as connection:
        found = await trail.page(connection, user_id=user_id, first=200)
    return [record for _, record in found.records]


async def test_events_chain_once_each_in_order(engine: AsyncEngine, consumer: Consumer) -> None:
    user_id = uuid.uuid4()
    first = task_event(user_id, "created", source="gateway", title="Ünïcode ✓")
    second = task_event(user_id, "created", source="recurrence")
    assert await consumer.handle(first) is Outcome.SUCCESS
    assert await consumer.handle(second) is Outcome.SUCCESS
    assert await consumer.handle(first) is Outcome.SUCCESS  # redelivered: not recorded again
    records = await all_records(engine, user_id)
    assert [r.actor for r in records] == [str(user_id), "recurrence"]
    assert [r.action for r in records] == ["task.created", "task.created"]
    assert records[0].previous_hash == GENESIS_HASH
    assert records[1].previous_hash == records[0].hash
    assert records[0].hash == entry_hash(GENESIS_HASH, records[0].hashed_fields())
    assert records[0].changes["task"]["title"] == "Ünïcode ✓"
    assert (await verify(engine, user_id)).ok


async def test_notifications_are_audited_as_the_notifications_service(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, task_id = uuid.uuid4(), uuid.uuid4()
    body = envelope(
        topic=NOTIFICATIONS_TOPIC,
        type_="taskstream.notification.sent.v1",
        source="notifications",
        subject=str(task_id),
        partition_key=str(user_id),
        time=NOW,
        data={"userId": str(user_id), "taskId": str(task_id), "channel": "EMAIL"},
    ).body
    assert await consumer.handle(Message(NOTIFICATIONS_TOPIC, str(user_id), body)) is (
        Outcome.SUCCESS
    )
    (record,) = await all_records(engine, user_id)
    assert (record.actor, record.action, record.task_id) == (
        "notifications",
        "notification.sent",
        str(task_id),
    )
    assert record.changes == {"channel": "EMAIL"}


async def test_concurrent_deliveries_extend_one_unbroken_chain(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    messages = [task_event(user_id, title=f"t{n}") for n in range(30)]
    outcomes = await asyncio.gather(*(consumer.handle(m) for m in messages))
    assert set(outcomes) == {Outcome.SUCCESS}
    async with engine.connect() as connection:
        seqs = (
            await connection.scalars(
                select(entries.c.seq).where(entries.c.user_id == user_id).order_by(entries.c.seq)
            )
        ).all()
    assert seqs == list(range(1, 31))
    result = await verify(engine, user_id)
    assert result.ok and result.checked == 30


async def test_a_batch_chains_as_one_by_one_would_and_skips_what_was_applied(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    users = [uuid.uuid4() for _ in range(3)]
    # Runs long enough to be COPYed (trail.COPY_FROM) and short ones, INSERTed.
    messages = [task_event(users[n % 3], title=f"Tâche {n}") for n in range(48)]
    assert await consumer.handle_batch(messages[:3]) == [Outcome.SUCCESS] * 3
    assert await consumer.handle_batch(messages[3:30]) == [Outcome.SUCCESS] * 27
    # Redelivered with new ones, the applied events inside too: only the new ones chain.
    again = [*messages[20:], messages[0], messages[7]]
    assert await consumer.handle_batch(again) == [Outcome.SUCCESS] * len(again)
    for user in users:
        records = await all_records(engine, user)
        mine = [m for m in messages if m.key == str(user)]
        assert [r.id for r in records] == [str(trail.entry_id(m.id)) for m in mine]
        assert records[0].previous_hash == GENESIS_HASH
        assert [r.changes["title"]["after"] for r in records] == [
            m.body["data"]["changes"]["title"]["after"] for m in mine
        ]
        result = await verify(engine, user)
        assert result.ok and result.checked == 16
    # One by one afterwards continues the same chains.
    assert await consumer.handle(task_event(users[0])) is Outcome.SUCCESS
    assert (await verify(engine, users[0])).checked == 17


async def test_an_event_without_a_user_undoes_its_batch(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    good = task_event(user_id)
    bad = task_event(user_id)
    bad.body["data"]["userId"] = None
    assert await consumer.handle_batch([good, bad]) is None
    assert await all_records(engine, user_id) == []
    # One by one (what the transports do next): the good one is chained, the other dropped.
    assert await consumer.handle(good) is Outcome.SUCCESS
    assert await consumer.handle(bad) is Outcome.DROP
    assert len(await all_records(engine, user_id)) == 1


async def test_the_database_refuses_updates_and_deletes(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    await consumer.handle(task_event(user_id))
    for statement in (
        entries.update().where(entries.c.user_id == user_id).values(actor="forged"),
        entries.delete().where(entries.c.user_id == user_id),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(statement)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(text("TRUNCATE audit.entries"))
    assert len(await all_records(engine, user_id)) == 1


async def new_trail(
    engine: AsyncEngine, consumer: Consumer, times: Sequence[datetime]
) -> tuple[uuid.UUID, list[Any]]:
    """A new user whose trail has one task update per time, and its entries."""
    user_id = uuid.uuid4()
    for n, at in enumerate(times):
        await consumer.handle(task_event(user_id, at=at, title=f"t{n}"))
    return user_id, await all_records(engine, user_id)


async def behind_the_triggers_back(engine: AsyncEngine, statement: Executable) -> None:
    """Run a statement on the entries as their owner can, the append-only trigger switched off.

    A superuser can do this; the chain (and its head) still give it away.
    """
    async with engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit.entries DISABLE TRIGGER USER"))
        await connection.execute(statement)
        await connection.execute(text("ALTER TABLE audit.entries ENABLE TRIGGER USER"))


async def delete_behind_the_triggers_back(engine: AsyncEngine, *ids: str) -> None:
    """Delete entries by id behind the triggers' back."""
    await behind_the_triggers_back(
        engine, entries.delete().where(entries.c.id.in_([uuid.UUID(i) for i in ids]))
    )


async def test_tampering_behind_the_triggers_back_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW] * 4)
    await behind_the_triggers_back(
        engine,
        entries.update()
        .where(entries.c.id == uuid.UUID(records[2].id))
        .values(changes='{"title":{"after":"forged","before":"Plan"}}'),
    )
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.first_broken) == (False, 3, records[2].id)


async def test_removing_the_newest_entries_is_found_by_the_chain_head(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(
        engine, consumer, [NOW - timedelta(days=400 - n) for n in range(4)]
    )
    await delete_behind_the_triggers_back(engine, records[-1].id)
    result = await verify(engine, user_id)
    # Every remaining entry matches: no entry is named, but the chain stops short of its head.
    assert (result.ok, result.checked, result.first_broken) == (False, 3, None)
    assert result.head_mismatch is not None and "entry 3 but its head is at entry 4" in (
        result.head_mismatch
    )
    assert result.describe().startswith("BROKEN: the chain ends at entry 3")
    # Retention cannot launder it: the checkpoint it records is still short of the head.
    assert await retain(engine) >= 3
    assert await all_records(engine, user_id) == []
    after = await verify(engine, user_id)
    assert (after.ok, after.checked, after.first_broken) == (False, 0, None)


async def test_removing_a_whole_trail_is_found_by_the_chain_head(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW] * 2)
    await delete_behind_the_triggers_back(engine, *(r.id for r in records))
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.first_broken) == (False, 0, None)
    assert result.head_mismatch is not None
    assert result.to_json()["headMismatch"] == result.head_mismatch


async def test_retention_removes_an_old_prefix_and_verification_still_succeeds(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    ages = [400, 390, 10, 380, 5]  # days; the entry 10 days old ends the removable prefix
    for days in ages:
        await consumer.handle(task_event(user_id, at=NOW - timedelta(days=days)))
    before = await all_records(engine, user_id)
    await retain(engine)
    after = await all_records(engine, user_id)
    assert [r.id for r in after] == [r.id for r in before[2:]]
    async with engine.connect() as connection:
        checkpoint = (
            await connection.execute(select(checkpoints).where(checkpoints.c.user_id == user_id))
        ).one()
        assert await trail.chain_start(connection, user_id) == before[1].hash
    assert (checkpoint.through_seq, checkpoint.removed) == (2, 2)
    result = await verify(engine, user_id)
    assert result.ok and result.checked == 3
    # Running again removes nothing more; new entries keep chaining after the survivors.
    assert await retain(engine) == 0
    await consumer.handle(task_event(user_id))
    assert (await verify(engine, user_id)).ok


async def test_a_trail_entirely_past_retention_verifies_empty_and_continues(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    for _ in range(3):
        await consumer.handle(task_event(user_id, at=NOW - timedelta(days=800)))
    await retain(engine)
    assert await all_records(engine, user_id) == []
    result = await verify(engine, user_id)
    assert result.ok and result.checked == 0
    await consumer.handle(task_event(user_id))
    (record,) = await all_records(engine, user_id)
    async with engine.connect() as connection:
        assert record.previous_hash == await trail.chain_start(connection, user_id)
    assert (await verify(engine, user_id)).ok


async def test_pages_follow_the_chain_with_filters(engine: AsyncEngine, consumer: Consumer) -> None:
    user_id = uuid.uuid4()
    for n in range(5):
        await consumer.handle(task_event(user_id, at=NOW + timedelta(minutes=n)))
    seen: list[str] = []
    after = None
    async with engine.connect() as connection:
        while True:
            found = await trail.page(connection, user_id=user_id, first=2, after=after)
            assert found.total_count == 5
            seen.extend(r.id for _, r in found.records)
            if not found.has_next_page:
                break
            after = found.records[-1][0]
        window = await trail.page(
            connection,
            user_id=user_id,
            from_=NOW + timedelta(minutes=1),
            to=NOW + timedelta(minutes=3),
        )
    assert seen == [r.id for r in await all_records(engine, user_id)]
    assert window.total_count == 3
    assert [r.id for _, r in window.records] == seen[1:4]


async def test_webhook_changes_are_the_users_whichever_service_announces_them(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, webhook_id = uuid.uuid4(), uuid.uuid4()
    for topic, source, kind in (
        (TASK_EVENTS_TOPIC, "gateway", "registered"),
        (NOTIFICATIONS_TOPIC, "notifications", "deleted"),
    ):
        body = envelope(
            topic=topic,
            type_=f"taskstream.webhook.{kind}.v1",
            source=source,
            subject=str(webhook_id),
            partition_key=str(user_id),
            time=NOW,
            data={"userId": str(user_id), "webhookId": str(webhook_id), "url": "https://x.test/"},
        ).body
        assert await consumer.handle(Message(topic, str(user_id), body)) is Outcome.SUCCESS
    records = await all_records(engine, user_id)
    assert [(r.actor, r.action, r.task_id) for r in records] == [
        (str(user_id), "webhook.registered", None),
        (str(user_id), "webhook.deleted", None),
    ]
    assert records[0].changes == {"webhookId": str(webhook_id), "url": "https://x.test/"}
