"""The audit service over a real PostgreSQL: chaining, idempotency, append-only, retention."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from taskstream.messaging.bus import DeadLetter, Message, Outcome
from taskstream.messaging.cloudevents import NOTIFICATIONS_TOPIC, TASK_EVENTS_TOPIC, envelope
from taskstream.messaging.consumer import Consumer
from taskstream.persistence.db import downgrade, migrate
from tests.event_factories import wire_task
from tests.integration.test_recurrence_batches import runtime_on
from workers.audit import main as audit_service
from workers.audit import trail
from workers.audit.domain import (
    GENESIS_HASH,
    Checkpoint,
    Verification,
    canonical_json,
    checkpoint_signature,
    entry_hash,
    format_at,
)
from workers.audit.handlers import AuditHandlers
from workers.audit.main import build
from workers.audit.tables import chain_heads, checkpoints, entries, processed_events

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
# The audit key (held by the audit service, never by the database) and the retention period.
KEY = b"audit-key-of-the-tests-0123456789"
RETENTION = timedelta(days=365)


async def verify(engine: AsyncEngine, user_id: uuid.UUID) -> Verification:
    """The user's chain verified as verifyAuditLog does, with the key and the period."""
    return await trail.verify(engine, user_id, key=KEY, retention=RETENTION)


async def retain(engine: AsyncEngine, *, now: datetime = NOW, keep: timedelta = RETENTION) -> int:
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
    task = wire_task(task_id=task_id, user_id=user_id, version=2, title=title).wire()
    data: dict[str, Any] = {"userId": str(user_id), "taskId": task_id, "version": 2, "task": task}
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
        data={
            "userId": str(user_id),
            "taskId": str(task_id),
            "reminderId": str(uuid.uuid4()),
            "deliveryId": str(uuid.uuid4()),
            "notificationId": None,
            "channel": "EMAIL",
            "title": "Due",
            "body": "soon",
            "createdAt": NOW.isoformat(),
            "attempts": 1,
        },
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
    # What it says besides whose and which task.
    assert record.changes["channel"] == "EMAIL" and record.changes["attempts"] == 1
    assert "userId" not in record.changes and "taskId" not in record.changes


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


async def test_the_service_batches_every_topic_and_erases_in_order_inside_a_batch(
    engine: AsyncEngine,
) -> None:
    # The consumer as the audit service builds it, account erasure included: a topic is
    # batched only if every event type on it has a batch form (Consumer.subscriptions).
    runtime = runtime_on(engine, "audit")
    service = build(runtime).consumer
    assert service is not None
    assert {s.topic: s.batch is not None for s in service.subscriptions()} == {
        TASK_EVENTS_TOPIC: True,
        NOTIFICATIONS_TOPIC: True,
    }
    user_id = uuid.uuid4()
    gone = Message(
        TASK_EVENTS_TOPIC,
        str(user_id),
        envelope(
            topic=TASK_EVENTS_TOPIC,
            type_="taskstream.user.deleted.v1",
            source="gateway",
            subject=str(user_id),
            partition_key=str(user_id),
            time=NOW,
            data={"userId": str(user_id)},
        ).body,
    )
    before = [task_event(user_id, title=f"before {n}") for n in range(3)]
    after = [task_event(user_id, title=f"after {n}") for n in range(2)]
    run = [*before, gone, *after]
    assert await service.handle_batch(run) == [Outcome.SUCCESS] * len(run)
    # Erased where the erasure came: what came after it starts a new chain.
    records = await all_records(engine, user_id)
    assert [r.id for r in records] == [str(trail.entry_id(m.id)) for m in after]
    assert records[0].previous_hash == GENESIS_HASH
    checked = await trail.verify(
        engine, user_id, key=audit_service.signing_key(runtime), retention=RETENTION
    )
    assert checked.ok and checked.checked == 2


