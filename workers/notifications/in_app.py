"""In-app notifications that no reminder delivery announces (an assignment, an invitation).

Each is stored together with its `notification.created.v1` in the outbox, in one transaction,
so the recipient's `notifications` subscription gets it live (the gateway's live consumer
forwards it) exactly when it is there to be read, and never for a notification rolled back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import NotificationCreated
from taskstream.messaging.cloudevents import encode
from taskstream.persistence.outbox import write_outbox
from workers.notifications.events import SOURCE
from workers.notifications.tables import notifications, outbox

IN_APP = "IN_APP"


async def store_notice(
    connection: AsyncConnection,
    *,
    notification_id: uuid.UUID,
    user_id: uuid.UUID,
    task_id: uuid.UUID | None,
    title: str,
    body: str,
    at: datetime,
) -> bool:
    """Store the notification once per id, with its event, in the caller's transaction;
    whether it was new (a redelivery stores and announces nothing more)."""
    stored = await connection.scalar(
        pg_insert(notifications)
        .values(
            id=notification_id,
            user_id=user_id,
            task_id=task_id,
            reminder_id=None,
            title=title,
            body=body,
            channel=IN_APP,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=[notifications.c.id])
        .returning(notifications.c.id)
    )
    if stored is None:
        return False
    event = NotificationCreated(
        user_id=user_id,
        notification_id=notification_id,
        task_id=task_id,
        title=title,
        body=body,
        created_at=at,
    )
    await write_outbox(connection, outbox, [encode(event, source=SOURCE, time=at)])
    return True
