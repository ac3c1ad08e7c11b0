"""The "assigned to you" notice: an in-app notification (and an email when email is on) to a
task's new assignee.

A task created with an assignee, or updated with a new one (`changes.assigneeId`), by someone
other than that assignee gets one notice for them. Its id is derived from the event's id and
the recipient, and it is written in the consumer's transaction, so a redelivered (or
duplicated) event stores nothing more: one notice per (event, recipient). The email is queued
as a row under the same id and sent by `AssignmentMailer` as invitations are: a lease per
claimed row, retries with backoff, FAILED when they run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.events import TaskCreated, TaskEvent, TaskUpdated
from contracts.gateway_api import GatewayClient, GetUser
from taskstream.errors import NotFound, TaskstreamError
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.channels import DeliveryError, EmailSender
from workers.notifications.firing import RetryPolicy
from workers.notifications.invitations import IN_APP, one_line
from workers.notifications.tables import assignment_notices, db_now, notifications

log = logging.getLogger(__name__)

# Fixed namespace of the notices' ids (uuid5 of event id and recipient).
NOTICE_IDS = uuid.UUID("6f1d3c52-9a0e-4b7e-8a4f-2b1c5d0e9a71")
BODY = "A task in a shared project was assigned to you."


def new_assignee(event: TaskEvent) -> uuid.UUID | None:
    """The user this event assigned the task to, unless none or the actor themselves."""
    if isinstance(event, TaskCreated):
        assigned = event.task.assignee_id
    elif isinstance(event, TaskUpdated) and event.changes.assignee_id is not None:
        assigned = event.changes.assignee_id.after
    else:
        return None
    # Personal tasks' events carry no actor: the owner made the change.
    actor = event.actor_id or event.user_id
    return None if assigned is None or assigned == actor else assigned


def notice_id(event_id: str, recipient: uuid.UUID) -> uuid.UUID:
    """The notification id of the notice of one event to one recipient."""
    return uuid.uuid5(NOTICE_IDS, f"{event_id}/{recipient}")


def subject(task_title: str) -> str:
    """The notice's title (and email subject): one line, not a long one."""
    return f"Assigned to you: {one_line(task_title)}"


async def notify_assigned(
    event: CloudEvent[TaskEvent], connection: AsyncConnection, *, email_on: bool = False
) -> bool:
    """Store the in-app notice of an assignment, and queue its email when email is on (in the
    consumer's transaction); whether the event assigned anyone."""
    recipient = new_assignee(event.data)
    if recipient is None:
        return False
    task = event.data.task
    now = await db_now(connection)
    identity = notice_id(event.id, recipient)
    await connection.execute(
        pg_insert(notifications)
        .values(
            id=identity,
            user_id=recipient,
            task_id=task.id,
            reminder_id=None,
            title=subject(task.title),
            body=BODY,
            channel=IN_APP,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.id])
    )
    if email_on:
        await connection.execute(
            pg_insert(assignment_notices)
            .values(
                id=identity,
                user_id=recipient,
                task_id=task.id,
                task_title=task.title,
                state="PENDING",
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=[assignment_notices.c.id])
        )
    return True


@dataclass(frozen=True, slots=True)
class Mail:
    """A queued email this mailer holds the lease of."""

    id: uuid.UUID
    user_id: uuid.UUID
    task_title: str
    attempts: int


CLAIM = text(
    """
    WITH due AS (
        SELECT id FROM notifications.assignment_notices
        WHERE state IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notifications.assignment_notices AS n
    SET state = 'SENDING', attempts = n.attempts + 1,
        next_attempt_at = now() + make_interval(secs => :lease)
    FROM due
    WHERE n.id = due.id
    RETURNING n.id, n.user_id, n.task_title, n.attempts
    """
)


class AssignmentMailer:
    """Sends the queued emails of "assigned to you" notices; run() until cancelled."""

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
        """Look for due emails now (one was just queued)."""
        self._wake.set()

    async def run(self) -> None:
        """Loop until cancelled; an email in flight when it stops is retried after its lease."""
        while True:
            busy = False
            try:
                busy = await self.step() >= self.batch
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("assignment emails failed; continuing")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
            self._wake.clear()

    async def step(self) -> int:
        """Claim and send the due emails (concurrently); how many were claimed."""
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                CLAIM, {"limit": self.batch, "lease": self.lease_seconds}
            )
            claimed = [Mail(**row._asdict()) for row in rows]
        await asyncio.gather(*(self.send(mail) for mail in claimed))
        return len(claimed)

    async def send(self, mail: Mail) -> None:
        """Send one email and record what happened."""
        values: dict[str, Any]
        try:
            user = await self.gateway.get_user(GetUser(user_id=mail.user_id))
            await self.email.send_text(
                user.email,
                subject=subject(mail.task_title),
                body=f"{mail.task_title}\n\n{BODY}\n",
                message_id=f"assignment-{mail.id}",
            )
            values = {"state": "SENT", "sent_at": func.now(), "last_error": None}
        except NotFound:
            values = {"state": "CANCELLED", "last_error": "the account is gone"}
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            if not isinstance(failure, DeliveryError | TaskstreamError):
                log.exception("unexpected error sending an assignment email")
            error = (
                failure
                if isinstance(failure, DeliveryError)
                else DeliveryError(f"{type(failure).__name__}: {failure}")
            )
            if error.permanent or mail.attempts >= self.policy.max_attempts:
                values = {"state": "FAILED", "last_error": error.reason}
            else:
                delay = self.policy.delay(mail.attempts)
                values = {
                    "state": "PENDING",
                    "last_error": error.reason,
                    "next_attempt_at": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay),
                }
        async with self.engine.begin() as connection:
            # Only while we still hold the lease (not re-claimed after it expired).
            held = await connection.scalar(
                select(assignment_notices.c.attempts)
                .where(
                    assignment_notices.c.id == mail.id,
                    assignment_notices.c.state == "SENDING",
                )
                .with_for_update()
            )
            if held == mail.attempts:
                await connection.execute(
                    update(assignment_notices)
                    .where(assignment_notices.c.id == mail.id)
                    .values(**values)
                )