async def test_an_event_without_a_user_is_dead_lettered_and_its_batch_still_applies(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    good = task_event(user_id)
    bad = task_event(user_id)
    bad.body["data"]["userId"] = None
    verdicts = await consumer.handle_batch([good, bad])
    assert verdicts is not None and verdicts[0] is Outcome.SUCCESS
    assert isinstance(verdicts[1], DeadLetter) and "userId" in verdicts[1].reason
    assert len(await all_records(engine, user_id)) == 1
    # Alone (as the transports retry a failed batch), it is dead-lettered again, never chained.
    assert isinstance(await consumer.handle(bad), DeadLetter)
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


AUDIT_TABLES = ("entries", "checkpoints", "chain_heads")


async def behind_the_triggers_back(engine: AsyncEngine, *statements: Executable) -> None:
    """Run statements on the audit tables as their owner can, the triggers switched off.

    A superuser can do this; the chain, its signed checkpoints and head still give it away.
    """
    async with engine.begin() as connection:
        for table in AUDIT_TABLES:
            await connection.execute(text(f"ALTER TABLE audit.{table} DISABLE TRIGGER USER"))
        for statement in statements:
            await connection.execute(statement)
        for table in AUDIT_TABLES:
            await connection.execute(text(f"ALTER TABLE audit.{table} ENABLE TRIGGER USER"))


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


# Tampering with the anchors of the chain: checkpoints and the head (issue 13).


async def refused(engine: AsyncEngine, statement: Executable, match: str) -> None:
    """The statement, run as the application runs SQL (triggers on), is refused."""
    with pytest.raises(DBAPIError, match=match):
        async with engine.begin() as connection:
            await connection.execute(statement)


def forged_checkpoint(
    user_id: uuid.UUID,
    last: Any,
    *,
    through_seq: int,
    number: int = 1,
    from_seq: int = 1,
    previous: str = GENESIS_HASH,
    created_at: datetime = NOW + timedelta(days=400),
    key: bytes = b"not-the-audit-key-0123456789abcdef",
) -> dict[str, Any]:
    """A checkpoint row through the entry `last`, consistent in every way but its signature.

    Its time is far enough after the entries for the retention period to be respected, so that
    only the signature (made with a key other than the audit key) can give it away.
    """
    at = datetime.fromisoformat(last.at)
    checkpoint = Checkpoint(
        number=number,
        from_seq=from_seq,
        through_seq=through_seq,
        hash=last.hash,
        removed=through_seq - from_seq + 1,
        newest_at=at,
        cutoff=at + timedelta(seconds=1),
        created_at=created_at,
        previous=previous,
        digest=None,
        signature=None,
    )
    digest = checkpoint.expected_digest(str(user_id))
    return {
        "user_id": user_id,
        "number": checkpoint.number,
        "from_seq": checkpoint.from_seq,
        "through_seq": checkpoint.through_seq,
        "hash": checkpoint.hash,
        "removed": checkpoint.removed,
        "newest_at": checkpoint.newest_at,
        "oldest_kept_after": checkpoint.cutoff,
        "created_at": checkpoint.created_at,
        "previous_checkpoint": previous,
        "digest": digest,
        "signature": checkpoint_signature(key, user_id=str(user_id), digest=digest),
    }


async def test_a_forged_checkpoint_over_deleted_entries_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    # The probe: a checkpoint row inserted, then the entries it claims deleted, with
    # plain SQL. The database lets it through (the forgery is consistent: in sequence, over
    # entries older than its cutoff), the signature does not.
    user_id, records = await new_trail(engine, consumer, [NOW - timedelta(days=10)] * 4)
    row = forged_checkpoint(user_id, records[1], through_seq=2)
    async with engine.begin() as connection:
        await connection.execute(insert(checkpoints).values(**row))
        await connection.execute(
            entries.delete().where(entries.c.user_id == user_id, entries.c.seq <= 2)
        )
    assert len(await all_records(engine, user_id)) == 2
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.first_broken) == (False, 0, None)
    assert result.reason == (
        "checkpoint 1 (entries 1 to 2) is not signed with the audit key (forged or altered)"
    )
    # Moving the head to name the forgery only makes the head's signature wrong as well.
    async with engine.begin() as connection:
        await connection.execute(
            chain_heads.update()
            .where(chain_heads.c.user_id == user_id)
            .values(last_checkpoint=row["digest"])
        )
    assert "not signed with the audit key" in str((await verify(engine, user_id)).reason)


