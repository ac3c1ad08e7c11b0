"""Invitation notices over a real PostgreSQL, with the gateway's internal API in-process and
no service loop running (each step is taken by the test): retries and giving up when the
SMTP server cannot be reached, nothing sent for a revoked invitation, the in-app notice alone
when email is off, and one notice per invitation and channel however often its event comes."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import NotificationCreated, ProjectInvitationCreated, UserDeleted
from contracts.gateway_api import GatewayClient
from gateway.app import create_internal_app
from gateway_core.domain.projects import Role
from gateway_core.domain.users import new_user
from gateway_core.persistence import tables as gateway_tables
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import projects as project_service
from taskstream.bootstrap import bootstrap
from taskstream.invocation import ServiceInvoker
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import encode
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from workers.notifications.channels import EmailSender
from workers.notifications.erasure import erase_user
from workers.notifications.firing import RetryPolicy
from workers.notifications.invitations import InvitationHandlers, InvitationSender, Notice
from workers.notifications.leased import Cancelled, Sent
from workers.notifications.tables import (
    invitation_notices,
    notifications,
    processed_events,
)
from workers.notifications.tables import outbox as notifications_outbox

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def closed_port() -> int:
    """A TCP port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Setup:
    """The gateway's client and a way to make accounts, projects and invitations."""

    engine: AsyncEngine
    gateway: GatewayClient

    async def account(self) -> uuid.UUID:
        """A new account (no password needed here)."""
        user = new_user(email=f"u-{uuid.uuid4().hex[:10]}@example.com", timezone=None)
        async with UnitOfWork(self.engine) as uow:
            await uow.users.add(user, "not a real hash")
            await uow.commit()
        return user.id

    async def email_of(self, user_id: uuid.UUID) -> str:
        """The account's address."""
        async with UnitOfWork(self.engine) as uow:
            user = await uow.users.get(user_id)
        assert user is not None
        return user.email

    async def invitation(self, *, to: str, role: Role = Role.EDITOR) -> tuple[uuid.UUID, Message]:
        """A new project of a new owner inviting `to`; the invitation's id and its event."""
        owner = await self.account()
        project = await project_service.create_project(
            uow=UnitOfWork(self.engine), user_id=owner, name="Roadmap", color=None, now=NOW
        )
        invitation = await project_service.invite(
            uow=UnitOfWork(self.engine),
            user_id=owner,
            project_id=project.id,
            email=to,
            role=role,
            now=NOW,
        )
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(gateway_tables.outbox.c.topic, gateway_tables.outbox.c.payload).where(
                        gateway_tables.outbox.c.type == ProjectInvitationCreated.TYPE,
                        gateway_tables.outbox.c.payload["data"]["invitationId"].astext
                        == str(invitation.id),
                    )
                )
            ).one()
        return invitation.id, Message(row.topic, str(project.id), dict(row.payload))

    async def revoke(self, invitation_id: uuid.UUID) -> None:
        """Revoke the invitation as its project's owner."""
        async with UnitOfWork(self.engine) as uow:
            found = await uow.projects.get_invitation(invitation_id)
        await project_service.revoke_invitation(
            uow=UnitOfWork(self.engine),
            user_id=found.invited_by,
            invitation_id=invitation_id,
            now=NOW,
        )


async def cancel_due(engine: AsyncEngine, table: Table) -> None:
    """Cancel the notices earlier tests left due now or later in a sender's `table`."""
    async with engine.begin() as connection:
        await connection.execute(
            update(table).where(table.c.state.in_(("PENDING", "SENDING"))).values(state="CANCELLED")
        )


@pytest.fixture
async def setup(settings: Settings, engine: AsyncEngine) -> Setup:
    """The gateway's internal API in-process over the test database, with no notice of an
    earlier test due now or later (the sender's step counts every due notice of the database,
    and a notice an earlier test left SENDING falls due again when its lease runs out)."""
    await cancel_due(engine, invitation_notices)
    runtime = bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    invoker = ServiceInvoker.in_process(app_token=None)
    invoker.add_local("gateway", create_internal_app(runtime))
    return Setup(engine, GatewayClient(invoker))


def consumer_for(engine: AsyncEngine, *, email_on: bool) -> Consumer:
    """The notifications consumer's invitation route."""
    consumer = Consumer(name="notifications", engine=engine, processed=processed_events)
    handlers = InvitationHandlers(email_on=email_on)
    consumer.on(ProjectInvitationCreated, handlers.invitation_created)
    return consumer


def sender_for(setup: Setup, smtp_url: str | None, *, attempts: int = 3) -> InvitationSender:
    """A sender with immediate retries."""
    return InvitationSender(
        setup.engine,
        setup.gateway,
        email=EmailSender(smtp_url, "taskstream@example.com"),
        policy=RetryPolicy(max_attempts=attempts, base_seconds=0.0, max_seconds=0.0),
    )


async def notices(engine: AsyncEngine, invitation_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The invitation's notices by channel."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(invitation_notices).where(invitation_notices.c.invitation_id == invitation_id)
        )
        return {row.channel: row._asdict() for row in rows}


