"""Reminders reach a project task's assignee (else its owner), follow re-assignment,
unassignment and hand-over, and an assignment leaves the new assignee one notice: the
notifications consumer and firing loop on a real PostgreSQL, events through the consumer."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import TaskCreated, TaskEvent, TaskUpdated, UserDeleted
from contracts.gateway_api import GatewayClient
from contracts.task import Task, TaskChanges
from taskstream.invocation import ServiceInvoker
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import encode
from taskstream.messaging.consumer import Consumer
from tests.integration.test_invitation_notices import (
    Setup,
    announced,
    cancel_due,
    closed_port,
    setup,
)
from workers.notifications.assignments import AssignmentMailer, notice_id
from workers.notifications.channels import EmailSender, WebhookSender
from workers.notifications.erasure import erase_user
from workers.notifications.firing import FiringLoop, RetryPolicy
from workers.notifications.schedule import TASK_CHANGES, ScheduleHandlers
from workers.notifications.tables import (
    assignment_notices,
    deliveries,
    notifications,
    processed_events,
    schedule,
)

pytestmark = pytest.mark.integration

__all__ = ["setup"]

PAST = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)


class World:
    """Three accounts' ids, one shared project, and the notifications consumer."""

    def __init__(self, engine: AsyncEngine, handlers: ScheduleHandlers | None = None) -> None:
        self.engine = engine
        self.alice, self.bob, self.carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.project = uuid.uuid4()
        self.task_id = uuid.uuid4()
        self.reminder_id = uuid.uuid4()
        self.version = 0
        self.assignee: uuid.UUID | None = None
        self.owner = self.alice
        self.consumer = Consumer(name="notifications", engine=engine, processed=processed_events)
        handlers = handlers or ScheduleHandlers()
        for model in TASK_CHANGES:
            self.consumer.on(model, handlers.task_changed)
        self.consumer.on(UserDeleted, erase_user)
        # The gateway is never called here: only firing and in-app deliveries run.
        self.loop = FiringLoop(
            engine,
            GatewayClient(ServiceInvoker.in_process(app_token=None)),
            email=EmailSender(None, "taskstream@example.com"),
            webhook=WebhookSender(allow_private=False),
            policy=RetryPolicy(max_attempts=3, base_seconds=0.0, max_seconds=0.0),
        )

    def task(self) -> Task:
        """The task as its events carry it now, with one IN_APP reminder that is due."""
        return Task.model_validate(
            {
                "id": str(self.task_id),
                "userId": str(self.owner),
                "title": "Ship the release",
                "notes": "",
                "status": "OPEN",
                "priority": "NONE",
                "tags": [],
                "dueAt": None,
                "completedAt": None,
                "recurrence": None,
                "seriesId": None,
                "instanceNumber": 1,
                "reminders": [
                    {
                        "id": str(self.reminder_id),
                        "remindAt": PAST.isoformat(),
                        "beforeDue": None,
                        "channels": ["IN_APP"],
                        "state": "SCHEDULED",
                        "sentAt": None,
                    }
                ],
                "createdAt": PAST.isoformat(),
                "updatedAt": PAST.isoformat(),
                "version": self.version,
                "projectId": str(self.project),
                "assigneeId": None if self.assignee is None else str(self.assignee),
            }
        )

    async def deliver(self, event: TaskEvent | UserDeleted) -> Message:
        """Hand one event to the consumer (as the bus would); the message, for redelivery."""
        envelope = encode(event, source="gateway", time=datetime.now(UTC))
        message = Message(envelope.topic, envelope.partition_key, envelope.body)
        assert await self.consumer.handle(message) is Outcome.SUCCESS
        return message

    async def create(self, *, assignee: uuid.UUID | None, actor: uuid.UUID) -> Message:
        """Alice's task created in the project (by `actor`), assigned to `assignee`."""
        self.version, self.assignee = 1, assignee
        return await self.deliver(TaskCreated.of(self.task(), actor_id=actor))

    async def assign(self, assignee: uuid.UUID | None, *, actor: uuid.UUID) -> Message:
        """An update that changes the assignee."""
        before, self.assignee = self.assignee, assignee
        self.version += 1
        changes = TaskChanges.model_validate(
            {
                "assigneeId": {
                    "before": None if before is None else str(before),
                    "after": None if assignee is None else str(assignee),
                }
            }
        )
        return await self.deliver(TaskUpdated.of(self.task(), changes=changes, actor_id=actor))

    async def hand_over(self, to: uuid.UUID) -> None:
        """The owner's account is deleted: the task is handed to the project's owner."""
        before, self.owner = self.owner, to
        self.version += 1
        changes = TaskChanges.model_validate({"userId": {"before": str(before), "after": str(to)}})
        await self.deliver(TaskUpdated.of(self.task(), changes=changes))

    async def forget(self, message: Message) -> None:
        """Drop the consumer's record of having processed the message (so it is handled again)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                processed_events.delete().where(processed_events.c.event_id == message.id)
            )

    async def row(self) -> Any:
        """The reminder's schedule row."""
        async with self.engine.connect() as connection:
            return (
                await connection.execute(
                    select(schedule).where(schedule.c.reminder_id == self.reminder_id)
                )
            ).one()

    async def inbox(self, user_id: uuid.UUID) -> list[tuple[str, uuid.UUID | None]]:
        """The user's notifications about this task: (title, reminder id)."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                select(notifications.c.title, notifications.c.reminder_id)
                .where(notifications.c.user_id == user_id, notifications.c.task_id == self.task_id)
                .order_by(notifications.c.created_at, notifications.c.title)
            )
            return [(r.title, r.reminder_id) for r in found]

    async def deliveries_of(self) -> list[tuple[uuid.UUID, str]]:
        """The reminder's deliveries: (to whom, state)."""
        async with self.engine.connect() as connection:
            found = await connection.execute(
                select(deliveries.c.user_id, deliveries.c.state).where(
                    deliveries.c.reminder_id == self.reminder_id
                )
            )
            return [(r.user_id, r.state) for r in found]


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    """A fresh set of ids on the migrated test database."""
    return World(engine)


