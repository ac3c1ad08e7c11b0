"""Invitations to shared projects: an email to the invited address, and an in-app notification
for an invitee who already has an account.

`taskstream.project.invitation.created.v1` queues one notice per channel, keyed by invitation
and channel, in the consumer's transaction: the event's id is recorded as processed in the
same transaction, and the key makes a redelivery (or a duplicate) queue nothing more, so one
invitation gets one email. A sender loop then works through the due notices as the firing
loop does reminders (workers/notifications/leased.py): a lease per claimed notice, retries
with backoff, FAILED when they run out. The event carries no email address (personal data of
someone who may have no account): the sender asks the gateway for the invitation as it is
now, with the project's name, the inviter and the role, and sends nothing for an invitation
that is no longer pending. The in-app notification is stored with its
`notification.created.v1`, which the gateway pushes to the invitee's subscription.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import ProjectInvitationCreated
from contracts.gateway_api import GetInvitation, Invitation
from taskstream.errors import NotFound
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.in_app import IN_APP, store_notice
from workers.notifications.leased import Cancelled, LeasedSender, Sent
from workers.notifications.tables import db_now, invitation_notices

EMAIL = "EMAIL"
ROLES = {
    "OWNER": "an owner (all rights: settings, members and invitations)",
    "EDITOR": "an editor (the project's tasks, sections and tags)",
    "VIEWER": "a viewer (read only)",
}
# A project name or an address goes into the Subject header: one line, and not a long one.
SUBJECT_PART_MAX = 100


def one_line(value: str, limit: int = SUBJECT_PART_MAX) -> str:
    """`value` with every run of whitespace (line breaks included) made one space, cut short."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Letter:
    """What an invitation says, by email and in the app."""

    subject: str
    body: str

    @classmethod
    def of(cls, invitation: Invitation) -> Letter:
        """The letter of an invitation as the gateway answers it."""
        project = one_line(invitation.project_name)
        inviter = one_line(invitation.invited_by_email)
        role = ROLES.get(invitation.role, invitation.role)
        body = (
            f"{inviter} invited {invitation.email} to the project \u201c{project}\u201d on "
            f"Taskstream, as {role}.\n\n"
            "To accept or decline, sign in to Taskstream with this address (or sign up with it "
            "if you have no account yet) and open your invitations.\n"
        )
        return cls(subject=f"{inviter} invited you to \u201c{project}\u201d", body=body)


class InvitationHandlers:
    """Queues the notices of new invitations (in the consumer's transaction)."""

    def __init__(self, *, email_on: bool, wake: Callable[[], None] | None = None) -> None:
        self._email_on = email_on
        self._wake = wake

    async def invitation_created(
        self, event: CloudEvent[ProjectInvitationCreated], connection: AsyncConnection
    ) -> Outcome:
        """One email notice (when email is on) and one in-app notice (for an invitee with an
        account) per invitation, whatever the number of deliveries of its event."""
        data = event.data
        now = await db_now(connection)
        rows: list[dict[str, Any]] = []
        common = {
            "invitation_id": data.invitation_id,
            "event_id": event.id,
            "project_id": data.project_id,
            "user_id": data.invitee_id,
            "state": "PENDING",
            "next_attempt_at": now,
        }
        if self._email_on:
            rows.append({**common, "channel": EMAIL})
        if data.invitee_id is not None:
            rows.append({**common, "channel": IN_APP})
        if rows:
            await connection.execute(
                pg_insert(invitation_notices).values(rows).on_conflict_do_nothing()
            )
            if self._wake is not None:
                self._wake()
        return Outcome.SUCCESS


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice this sender holds the lease of."""

    invitation_id: uuid.UUID
    channel: str
    user_id: uuid.UUID | None
    attempts: int


CLAIM = text(
    """
    WITH due AS (
        SELECT invitation_id, channel FROM notifications.invitation_notices
        WHERE state IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notifications.invitation_notices AS n
    SET state = 'SENDING', attempts = n.attempts + 1,
        next_attempt_at = now() + make_interval(secs => :lease)
    FROM due
    WHERE n.invitation_id = due.invitation_id AND n.channel = due.channel
    RETURNING n.invitation_id, n.channel, n.user_id, n.attempts
    """
)


class InvitationSender(LeasedSender[Notice]):
    """Sends due invitation notices; run() until cancelled."""

    table = invitation_notices
    keys = ("invitation_id", "channel")
    claim = CLAIM
    notice = Notice
    what = "invitation notice"

    async def deliver(self, notice: Notice) -> Sent | Cancelled:
        """Send one notice of the invitation as it is now; nothing once it is not pending."""
        try:
            invitation = await self.gateway.get_invitation(
                GetInvitation(invitation_id=notice.invitation_id)
            )
        except NotFound:
            return Cancelled("the invitation is gone (its project was deleted)")
        if invitation.state != "PENDING":
            return Cancelled(f"the invitation is {invitation.state}")
        letter = Letter.of(invitation)
        if notice.channel == IN_APP:
            return Sent(store=functools.partial(self._in_app, notice, letter))
        await self.email.send_text(
            invitation.email,
            subject=letter.subject,
            body=letter.body,
            message_id=f"invitation-{invitation.id}",
        )
        return Sent()

    @staticmethod
    async def _in_app(
        notice: Notice, letter: Letter, connection: AsyncConnection
    ) -> dict[str, Any]:
        """Store the in-app notification (in the transaction that marks the notice SENT)."""
        assert notice.user_id is not None, "in-app notices are queued for accounts only"
        notification_id = uuid.uuid4()
        await store_notice(
            connection,
            notification_id=notification_id,
            user_id=notice.user_id,
            task_id=None,
            title=letter.subject,
            body=letter.body,
            at=await db_now(connection),
        )
        return {"notification_id": notification_id}