async def announced(engine: AsyncEngine, user_id: uuid.UUID) -> list[tuple[str, str | None, str]]:
    """The `notification.created.v1` events the notifications service's outbox holds for the
    user: (notification id, task id, title)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(notifications_outbox.c.payload).where(
                notifications_outbox.c.type == NotificationCreated.TYPE,
                notifications_outbox.c.partition_key == str(user_id),
            )
        )
        return [
            (p["data"]["notificationId"], p["data"]["taskId"], p["data"]["title"]) for (p,) in rows
        ]


async def test_an_unreachable_smtp_server_is_retried_then_given_up(setup: Setup) -> None:
    invitation_id, event = await setup.invitation(to="stranger@example.com")
    consumer = consumer_for(setup.engine, email_on=True)
    assert await consumer.handle(event) is Outcome.SUCCESS
    found = await notices(setup.engine, invitation_id)
    # No account with that address: the email only.
    assert set(found) == {"EMAIL"} and found["EMAIL"]["user_id"] is None
    sender = sender_for(setup, f"smtp://127.0.0.1:{closed_port()}")
    assert await sender.step() == 1
    email = (await notices(setup.engine, invitation_id))["EMAIL"]
    assert (email["state"], email["attempts"]) == ("PENDING", 1)
    assert email["last_error"].startswith("smtp:")
    assert await sender.step() == 1
    assert await sender.step() == 1
    email = (await notices(setup.engine, invitation_id))["EMAIL"]
    assert (email["state"], email["attempts"]) == ("FAILED", 3)
    assert await sender.step() == 0


async def test_a_revoked_invitation_is_not_sent(setup: Setup) -> None:
    invitee = await setup.account()
    invitation_id, event = await setup.invitation(to=await setup.email_of(invitee))
    await setup.revoke(invitation_id)
    assert await consumer_for(setup.engine, email_on=True).handle(event) is Outcome.SUCCESS
    # Any send would have failed (nobody listens) and been retried, not cancelled.
    assert await sender_for(setup, f"smtp://127.0.0.1:{closed_port()}").step() == 2
    found = await notices(setup.engine, invitation_id)
    assert {channel: row["state"] for channel, row in found.items()} == {
        "EMAIL": "CANCELLED",
        "IN_APP": "CANCELLED",
    }
    assert found["EMAIL"]["last_error"] == "the invitation is REVOKED"
    async with setup.engine.connect() as connection:
        stored = await connection.scalar(
            select(notifications.c.id).where(notifications.c.user_id == invitee)
        )
    assert stored is None


async def test_with_email_off_an_invitee_with_an_account_is_notified_in_the_app_once(
    setup: Setup,
) -> None:
    invitee = await setup.account()
    invitation_id, event = await setup.invitation(
        to=await setup.email_of(invitee), role=Role.VIEWER
    )
    consumer = consumer_for(setup.engine, email_on=False)
    assert await consumer.handle(event) is Outcome.SUCCESS
    # A duplicate publication of the event (a new id): the same invitation, nothing new.
    copy = Message(event.topic, event.key, {**event.body, "id": str(uuid.uuid4())})
    assert await consumer.handle(copy) is Outcome.SUCCESS
    assert set(await notices(setup.engine, invitation_id)) == {"IN_APP"}
    sender = sender_for(setup, None)
    assert await sender.step() == 1
    assert await sender.step() == 0
    (row,) = (await notices(setup.engine, invitation_id)).values()
    assert row["state"] == "SENT" and row["notification_id"] is not None
    async with setup.engine.connect() as connection:
        stored = (
            await connection.execute(
                select(notifications).where(notifications.c.user_id == invitee)
            )
        ).all()
    assert [(n.id, n.task_id, n.channel) for n in stored] == [
        (row["notification_id"], None, "IN_APP")
    ]
    assert "Roadmap" in stored[0].title and "a viewer (read only)" in stored[0].body
    # Announced once, in the same transaction (what the invitee's subscription is pushed).
    assert await announced(setup.engine, invitee) == [
        (str(row["notification_id"]), None, stored[0].title)
    ]


async def test_deleting_the_invitees_account_erases_their_notices(setup: Setup) -> None:
    invitee = await setup.account()
    address = await setup.email_of(invitee)
    invitation_id, event = await setup.invitation(to=address)
    consumer = consumer_for(setup.engine, email_on=True)
    consumer.on(UserDeleted, erase_user)
    assert await consumer.handle(event) is Outcome.SUCCESS
    assert set(await notices(setup.engine, invitation_id)) == {"EMAIL", "IN_APP"}
    gone = encode(UserDeleted(user_id=invitee), source="gateway", time=NOW)
    assert await consumer.handle(Message(gone.topic, gone.partition_key, gone.body)) is (
        Outcome.SUCCESS
    )
    assert await notices(setup.engine, invitation_id) == {}


class OutlivesItsLease(InvitationSender):
    """A sender so slow that its lease runs out and `other` claims and sends the notice
    before it is done."""

    other: InvitationSender | None = None

    async def deliver(self, notice: Notice) -> Sent | Cancelled:
        """Let the other sender claim and send it first, then finish as usual."""
        other, self.other = self.other, None
        if other is not None:
            assert await other.step() == 1
        return await super().deliver(notice)


async def test_a_sender_whose_lease_ran_out_records_nothing(setup: Setup) -> None:
    invitee = await setup.account()
    invitation_id, event = await setup.invitation(to=await setup.email_of(invitee))
    assert await consumer_for(setup.engine, email_on=False).handle(event) is Outcome.SUCCESS
    policy = RetryPolicy(max_attempts=3, base_seconds=0.0, max_seconds=0.0)
    slow = OutlivesItsLease(
        setup.engine,
        setup.gateway,
        email=EmailSender(None, "t@example.com"),
        policy=policy,
        lease_seconds=0.0,
    )
    slow.other = sender_for(setup, None)
    assert await slow.step() == 1
    (row,) = (await notices(setup.engine, invitation_id)).values()
    # The second claim's send is the one recorded; the first stored no second notification.
    assert (row["state"], row["attempts"]) == ("SENT", 2)
    async with setup.engine.connect() as connection:
        stored = await connection.scalars(
            select(notifications.c.id).where(notifications.c.user_id == invitee)
        )
        assert list(stored) == [row["notification_id"]]
    assert [n for n, _, _ in await announced(setup.engine, invitee)] == [
        str(row["notification_id"])
    ]
