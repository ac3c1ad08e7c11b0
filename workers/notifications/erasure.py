"""Erasing a deleted account from the notifications service (taskstream.user.deleted.v1)."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import UserDeleted
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.firing import finalize
from workers.notifications.tables import (
    assignment_notices,
    deliveries,
    invitation_notices,
    notifications,
    outbox,
    push_subscriptions,
    schedule,
    task_versions,
    webhooks,
)


async def erase_user(event: CloudEvent[UserDeleted], connection: AsyncConnection) -> Outcome:
    """Delete every row of the account: schedule, deliveries, notifications, invitation and
    assignment notices, webhooks, push subscriptions, events.

    Reminders of other owners' tasks the account was assigned go back to their owners (as the
    gateway unassigns a deleted account): they keep firing, to the owner from now on.
    """
    user_id = event.data.user_id
    handed_back = (
        await connection.execute(
            update(schedule)
            .where(schedule.c.recipient_id == user_id, schedule.c.user_id != user_id)
            .values(recipient_id=schedule.c.user_id)
            .returning(schedule.c.reminder_id, schedule.c.generation, schedule.c.state)
        )
    ).all()
    # The task ids are known only through the schedule: their version rows go first.
    await connection.execute(
        delete(task_versions).where(
            task_versions.c.task_id.in_(
                schedule.select()
                .with_only_columns(schedule.c.task_id)
                .where(schedule.c.user_id == user_id)
            )
        )
    )
    await connection.execute(delete(deliveries).where(deliveries.c.user_id == user_id))
    for row in handed_back:
        if row.state == "FIRING":
            # Its deliveries to the account are gone: the firing ends with what remains.
            await finalize(connection, row.reminder_id, row.generation, "the recipient was deleted")
    # Its own reminders' deliveries (to its assignees too) go with them (ON DELETE CASCADE).
    await connection.execute(delete(schedule).where(schedule.c.user_id == user_id))
    await connection.execute(delete(notifications).where(notifications.c.user_id == user_id))
    await connection.execute(
        delete(invitation_notices).where(invitation_notices.c.user_id == user_id)
    )
    await connection.execute(
        delete(assignment_notices).where(assignment_notices.c.user_id == user_id)
    )
    await connection.execute(delete(webhooks).where(webhooks.c.user_id == user_id))
    await connection.execute(
        delete(push_subscriptions).where(push_subscriptions.c.user_id == user_id)
    )
    # Its events too, sent or not: they describe the user's tasks, and one published after
    # the audit service erased the trail would start a new trail for a deleted account.
    await connection.execute(delete(outbox).where(outbox.c.partition_key == str(user_id)))
    return Outcome.SUCCESS