async def test_the_reminder_reaches_the_assignee_and_follows_reassignment(world: World) -> None:
    await world.create(assignee=world.bob, actor=world.alice)
    assert (await world.row()).recipient_id == world.bob
    await world.assign(world.carol, actor=world.alice)
    row = await world.row()
    assert (row.recipient_id, row.user_id) == (world.carol, world.alice)

    await world.loop.fire_due()
    await world.loop.deliver_in_app()
    assert await world.inbox(world.carol) == [
        ("Assigned to you: Ship the release", None),
        ("Ship the release", world.reminder_id),
    ]
    # Bob had the notice of his assignment, never the reminder; Alice (the owner) nothing.
    assert await world.inbox(world.bob) == [("Assigned to you: Ship the release", None)]
    assert await world.inbox(world.alice) == []
    assert (await world.row()).user_id == world.alice  # outcomes stay keyed by the owner


async def test_unassigning_during_a_firing_cancels_the_old_assignees_deliveries(
    world: World,
) -> None:
    await world.create(assignee=world.bob, actor=world.alice)
    await world.loop.fire_due()
    assert await world.deliveries_of() == [(world.bob, "PENDING")]
    await world.assign(None, actor=world.alice)
    assert await world.deliveries_of() == [(world.bob, "CANCELLED")]
    row = await world.row()
    # The firing ends (nothing was delivered) instead of waiting forever; the owner is next.
    assert (row.state, row.outcome_sent, row.recipient_id) == ("FIRING", False, world.alice)
    await world.loop.deliver_in_app()
    assert await world.inbox(world.bob) == [("Assigned to you: Ship the release", None)]


async def test_a_hand_over_moves_an_unassigned_tasks_reminders_to_the_new_owner(
    world: World,
) -> None:
    await world.create(assignee=None, actor=world.alice)
    assert (await world.row()).recipient_id == world.alice
    await world.hand_over(world.carol)
    row = await world.row()
    assert (row.recipient_id, row.user_id) == (world.carol, world.carol)
    await world.loop.fire_due()
    await world.loop.deliver_in_app()
    assert await world.inbox(world.carol) == [("Ship the release", world.reminder_id)]
    assert await world.inbox(world.alice) == []


async def test_one_notice_per_event_and_none_for_self_assignment_or_unassignment(
    world: World,
) -> None:
    message = await world.create(assignee=world.bob, actor=world.alice)
    # A redelivery of the same event: the consumer skips it, and its notice id is the same.
    assert await world.consumer.handle(message) is Outcome.SUCCESS
    await world.forget(message)
    assert await world.consumer.handle(message) is Outcome.SUCCESS
    assert await world.inbox(world.bob) == [("Assigned to you: Ship the release", None)]
    # Announced once for the live push, however often the event was handled.
    identity = str(notice_id(message.id, world.bob))
    assert await announced(world.engine, world.bob) == [
        (identity, str(world.task_id), "Assigned to you: Ship the release")
    ]
    await world.assign(world.carol, actor=world.carol)  # Carol takes it herself
    await world.assign(None, actor=world.alice)
    assert await world.inbox(world.carol) == []
    assert await world.inbox(world.alice) == []
    assert await announced(world.engine, world.carol) == []


async def test_a_late_older_event_does_not_take_the_reminder_back(world: World) -> None:
    created = await world.create(assignee=world.bob, actor=world.alice)
    await world.assign(world.carol, actor=world.alice)
    # Version 1 again after version 2 (a redelivery past the processed-event record).
    await world.forget(created)
    assert await world.consumer.handle(created) is Outcome.SUCCESS
    assert (await world.row()).recipient_id == world.carol
    assert await world.inbox(world.bob) == [("Assigned to you: Ship the release", None)]


