"""The "assigned to you" notice: an in-app notification to a task's new assignee.

A task created with an assignee, or updated with a new one (`changes.assigneeId`), by someone
other than that assignee gets one notification for them. Its id is derived from the event's
id and the recipient, and it is written in the consumer's transaction, so a redelivered (or
duplicated) event stores nothing more: one notice per (event, recipient).
"""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import TaskCreated, TaskEvent, TaskUpdated
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.invitations import IN_APP, one_line
from workers.notifications.tables import db_now, notifications

# Fixed namespace of the notices' ids (uuid5 of event id and recipient).
NOTICE_IDS = uuid.UUID("6f1d3c52-9a0e-4b7e-8a4f-2b1c5d0e9a71")


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


async def notify_assigned(event: CloudEvent[TaskEvent], connection: AsyncConnection) -> bool:
    """Store the in-app notice of an assignment (in the consumer's transaction); whether the
    event assigned anyone."""
    recipient = new_assignee(event.data)
    if recipient is None:
        return False
    task = event.data.task
    await connection.execute(
        pg_insert(notifications)
        .values(
            id=notice_id(event.id, recipient),
            user_id=recipient,
            task_id=task.id,
            reminder_id=None,
            title=f"Assigned to you: {one_line(task.title)}",
            body="A task in a shared project was assigned to you.",
            channel=IN_APP,
            created_at=await db_now(connection),
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.id])
    )
    return True
