"""The "assigned to you" notice: an in-app notification (and an email when email is on) to a
task's new assignee.

A task created with an assignee, or updated with a new one (`changes.assigneeId`), by someone
other than that assignee gets one notice for them. Its id is derived from the event's id and
the recipient, and it is written in the consumer's transaction, so a redelivered (or
duplicated) event stores nothing more: one notice per (event, recipient). The email is queued
as a row under the same id and sent by `AssignmentMailer` as invitations are: a lease per
claimed row, retries with backoff, FAILED when they run out (workers/notifications/leased.py).
The in-app notice is announced by `notification.created.v1` in the same transaction, which the
gateway pushes to the assignee's `notifications` subscription.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import TaskCreated, TaskEvent, TaskUpdated
from contracts.gateway_api import GetUser
from taskstream.errors import NotFound
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.in_app import store_notice
from workers.notifications.invitations import one_line
from workers.notifications.leased import Cancelled, LeasedSender, Sent
from workers.notifications.tables import assignment_notices, db_now

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
    await store_notice(
        connection,
        notification_id=identity,
        user_id=recipient,
        task_id=task.id,
        title=subject(task.title),
        body=BODY,
        at=now,
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


class AssignmentMailer(LeasedSender[Mail]):
    """Sends the queued emails of "assigned to you" notices; run() until cancelled."""

    table = assignment_notices
    keys = ("id",)
    claim = CLAIM
    notice = Mail
    what = "assignment email"

    async def deliver(self, notice: Mail) -> Sent | Cancelled:
        """Send one email to the assignee's address as it is now."""
        try:
            user = await self.gateway.get_user(GetUser(user_id=notice.user_id))
        except NotFound:
            return Cancelled("the account is gone")
        await self.email.send_text(
            user.email,
            subject=subject(notice.task_title),
            body=f"{notice.task_title}\n\n{BODY}\n",
            message_id=f"assignment-{notice.id}",
        )
        return Sent()
