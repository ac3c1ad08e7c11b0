"""Invitations to shared projects: an email to the invited address, and an in-app notification
for an invitee who already has an account.

`taskstream.project.invitation.created.v1` queues one notice per channel, keyed by invitation
and channel, in the consumer's transaction: the event's id is recorded as processed in the
same transaction, and the key makes a redelivery (or a duplicate) queue nothing more, so one
invitation gets one email. A sender loop then works through the due notices as the firing
loop does reminders: a lease per claimed notice, retries with backoff, FAILED when they run
out. The event carries no email address (personal data of someone who may have no account):
the sender asks the gateway for the invitation as it is now, with the project's name, the
inviter and the role, and sends nothing for an invitation that is no longer pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import ProjectInvitationCreated
from contracts.gateway_api import GatewayClient, GetInvitation, Invitation
from taskstream.errors import NotFound, TaskstreamError
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.channels import DeliveryError, EmailSender
from workers.notifications.firing import RetryPolicy
from workers.notifications.tables import db_now, invitation_notices, notifications

log = logging.getLogger(__name__)

EMAIL = "EMAIL"
IN_APP = "IN_APP"
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


class InvitationSender:
    """Sends due invitation notices; run() until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        gateway: GatewayClient,
        *,
        email: EmailSender,
        policy: RetryPolicy,
        interval: float = 1.0,
        batch: int = 16,
        lease_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.email = email
        self.policy = policy
        self.interval = interval
        self.batch = batch
        self.lease_seconds = lease_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due notices now (one was just queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled; a notice in flight when it stops is retried after its lease."""
        while True:
            busy = False
            try:
                busy = await self.step() >= self.batch
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("invitation notices failed; continuing")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
            self._wake.clear()

    async def step(self) -> int:
        """Claim and send the due notices (concurrently); how many were claimed."""
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                CLAIM, {"limit": self.batch, "lease": self.lease_seconds}
            )
            claimed = [Notice(**row._asdict()) for row in rows]
        await asyncio.gather(*(self.send(notice) for notice in claimed))
        return len(claimed)

    async def send(self, notice: Notice) -> None:
        """Send one notice and record what happened."""
        error: DeliveryError | None = None
        cancelled: str | None = None
        try:
            invitation = await self.gateway.get_invitation(
                GetInvitation(invitation_id=notice.invitation_id)
            )
            if invitation.state != "PENDING":
                cancelled = f"the invitation is {invitation.state}"
            elif notice.channel == IN_APP:
                await self._in_app(notice, Letter.of(invitation))
                return
            else:
                letter = Letter.of(invitation)
                await self.email.send_text(
                    invitation.email,
                    subject=letter.subject,
                    body=letter.body,
                    message_id=f"invitation-{invitation.id}",
                )
        except DeliveryError as failure:
            error = failure
        except NotFound:
            cancelled = "the invitation is gone (its project was deleted)"
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            # Unexpected (or the gateway unreachable): retry later like any failed send.
            if not isinstance(failure, TaskstreamError):
                log.exception("unexpected error sending an invitation notice")
            error = DeliveryError(f"{type(failure).__name__}: {failure}")
        await self.record(notice, error, cancelled=cancelled)

    async def _in_app(self, notice: Notice, letter: Letter) -> None:
        """Store the in-app notification and mark the notice SENT, in one transaction."""
        assert notice.user_id is not None, "in-app notices are queued for accounts only"
        async with self.engine.begin() as connection:
            if not await self._still_ours(connection, notice):
                return
            now = await db_now(connection)
            notification_id = uuid.uuid4()
            await connection.execute(
                insert(notifications).values(
                    id=notification_id,
                    user_id=notice.user_id,
                    task_id=None,
                    reminder_id=None,
                    title=letter.subject,
                    body=letter.body,
                    channel=IN_APP,
                    created_at=now,
                )
            )
            await connection.execute(
                self._notice(notice).values(
                    state="SENT", sent_at=now, last_error=None, notification_id=notification_id
                )
            )

    async def record(
        self, notice: Notice, error: DeliveryError | None, *, cancelled: str | None
    ) -> None:
        """Store a send's result: SENT, CANCELLED, retry later, or FAILED when retries ran out."""
        values: dict[str, Any]
        if cancelled is not None:
            values = {"state": "CANCELLED", "last_error": cancelled}
        elif error is None:
            values = {"state": "SENT", "sent_at": func.now(), "last_error": None}
        elif error.permanent or notice.attempts >= self.policy.max_attempts:
            values = {"state": "FAILED", "last_error": error.reason}
            log.warning(
                "invitation notice failed for good",
                extra={"invitation": str(notice.invitation_id), "reason": error.reason},
            )
        else:
            delay = self.policy.delay(notice.attempts)
            values = {
                "state": "PENDING",
                "last_error": error.reason,
                "next_attempt_at": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay),
            }
        async with self.engine.begin() as connection:
            if await self._still_ours(connection, notice):
                await connection.execute(self._notice(notice).values(**values))

    @staticmethod
    def _notice(notice: Notice) -> Any:
        return update(invitation_notices).where(
            invitation_notices.c.invitation_id == notice.invitation_id,
            invitation_notices.c.channel == notice.channel,
        )

    @staticmethod
    async def _still_ours(connection: AsyncConnection, notice: Notice) -> bool:
        """Whether we still hold the notice's lease (not re-claimed after it expired)."""
        attempts = await connection.scalar(
            select(invitation_notices.c.attempts)
            .where(
                invitation_notices.c.invitation_id == notice.invitation_id,
                invitation_notices.c.channel == notice.channel,
                invitation_notices.c.state == "SENDING",
            )
            .with_for_update()
        )
        return attempts == notice.attempts