async def test_a_checkpoint_over_entries_younger_than_the_retention_period_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    # Even signed with the audit key (retention run with a period shorter than the one in
    # force), a checkpoint that removed entries younger than the period fails verification.
    user_id, _ = await new_trail(engine, consumer, [NOW - timedelta(days=10)] * 3)
    assert await retain(engine, keep=timedelta(days=5)) >= 3
    result = await verify(engine, user_id)
    assert not result.ok and result.first_broken is None
    assert result.reason is not None
    assert result.reason.startswith(
        "checkpoint 1 (entries 1 to 3) removed entries younger than the retention period of "
        "365 days: the newest was at 2030-05-22T12:00:00+00:00, after 2029-06-01T12:00:00+00:00"
    )
    # With the period it was made under, the same checkpoint is sound.
    assert (await trail.verify(engine, user_id, key=KEY, retention=timedelta(days=5))).ok


async def test_entries_within_the_period_cannot_be_deleted_even_under_a_checkpoint(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW] * 3)
    # A checkpoint whose cutoff is not after the entries is refused by the database.
    young = forged_checkpoint(user_id, records[1], through_seq=2, created_at=NOW)
    young["oldest_kept_after"] = NOW
    await refused(engine, insert(checkpoints).values(**young), "checkpoints are append-only")
    # No checkpoint at all: the retention way of deleting is closed too.
    await refused(
        engine, entries.delete().where(entries.c.user_id == user_id), r"DELETE of entry \d+ refused"
    )
    assert len(await all_records(engine, user_id)) == 3


async def test_removing_the_oldest_entries_without_a_checkpoint_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW - timedelta(days=400)] * 4)
    await delete_behind_the_triggers_back(engine, records[0].id, records[1].id)
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.first_broken) == (False, 1, records[2].id)
    assert result.reason is not None and "does not follow the one before it" in result.reason
    # Retention does not launder it: it checks what it removes and keeps a broken chain as is.
    assert await retain(engine) == 0
    assert (await verify(engine, user_id)).first_broken == records[2].id


async def test_moving_the_head_back_with_the_newest_entries_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW] * 4)
    back = (
        chain_heads.update()
        .where(chain_heads.c.user_id == user_id)
        .values(last_seq=2, last_hash=records[1].hash)
    )
    await refused(engine, back, "heads only move forward")
    await refused(
        engine, chain_heads.delete().where(chain_heads.c.user_id == user_id), "DELETE refused"
    )
    # Behind the triggers' back the suffix and the head go together, and the head, signed
    # for entry 4, no longer matches its signature.
    await behind_the_triggers_back(
        engine,
        entries.delete().where(entries.c.user_id == user_id, entries.c.seq > 2),
        back,
    )
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.first_broken) == (False, 2, None)
    assert result.reason == (
        "the chain's head is not signed with the audit key (the head was altered)"
    )
    # Without its head, a chain with entries is broken too.
    await behind_the_triggers_back(
        engine, chain_heads.delete().where(chain_heads.c.user_id == user_id)
    )
    assert (await verify(engine, user_id)).reason == "the chain has no head (it was removed)"


async def pruned_twice(engine: AsyncEngine, consumer: Consumer) -> tuple[uuid.UUID, list[Any]]:
    """A user whose trail two retention runs pruned: two checkpoints, one entry left."""
    user_id = uuid.uuid4()
    for days in (400, 370, 10):
        await consumer.handle(task_event(user_id, at=NOW - timedelta(days=days)))
    records = await all_records(engine, user_id)
    assert await retain(engine, now=NOW - timedelta(days=20)) >= 1
    assert await retain(engine) >= 1
    return user_id, records


