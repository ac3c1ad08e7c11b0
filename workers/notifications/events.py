"""The CloudEvents this service emits (through its outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from taskstream.messaging.cloudevents import (
    NOTIFICATIONS_TOPIC,
    REMINDERS_TOPIC,
    Envelope,
    envelope,
)

SOURCE = "notifications"
SENT = "taskstream.notification.sent.v1"
FAILED = "taskstream.notification.failed.v1"
REMINDER_DUE = "taskstream.reminder.due.v1"


def iso(value: datetime | None) -> str | None:
    """An RFC 3339 string, as the API spells times."""
    return value.isoformat() if value is not None else None


def webhook_event(
    kind: str, *, user_id: uuid.UUID, webhook_id: uuid.UUID, url: str, at: datetime
) -> Envelope:
    """`taskstream.webhook.registered.v1` or `.deleted.v1`, for the audit trail."""
    return envelope(
        topic=NOTIFICATIONS_TOPIC,
        type_=f"taskstream.webhook.{kind}.v1",
        source=SOURCE,
        subject=str(webhook_id),
        partition_key=str(user_id),
        time=at,
        data={"userId": str(user_id), "webhookId": str(webhook_id), "url": url},
    )


def reminder_due(
    *,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    reminder_id: uuid.UUID,
    remind_at: datetime,
    channels: list[str],
    generation: int,
    at: datetime,
) -> Envelope:
    """The scheduler's record that a reminder came due and its deliveries were queued."""
    return envelope(
        topic=REMINDERS_TOPIC,
        type_=REMINDER_DUE,
        source=SOURCE,
        subject=str(task_id),
        partition_key=str(user_id),
        time=at,
        data={
            "userId": str(user_id),
            "taskId": str(task_id),
            "reminderId": str(reminder_id),
            "remindAt": iso(remind_at),
            "channels": channels,
            "firing": generation,
        },
    )


def delivery_event(
    type_: str,
    *,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    reminder_id: uuid.UUID,
    delivery_id: uuid.UUID,
    channel: str,
    title: str,
    body: str,
    at: datetime,
    attempts: int,
    notification_id: uuid.UUID | None = None,
    webhook_id: uuid.UUID | None = None,
    error: str | None = None,
) -> Envelope:
    """`notification.sent.v1` for a delivered channel, `.failed.v1` for one that gave up."""
    data: dict[str, Any] = {
        "userId": str(user_id),
        "taskId": str(task_id),
        "reminderId": str(reminder_id),
        "deliveryId": str(delivery_id),
        # Only IN_APP deliveries are stored as Notifications (what the subscription pushes).
        "notificationId": str(notification_id) if notification_id else None,
        "channel": channel,
        "title": title,
        "body": body,
        "createdAt": iso(at),
        "attempts": attempts,
    }
    if webhook_id is not None:
        data["webhookId"] = str(webhook_id)
    if error is not None:
        data["error"] = error
    return envelope(
        topic=NOTIFICATIONS_TOPIC,
        type_=type_,
        source=SOURCE,
        subject=str(task_id),
        partition_key=str(user_id),
        time=at,
        data=data,
    )
