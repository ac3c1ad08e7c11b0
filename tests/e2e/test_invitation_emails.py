"""Invitation emails in the whole in-process system (gateway → outbox → notifications → SMTP):
an invitation to a shared project is emailed to the invited address whether or not it has an
account, saying the project, the inviter and the role; an invitee with an account also gets
an in-app notification; a redelivered event (even on another replica) sends nothing more.

A real SMTP server (aiosmtpd) listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events import ProjectInvitationCreated
from gateway.app import create_internal_app
from gateway_core.persistence import tables as gateway_tables
from taskstream.bootstrap import bootstrap
from taskstream.invocation import ServiceInvoker
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.e2e.test_notifications_flow import Mailbox, free_port, running
from tests.e2e.test_projects import create, invite, new_user
from workers.notifications.invitations import InvitationHandlers
from workers.notifications.main import invitation_sender
from workers.notifications.tables import invitation_notices, processed_events

pytestmark = pytest.mark.e2e

NOTIFICATIONS = "{ notifications(first: 50) { edges { node { taskId title body channel } } } }"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1."""
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """The test settings with e-mail on and quick retries."""
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mailbox.port}",
            "notification_retry_seconds": 0.2,
        }
    )


@pytest.fixture
async def mail_system(
    mail_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole in-process system with e-mail on."""
    async with running(mail_settings, engine) as client:
        yield client


async def mail_to(mailbox: Mailbox, address: str) -> EmailMessage:
    """The one message to `address`, once it arrived (how soon is a benchmark's figure)."""
    async with asyncio.timeout(20.0):
        while not mailbox.to(address):
            await asyncio.sleep(0.05)
    (message,) = mailbox.to(address)
    return message


def subject_of(message: EmailMessage) -> str:
    """The Subject header, decoded (non-ASCII text travels encoded)."""
    return str(make_header(decode_header(message["Subject"])))


def text_of(message: EmailMessage) -> str:
    """The plain-text body of a message."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


async def test_an_invitation_is_emailed_with_or_without_an_account(
    mail_system: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    alice, a = await new_user(mail_system)
    bob, b = await new_user(mail_system)
    project = await create(alice, "Launch ✓")
    stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    await invite(alice, project["id"], b["email"], "EDITOR")
    await invite(alice, project["id"], stranger, "VIEWER")
    to_bob = await mail_to(mailbox, b["email"])
    to_stranger = await mail_to(mailbox, stranger)
    for message, role in ((to_bob, "an editor"), (to_stranger, "a viewer")):
        assert subject_of(message) == f"{a['email']} invited you to \u201cLaunch ✓\u201d"
        body = text_of(message)
        assert "\u201cLaunch ✓\u201d" in body and a["email"] in body and role in body
    assert to_bob["Message-ID"] != to_stranger["Message-ID"]
    # Bob has an account: the invitation is in the app too; the stranger has nothing there.
    async with asyncio.timeout(2.0):
        while not (edges := (await bob.data(NOTIFICATIONS))["notifications"]["edges"]):
            await asyncio.sleep(0.05)
    (node,) = [edge["node"] for edge in edges]
    assert node["taskId"] is None and node["channel"] == "IN_APP"
    assert node["title"] == subject_of(to_bob)
    assert node["body"].splitlines() == text_of(to_bob).splitlines()
    # Alice, who invited, gets no notice of her own invitation.
    assert (await alice.data(NOTIFICATIONS))["notifications"]["edges"] == []


async def test_a_redelivered_invitation_sends_no_second_email(
    mail_system: httpx.AsyncClient,
    mailbox: Mailbox,
    mail_settings: Settings,
    engine: AsyncEngine,
) -> None:
    alice, _ = await new_user(mail_system)
    _, b = await new_user(mail_system)
    project = await create(alice)
    invitation = await invite(alice, project["id"], b["email"], "OWNER")
    await mail_to(mailbox, b["email"])
    # The very event the gateway published, delivered again to another notifications replica
    # (its own consumer and sender over the same database).
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(gateway_tables.outbox.c.topic, gateway_tables.outbox.c.payload).where(
                    gateway_tables.outbox.c.type == "taskstream.project.invitation.created.v1",
                    gateway_tables.outbox.c.payload["data"]["invitationId"].astext
                    == invitation["id"],
                )
            )
        ).one()
    gateway = bootstrap(mail_settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    invoker = ServiceInvoker.in_process(app_token=None)
    invoker.add_local("gateway", create_internal_app(gateway))
    replica = bootstrap(
        mail_settings,
        app_id="notifications",
        engine=engine,
        transport=MemoryTransport(),
        invoker=invoker,
    )
    sender = invitation_sender(replica)
    consumer = Consumer(name="notifications", engine=engine, processed=processed_events)
    handlers = InvitationHandlers(email_on=True)
    consumer.on(ProjectInvitationCreated, handlers.invitation_created)
    message = Message(row.topic, project["id"], dict(row.payload))
    assert await consumer.handle(message) is Outcome.SUCCESS
    # Even a copy with a new event id (a duplicate publication) queues nothing new.
    copy: dict[str, Any] = {**row.payload, "id": str(uuid.uuid4())}
    assert await consumer.handle(Message(row.topic, project["id"], copy)) is Outcome.SUCCESS
    assert await sender.step() == 0
    async with engine.connect() as connection:
        states = (
            await connection.execute(
                select(invitation_notices.c.channel, invitation_notices.c.state).where(
                    invitation_notices.c.invitation_id == uuid.UUID(invitation["id"])
                )
            )
        ).all()
    assert sorted(states) == [("EMAIL", "SENT"), ("IN_APP", "SENT")]
    assert len(mailbox.to(b["email"])) == 1