async def test_legitimate_retention_runs_chain_their_checkpoints_and_verify(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await pruned_twice(engine, consumer)
    async with engine.connect() as connection:
        found = await trail.checkpoints_of(connection, user_id)
        head = await trail.head_of(connection, user_id)
    assert [(c.number, c.from_seq, c.through_seq, c.removed) for c in found] == [
        (1, 1, 1, 1),
        (2, 2, 2, 1),
    ]
    assert found[0].previous == GENESIS_HASH and found[1].previous == found[0].digest
    assert [c.hash for c in found] == [records[0].hash, records[1].hash]
    assert head is not None and head.checkpoint == found[1].digest and head.seq == 3
    result = await verify(engine, user_id)
    assert (result.ok, result.checked, result.reason) == (True, 1, None)
    await consumer.handle(task_event(user_id))
    assert (await verify(engine, user_id)).ok


async def test_modifying_a_checkpoint_is_found(engine: AsyncEngine, consumer: Consumer) -> None:
    user_id, _ = await pruned_twice(engine, consumer)
    later = (
        checkpoints.update()
        .where(checkpoints.c.user_id == user_id, checkpoints.c.number == 1)
        .values(created_at=NOW + timedelta(days=1))
    )
    await refused(engine, later, "checkpoints are append-only \\(UPDATE refused\\)")
    await refused(
        engine, checkpoints.delete().where(checkpoints.c.user_id == user_id), "DELETE refused"
    )
    await refused(engine, text("TRUNCATE audit.checkpoints"), "TRUNCATE refused")
    await behind_the_triggers_back(engine, later)
    result = await verify(engine, user_id)
    assert result.reason == (
        "checkpoint 1 (entries 1 to 1) was altered: its digest does not match its fields"
    )


async def test_a_modified_checkpoint_with_a_recomputed_digest_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, _ = await pruned_twice(engine, consumer)
    async with engine.connect() as connection:
        second = (await trail.checkpoints_of(connection, user_id))[1]
    # Anyone can recompute a digest; a later time would make room for younger entries.
    moved = replace(second, created_at=second.created_at + timedelta(days=30))
    await behind_the_triggers_back(
        engine,
        checkpoints.update()
        .where(checkpoints.c.user_id == user_id, checkpoints.c.number == 2)
        .values(created_at=moved.created_at, digest=moved.expected_digest(str(user_id))),
    )
    result = await verify(engine, user_id)
    assert result.reason == (
        "checkpoint 2 (entries 2 to 2) is not signed with the audit key (forged or altered)"
    )


async def test_reordered_entries_and_checkpoints_are_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW] * 4)

    def move(seq: int, to: int) -> Executable:
        return (
            entries.update()
            .where(entries.c.user_id == user_id, entries.c.seq == seq)
            .values(seq=to)
        )

    await refused(engine, move(2, 0), "append-only \\(UPDATE refused\\)")
    await behind_the_triggers_back(engine, move(2, 0), move(3, 2), move(0, 3))
    result = await verify(engine, user_id)
    assert (result.ok, result.first_broken) == (False, records[2].id)
    assert result.reason is not None and "does not follow" in result.reason

    pruned, _ = await pruned_twice(engine, consumer)

    def renumber(number: int, to: int) -> Executable:
        return (
            checkpoints.update()
            .where(checkpoints.c.user_id == pruned, checkpoints.c.number == number)
            .values(number=to)
        )

    await behind_the_triggers_back(engine, renumber(1, 0), renumber(2, 1), renumber(0, 2))
    result = await verify(engine, pruned)
    assert result.reason is not None and result.reason.startswith(
        "checkpoint 1 (entries 2 to 2) is out of sequence: expected checkpoint 1 from entry 1"
    )


async def test_a_checkpoint_inserted_out_of_sequence_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, records = await new_trail(engine, consumer, [NOW - timedelta(days=400)] * 6)
    # One that skips entries (from entry 3 while none was removed before) is refused...
    gap = forged_checkpoint(user_id, records[3], through_seq=4, from_seq=3)
    await refused(engine, insert(checkpoints).values(**gap), "checkpoint 1 refused")
    # ...and, inserted behind the triggers' back, found out of sequence.
    await behind_the_triggers_back(engine, insert(checkpoints).values(**gap))
    result = await verify(engine, user_id)
    assert result.reason is not None and result.reason.startswith(
        "checkpoint 1 (entries 3 to 4) is out of sequence"
    )


