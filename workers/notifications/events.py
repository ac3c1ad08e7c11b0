"""The CloudEvents this service emits (through its outbox), built from the contracts' models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from contracts.events import (
    NotificationFailed,
    NotificationSent,
    ReminderDue,
    WebhookDeleted,
    WebhookRegistered,
)
from taskstream.messaging.cloudevents import Envelope, encode

SOURCE = "notifications"
SENT = NotificationSent
FAILED = NotificationFailed


def webhook_event(
    kind: Literal["registered", "deleted"],
    *,
    user_id: uuid.UUID,
    webhook_id: uuid.UUID,
    url: str,
    at: datetime,
) -> Envelope:
    """`taskstream.webhook.registered.v1` or `.deleted.v1`, for the audit trail."""
    model = WebhookRegistered if kind == "registered" else WebhookDeleted
    return encode(model(user_id=user_id, webhook_id=webhook_id, url=url), source=SOURCE, time=at)


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
    # Validated like any event: a channel outside the contract's set fails here, not downstream.
    event = ReminderDue.model_validate(
        {
            "user_id": user_id,
            "task_id": task_id,
            "reminder_id": reminder_id,
            "remind_at": remind_at,
            "channels": channels,
            "firing": generation,
        }
    )
    return encode(event, source=SOURCE, time=at)


def delivery_event(
    model: type[NotificationSent],
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
    """`notification.sent.v1` for a delivered channel, `.failed.v1` (with `error`) for one that
    gave up. Only IN_APP deliveries are stored as Notifications (what the subscription pushes).
    """
    common = {
        "user_id": user_id,
        "task_id": task_id,
        "reminder_id": reminder_id,
        "delivery_id": delivery_id,
        "notification_id": notification_id,
        "channel": channel,
        "title": title,
        "body": body,
        "created_at": at,
        "attempts": attempts,
        "webhook_id": webhook_id,
    }
    if model is NotificationFailed:
        event: NotificationSent = NotificationFailed.model_validate({**common, "error": error})
    else:
        event = model.model_validate(common)
    return encode(event, source=SOURCE, time=at)