async def test_a_deleted_assignees_pending_reminders_go_back_to_the_owner(world: World) -> None:
    await world.create(assignee=world.bob, actor=world.alice)
    await world.loop.fire_due()
    await world.deliver(UserDeleted(user_id=world.bob))
    # Bob's deliveries and notices are erased; the firing ends with what remained (nothing).
    assert await world.deliveries_of() == []
    assert await world.inbox(world.bob) == []
    row = await world.row()
    assert (row.recipient_id, row.user_id, row.outcome_sent) == (world.alice, world.alice, False)


async def test_a_deleted_assignees_scheduled_reminder_still_fires_for_the_owner(
    world: World,
) -> None:
    await world.create(assignee=world.bob, actor=world.alice)
    await world.deliver(UserDeleted(user_id=world.bob))
    row = await world.row()
    assert (row.state, row.recipient_id) == ("SCHEDULED", world.alice)
    await world.loop.fire_due()
    await world.loop.deliver_in_app()
    assert await world.inbox(world.alice) == [("Ship the release", world.reminder_id)]


class Inbox:
    """An aiosmtpd handler keeping the recipients and subject of every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept and keep the message."""
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.messages.append(
            (list(envelope.rcpt_tos), str(email.message_from_bytes(raw)["Subject"]))
        )
        return "250 OK"


@pytest.fixture
async def no_due_mails(setup: Setup) -> None:
    """No assignment email of an earlier test due now or later (the mailer's step counts every
    due email of the database, and one an earlier test left SENDING falls due again when its
    lease runs out)."""
    await cancel_due(setup.engine, assignment_notices)


def mailer(setup: Setup, smtp_url: str | None) -> AssignmentMailer:
    """A mailer with immediate retries, three attempts."""
    return AssignmentMailer(
        setup.engine,
        setup.gateway,
        email=EmailSender(smtp_url, "taskstream@example.com"),
        policy=RetryPolicy(max_attempts=3, base_seconds=0.0, max_seconds=0.0),
    )


async def mails(engine: AsyncEngine, user_id: uuid.UUID) -> list[tuple[str, int, str | None]]:
    """The user's queued assignment emails: (state, attempts, last error)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(
                assignment_notices.c.state,
                assignment_notices.c.attempts,
                assignment_notices.c.last_error,
            ).where(assignment_notices.c.user_id == user_id)
        )
        return [(r.state, r.attempts, r.last_error) for r in found]


@pytest.mark.usefixtures("no_due_mails")
async def test_an_assignment_is_emailed_once_when_email_is_on(setup: Setup) -> None:
    woken: list[int] = []
    world = World(setup.engine, ScheduleHandlers(email_on=True, mail_wake=lambda: woken.append(1)))
    world.bob = await setup.account()
    address = await setup.email_of(world.bob)
    message = await world.create(assignee=world.bob, actor=world.alice)
    await world.forget(message)
    assert await world.consumer.handle(message) is Outcome.SUCCESS  # a redelivery
    assert woken == [1, 1]
    assert await mails(setup.engine, world.bob) == [("PENDING", 0, None)]

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        sender = mailer(setup, f"smtp://127.0.0.1:{controller.port}")
        assert await sender.step() == 1
        assert await sender.step() == 0
    finally:
        controller.stop()
    assert inbox.messages == [([address], "Assigned to you: Ship the release")]
    assert await mails(setup.engine, world.bob) == [("SENT", 1, None)]


@pytest.mark.usefixtures("no_due_mails")
async def test_assignment_emails_are_retried_then_fail_and_are_erased_with_the_account(
    setup: Setup,
) -> None:
    world = World(setup.engine, ScheduleHandlers(email_on=True))
    world.bob = await setup.account()
    await world.create(assignee=world.bob, actor=world.alice)
    sender = mailer(setup, f"smtp://127.0.0.1:{closed_port()}")
    for _ in range(3):
        assert await sender.step() == 1
    assert await sender.step() == 0
    [(state, attempts, error)] = await mails(setup.engine, world.bob)
    assert (state, attempts) == ("FAILED", 3) and error is not None and error.startswith("smtp:")
    await world.deliver(UserDeleted(user_id=world.bob))
    assert await mails(setup.engine, world.bob) == []


@pytest.mark.usefixtures("no_due_mails")
async def test_an_assignment_email_to_an_account_gone_meanwhile_is_cancelled(
    setup: Setup,
) -> None:
    world = World(setup.engine, ScheduleHandlers(email_on=True))  # Bob: no account here
    await world.create(assignee=world.bob, actor=world.alice)
    assert await mailer(setup, f"smtp://127.0.0.1:{closed_port()}").step() == 1
    assert await mails(setup.engine, world.bob) == [("CANCELLED", 1, "the account is gone")]


async def test_with_email_off_nothing_is_queued(world: World) -> None:
    await world.create(assignee=world.bob, actor=world.alice)
    assert await mails(world.engine, world.bob) == []
    assert await world.inbox(world.bob) == [("Assigned to you: Ship the release", None)]