async def test_a_checkpoint_made_before_the_one_it_follows_is_out_of_sequence(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, _ = await pruned_twice(engine, consumer)
    async with engine.connect() as connection:
        first, second = await trail.checkpoints_of(connection, user_id)
    earlier = replace(second, created_at=first.created_at - timedelta(days=1))
    await behind_the_triggers_back(
        engine,
        checkpoints.update()
        .where(checkpoints.c.user_id == user_id, checkpoints.c.number == 2)
        .values(created_at=earlier.created_at, digest=earlier.expected_digest(str(user_id))),
    )
    result = await verify(engine, user_id)
    assert result.reason is not None and result.reason.startswith(
        "checkpoint 2 (entries 2 to 2) is out of sequence"
    )


async def test_removing_the_newest_checkpoint_is_found(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id = uuid.uuid4()
    for days in (400, 370):
        await consumer.handle(task_event(user_id, at=NOW - timedelta(days=days)))
    assert await retain(engine, now=NOW - timedelta(days=20)) >= 1
    assert await retain(engine) >= 1
    # Every entry is gone: only the head can tell that a checkpoint went with them.
    await behind_the_triggers_back(
        engine,
        checkpoints.delete().where(checkpoints.c.user_id == user_id, checkpoints.c.number == 2),
    )
    result = await verify(engine, user_id)
    assert result.reason == (
        "the newest checkpoint is not the one the head names (checkpoints removed or added)"
    )


async def test_erasing_a_user_removes_the_whole_trail(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    user_id, _ = await pruned_twice(engine, consumer)
    other, _ = await new_trail(engine, consumer, [NOW])
    async with engine.begin() as connection:
        await trail.erase_user(connection, user_id)
        # The erasure names its user: nobody else's trail can go with it.
        with pytest.raises(DBAPIError, match="append-only"):
            async with connection.begin_nested():
                await connection.execute(entries.delete().where(entries.c.user_id == other))
    async with engine.connect() as connection:
        assert await trail.head_of(connection, user_id) is None
        assert await trail.checkpoints_of(connection, user_id) == []
    assert await all_records(engine, user_id) == []
    assert (await verify(engine, user_id)).ok
    assert (await verify(engine, other)).ok


# Chains kept before signatures: migrated, then sealed once by the audit service.


async def legacy_trail(engine: AsyncEngine, count: int, *, pruned: int, lost: int = 0) -> uuid.UUID:
    """A chain as the audit service kept it before audit_0003: `count` entries, the oldest
    `pruned` removed by the retention of then (flag, delete, unsigned checkpoint), and the
    newest `lost` deleted behind the triggers' back."""
    user_id = uuid.uuid4()
    previous, rows = GENESIS_HASH, []
    for seq in range(1, count + 1):
        fields = {
            "id": str(uuid.uuid4()),
            "at": format_at(NOW - timedelta(days=400 - seq)),
            "actor": str(user_id),
            "action": "task.updated",
            "taskId": None,
            "changes": {"n": seq},
        }
        digest = entry_hash(previous, fields)
        rows.append((seq, fields, previous, digest))
        previous = digest
    async with engine.begin() as connection:
        for seq, fields, before, digest in rows:
            await connection.execute(
                text(
                    "INSERT INTO audit.entries (id, user_id, seq, event_id, at, actor, action, "
                    "changes, previous_hash, hash) VALUES (CAST(:id AS uuid), :user, :seq, :id, "
                    ":at, :actor, :action, :changes, :previous, :hash)"
                ),
                {
                    "id": fields["id"],
                    "user": user_id,
                    "seq": seq,
                    "at": datetime.fromisoformat(str(fields["at"])),
                    "actor": fields["actor"],
                    "action": fields["action"],
                    "changes": canonical_json(fields["changes"]),
                    "previous": before,
                    "hash": digest,
                },
            )
        await connection.execute(
            text("INSERT INTO audit.chain_heads VALUES (:user, :seq, :hash)"),
            {"user": user_id, "seq": count, "hash": previous},
        )
        await connection.execute(text("SET LOCAL taskstream.audit_retention = 'on'"))
        await connection.execute(
            text("DELETE FROM audit.entries WHERE user_id = :user AND seq <= :seq"),
            {"user": user_id, "seq": pruned},
        )
        await connection.execute(
            text(
                "INSERT INTO audit.checkpoints (user_id, through_seq, hash, removed, "
                "oldest_kept_after, created_at) VALUES (:user, :seq, :hash, :removed, :cutoff, :at)"
            ),
            {
                "user": user_id,
                "seq": pruned,
                "removed": pruned,
                "hash": rows[pruned - 1][3],
                "cutoff": NOW - RETENTION,
                "at": NOW,
            },
        )
        if lost:
            await connection.execute(
                text("DELETE FROM audit.entries WHERE user_id = :user AND seq > :seq"),
                {"user": user_id, "seq": count - lost},
            )
    return user_id


async def test_existing_chains_are_migrated_and_sealed_once(scratch_engine: AsyncEngine) -> None:
    await migrate(scratch_engine, revision="audit_0002")
    sound = await legacy_trail(scratch_engine, 5, pruned=2)
    short = await legacy_trail(scratch_engine, 5, pruned=2, lost=1)
    await migrate(scratch_engine)
    # Before the audit service signs them, nothing kept earlier passes for signed.
    before = await trail.verify(scratch_engine, sound, key=KEY, retention=RETENTION)
    assert before.reason == (
        "checkpoint 1 (entries 1 to 2) is not signed with the audit key (forged or altered)"
    )
    assert await trail.seal_legacy(scratch_engine, key=KEY) == 4  # two checkpoints, two heads
    result = await trail.verify(scratch_engine, sound, key=KEY, retention=RETENTION)
    assert (result.ok, result.checked) == (True, 3)
    # Sealing signs what it finds; it does not make a truncated chain whole.
    broken = await trail.verify(scratch_engine, short, key=KEY, retention=RETENTION)
    assert broken.reason == (
        "the chain ends at entry 4 but its head is at entry 5 (newest entries removed)"
    )
    # Once sealed, never again: a checkpoint or head without a signature is a forgery.
    assert await trail.seal_legacy(scratch_engine, key=KEY) == 0
    async with scratch_engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit.chain_heads DISABLE TRIGGER USER"))
        await connection.execute(
            chain_heads.update().where(chain_heads.c.user_id == sound).values(signature=None)
        )
        await connection.execute(text("ALTER TABLE audit.chain_heads ENABLE TRIGGER USER"))
    assert await trail.seal_legacy(scratch_engine, key=KEY) == 0
    assert not (await trail.verify(scratch_engine, sound, key=KEY, retention=RETENTION)).ok
    # The seal itself is permanent.
    with pytest.raises(DBAPIError, match="seal is permanent"):
        async with scratch_engine.begin() as connection:
            await connection.execute(text("DELETE FROM audit.seals"))
    # New appends and retention go on over the migrated chain.
    consumer = Consumer(name="audit", engine=scratch_engine, processed=processed_events)
    AuditHandlers(KEY).register(consumer)
    other = uuid.uuid4()
    assert await consumer.handle(task_event(other, at=NOW - timedelta(days=400))) is (
        Outcome.SUCCESS
    )
    assert await trail.apply_retention(scratch_engine, now=NOW, keep=RETENTION, key=KEY) >= 1
    assert (await trail.verify(scratch_engine, other, key=KEY, retention=RETENTION)).ok


async def test_migrations_of_the_audit_branch_go_down_and_up(scratch_engine: AsyncEngine) -> None:
    await migrate(scratch_engine)
    await downgrade(scratch_engine, revision="audit_0002")
    user_id = await legacy_trail(scratch_engine, 3, pruned=1)
    await migrate(scratch_engine)
    assert await trail.seal_legacy(scratch_engine, key=KEY) == 2
    assert (await trail.verify(scratch_engine, user_id, key=KEY, retention=RETENTION)).ok
