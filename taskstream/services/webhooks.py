"""Webhook registration and removal."""

from __future__ import annotations

import uuid
from datetime import datetime

import anyio

from taskstream.domain.errors import InvalidInput
from taskstream.domain.webhooks import (
    WEBHOOKS_MAX,
    Webhook,
    check_destination,
    check_url_shape,
    new_secret,
)
from taskstream.messaging.cloudevents import TASK_EVENTS_TOPIC, Envelope, envelope
from taskstream.persistence.uow import UnitOfWork


async def register_webhook(
    *, uow: UnitOfWork, user_id: uuid.UUID, url: str, allow_private: bool, now: datetime
) -> tuple[Webhook, str]:
    """Register an endpoint for the user; returns it and its secret (shown once)."""
    cleaned, host = check_url_shape(url)
    # Name resolution blocks: keep it off the event loop.
    await anyio.to_thread.run_sync(lambda: check_destination(host, allow_private=allow_private))
    webhook = Webhook(uuid.uuid4(), cleaned, now)
    secret = new_secret()
    async with uow:
        if len(await uow.webhooks.list(user_id)) >= WEBHOOKS_MAX:
            raise InvalidInput("url", f"a user may register at most {WEBHOOKS_MAX} webhooks")
        await uow.webhooks.add(user_id, webhook, secret)
        uow.record(_webhook_event("registered", user_id, webhook, now))
        await uow.commit()
    return webhook, secret


async def delete_webhook(
    *, uow: UnitOfWork, user_id: uuid.UUID, webhook_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """Remove the user's endpoint."""
    async with uow:
        webhook = await uow.webhooks.remove(user_id, webhook_id)
        uow.record(_webhook_event("deleted", user_id, webhook, now))
        await uow.commit()
    return webhook.id


async def list_webhooks(*, uow: UnitOfWork, user_id: uuid.UUID) -> list[Webhook]:
    """The user's endpoints."""
    async with uow:
        return await uow.webhooks.list(user_id)


def _webhook_event(kind: str, user_id: uuid.UUID, webhook: Webhook, now: datetime) -> Envelope:
    return envelope(
        topic=TASK_EVENTS_TOPIC,
        type_=f"taskstream.webhook.{kind}.v1",
        source="gateway",
        subject=str(webhook.id),
        partition_key=str(user_id),
        time=now,
        data={"userId": str(user_id), "webhookId": str(webhook.id), "url": webhook.url},
    )
