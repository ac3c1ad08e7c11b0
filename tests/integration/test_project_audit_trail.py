"""Project chains over a real PostgreSQL, fed through the audit consumer as the bus delivers
events: a project's changes chain in their own trail besides the personal ones, once each,
and retention and the erasure of an account treat them as the contract says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import UserDeleted
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import TASK_EVENTS_TOPIC, envelope
from taskstream.messaging.consumer import Consumer
from tests.event_factories import wire_task
from workers.audit import trail
from workers.audit.domain import GENESIS_HASH, AuditRecord, Verification, entry_hash
from workers.audit.erasure import erase_user
from workers.audit.handlers import AuditHandlers
from workers.audit.tables import checkpoints, processed_events

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
KEY = b"audit-key-of-the-tests-0123456789"
RETENTION = timedelta(days=365)


@pytest.fixture
def consumer(engine: AsyncEngine) -> Consumer:
    """The audit service's consumer on the test database (as workers.audit.main builds it)."""
    consumer = Consumer(name="audit", engine=engine, processed=processed_events)
    AuditHandlers(KEY).register(consumer)
    consumer.on(UserDeleted, erase_user)
    return consumer


def project_task_event(
    owner: uuid.UUID,
    project: uuid.UUID,
    actor: uuid.UUID | None,
    *,
    at: datetime = NOW,
    title: str = "Plan",
) -> Message:
    """A task event of a project task, as the gateway's outbox publishes it."""
    task_id = str(uuid.uuid4())
    task = wire_task(task_id=task_id, user_id=owner, version=2, title=title).wire()
    task["projectId"] = str(project)
    data: dict[str, Any] = {
        "userId": str(owner),
        "taskId": task_id,
        "version": 2,
        "task": task,
        "changes": {"title": {"before": "Plan", "after": title}},
    }
    if actor is not None:
        data["actorId"] = str(actor)
    return _message("taskstream.task.updated.v1", subject=task_id, key=str(owner), at=at, data=data)


def member_added(project: uuid.UUID, member: uuid.UUID, *, at: datetime = NOW) -> Message:
    """`taskstream.project.member.added.v1`: `member` joined `project` (their own doing)."""
    data = {
        "userId": str(member),
        "projectId": str(project),
        "version": 2,
        "memberId": str(member),
        "role": "EDITOR",
    }
    return _message(
        "taskstream.project.member.added.v1",
        subject=str(project),
        key=str(project),
        at=at,
        data=data,
    )


def _message(type_: str, *, subject: str, key: str, at: datetime, data: dict[str, Any]) -> Message:
    body = envelope(
        topic=TASK_EVENTS_TOPIC,
        type_=type_,
        source="gateway",
        subject=subject,
        partition_key=key,
        time=at,
        data=data,
    ).body
    return Message(TASK_EVENTS_TOPIC, key, body)


async def records(engine: AsyncEngine, chain: uuid.UUID) -> list[AuditRecord]:
    """Every entry of a chain, in chain order."""
    async with engine.connect() as connection:
        found = await trail.page(connection, user_id=chain, first=200)
    return [record for _, record in found.records]


async def verify(engine: AsyncEngine, chain: uuid.UUID) -> Verification:
    """The chain verified as verifyProjectAuditLog does."""
    return await trail.verify(engine, chain, key=KEY, retention=RETENTION)


async def test_a_project_change_chains_in_the_project_and_the_owners_trail_once(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    owner, editor, project = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    chain = trail.project_chain(project)
    joined = member_added(project, editor)
    edited = project_task_event(owner, project, editor, title="Übersicht")
    for message in (joined, edited, edited, joined):  # redelivered: recorded once each
        assert await consumer.handle(message) is Outcome.SUCCESS
    in_project = await records(engine, chain)
    assert [(r.action, r.actor) for r in in_project] == [
        ("project.member.added", str(editor)),
        ("task.updated", str(editor)),
    ]
    assert {r.project_id for r in in_project} == {str(project)}
    assert in_project[0].changes == {"memberId": str(editor), "role": "EDITOR"}
    assert in_project[0].previous_hash == GENESIS_HASH
    assert in_project[1].hash == entry_hash(in_project[0].hash, in_project[1].hashed_fields())
    # The owner's own trail has the task's change (not the membership), naming the editor.
    (personal,) = await records(engine, owner)
    assert (personal.action, personal.actor, personal.project_id) == (
        "task.updated",
        str(editor),
        str(project),
    )
    assert personal.id != in_project[1].id
    assert personal.hashed_fields() | {"id": None} == in_project[1].hashed_fields() | {"id": None}
    assert (await verify(engine, chain)).ok and (await verify(engine, chain)).checked == 2
    assert (await verify(engine, owner)).ok
    # The editor made the change but owns no trail of it: their chain has nothing.
    assert await records(engine, editor) == []


async def test_a_batch_of_several_projects_and_owners_chains_each_in_order(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    owners = [uuid.uuid4(), uuid.uuid4()]
    projects = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
    messages = [
        project_task_event(owners[n % 2], projects[n % 3], None, title=f"t{n}") for n in range(36)
    ]
    assert await consumer.handle_batch(messages) == [Outcome.SUCCESS] * 36
    for index, project in enumerate(projects):
        found = await records(engine, trail.project_chain(project))
        assert [r.changes["title"]["after"] for r in found] == [
            f"t{n}" for n in range(36) if n % 3 == index
        ]
        # No member is named: the change was the owner's (a gateway event without actorId).
        assert {r.actor for r in found} <= {str(o) for o in owners}
        assert (await verify(engine, trail.project_chain(project))).checked == 12
    for owner in owners:
        assert (await verify(engine, owner)).checked == 18


async def test_retention_removes_a_projects_old_prefix_under_a_checkpoint(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    owner, project = uuid.uuid4(), uuid.uuid4()
    chain = trail.project_chain(project)
    for days in (400, 390, 10, 380):
        await consumer.handle(
            project_task_event(owner, project, owner, at=NOW - timedelta(days=days))
        )
    before = await records(engine, chain)
    await trail.apply_retention(engine, now=NOW, keep=RETENTION, key=KEY)
    after = await records(engine, chain)
    assert [r.id for r in after] == [r.id for r in before[2:]]
    async with engine.connect() as connection:
        (row,) = (
            await connection.execute(select(checkpoints).where(checkpoints.c.user_id == chain))
        ).all()
    assert (row.through_seq, row.removed, row.hash) == (2, 2, before[1].hash)
    result = await verify(engine, chain)
    assert result.ok and result.checked == 2
    await consumer.handle(project_task_event(owner, project, owner))
    assert (await verify(engine, chain)).ok


async def test_erasing_an_account_keeps_the_projects_it_acted_in_verifiable(
    engine: AsyncEngine, consumer: Consumer
) -> None:
    owner, project = uuid.uuid4(), uuid.uuid4()
    chain = trail.project_chain(project)
    await consumer.handle(member_added(project, owner))
    await consumer.handle(project_task_event(owner, project, owner))
    gone = _message(
        "taskstream.user.deleted.v1",
        subject=str(owner),
        key=str(owner),
        at=NOW,
        data={"userId": str(owner)},
    )
    assert await consumer.handle(gone) is Outcome.SUCCESS
    assert await records(engine, owner) == []
    # The project's trail is the project's: it stays whole (the members still rely on it).
    assert len(await records(engine, chain)) == 2
    assert (await verify(engine, chain)).ok
