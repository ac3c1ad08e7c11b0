"""The notifications service's internal API: users' webhooks, push subscriptions and inbox.

The gateway's GraphQL resolvers call these routes (through Dapr, or in-process in `up`, with
contracts.notifications' client) with the caller's user id; everything here is scoped by it,
so another user's objects are reported exactly like missing ones.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from sqlalchemy import and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from contracts.notifications import (
    DELETE_PUSH_SUBSCRIPTION,
    DELETE_WEBHOOK,
    LIST_NOTIFICATIONS,
    LIST_PUSH_SUBSCRIPTIONS,
    LIST_WEBHOOKS,
    MARK_NOTIFICATION_READ,
    NOTIFICATIONS_PAGE_MAX,
    PUSH_SUBSCRIPTIONS_MAX,
    REGISTER_PUSH_SUBSCRIPTION,
    REGISTER_WEBHOOK,
    WEBHOOKS_MAX,
    DeletePushSubscription,
    DeleteWebhook,
    ListNotifications,
    ListPushSubscriptions,
    ListWebhooks,
    MarkNotificationRead,
    Notification,
    NotificationEdge,
    NotificationPage,
    PageInfo,
    PushSubscription,
    PushSubscriptionDeleted,
    PushSubscriptions,
    RegisterPushSubscription,
    RegisterWebhook,
    Webhook,
    WebhookDeleted,
    WebhookRegistration,
    Webhooks,
)
from taskstream.errors import InvalidInput, NotFound
from taskstream.internal_api import serve
from taskstream.persistence.cursors import decode_typed_cursor, encode_cursor
from taskstream.persistence.outbox import write_outbox
from taskstream.settings import Settings
from workers.notifications import events
from workers.notifications.push import check_subscription, vapid_public_key
from workers.notifications.tables import (
    db_now,
    notifications,
    outbox,
    push_subscriptions,
    webhooks,
)
from workers.notifications.webhooks import (
    check_destination,
    check_url_shape,
    new_secret,
)

PAGE_MAX = NOTIFICATIONS_PAGE_MAX
NEWEST_FIRST = "notifications:created_at desc,id desc"


def webhook_view(row: Any) -> Webhook:
    """A webhook as the API shows it (never its secret)."""
    return Webhook(id=row.id, url=row.url, created_at=row.created_at)


def notification_view(row: Any) -> Notification:
    """A notification as the API shows it."""
    return Notification(
        id=row.id,
        task_id=row.task_id,
        title=row.title,
        body=row.body,
        channel=row.channel,
        created_at=row.created_at,
        read_at=row.read_at,
    )


async def register_webhook(
    engine: AsyncEngine, *, user_id: uuid.UUID, url: str, allow_private: bool
) -> WebhookRegistration:
    """Register an endpoint for the user; its secret is returned this once."""
    cleaned, host = check_url_shape(url)
    # Name resolution blocks: keep it off the event loop.
    await anyio.to_thread.run_sync(lambda: check_destination(host, allow_private=allow_private))
    webhook_id, secret = uuid.uuid4(), new_secret()
    async with engine.begin() as connection:
        # One registration per user at a time, so the limit holds under concurrency.
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"webhooks:{user_id}"}
        )
        count = await connection.scalar(
            select(func.count()).select_from(webhooks).where(webhooks.c.user_id == user_id)
        )
        if (count or 0) >= WEBHOOKS_MAX:
            raise InvalidInput("url", f"a user may register at most {WEBHOOKS_MAX} webhooks")
        row = (
            await connection.execute(
                insert(webhooks)
                .values(id=webhook_id, user_id=user_id, url=cleaned, secret=secret)
                .returning(webhooks.c.id, webhooks.c.url, webhooks.c.created_at)
            )
        ).one()
        await write_outbox(
            connection,
            outbox,
            [
                events.webhook_event(
                    "registered", user_id=user_id, webhook_id=row.id, url=row.url, at=row.created_at
                )
            ],
        )
    return WebhookRegistration(webhook=webhook_view(row), secret=secret)


async def list_webhooks(engine: AsyncEngine, *, user_id: uuid.UUID) -> list[Webhook]:
    """The user's endpoints, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(webhooks.c.id, webhooks.c.url, webhooks.c.created_at)
            .where(webhooks.c.user_id == user_id)
            .order_by(webhooks.c.created_at, webhooks.c.id)
        )
        return [webhook_view(row) for row in rows]


async def delete_webhook(
    engine: AsyncEngine, *, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> WebhookDeleted:
    """Remove the user's endpoint; NOT_FOUND when it is not theirs."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                delete(webhooks)
                .where(webhooks.c.id == webhook_id, webhooks.c.user_id == user_id)
                .returning(webhooks.c.id, webhooks.c.url)
            )
        ).first()
        if row is None:
            raise NotFound("webhook", webhook_id)
        now = await db_now(connection)
        await write_outbox(
            connection,
            outbox,
            [
                events.webhook_event(
                    "deleted", user_id=user_id, webhook_id=row.id, url=row.url, at=now
                )
            ],
        )
    return WebhookDeleted(id=row.id)


def push_subscription_view(row: Any) -> PushSubscription:
    """A push subscription as the API shows it (never its keys)."""
    return PushSubscription(id=row.id, endpoint=row.endpoint, created_at=row.created_at)


async def register_push_subscription(
    engine: AsyncEngine,
    *,
    user_id: uuid.UUID,
    endpoint: str,
    p256dh: str,
    auth: str,
    development: bool,
) -> PushSubscription:
    """Subscribe one of the user's browsers; the same endpoint again replaces its keys.

    An endpoint belongs to one browser profile: when another account subscribes it (the user
    signed in as someone else there), it moves to that account.
    """
    subscription = check_subscription(endpoint, p256dh, auth, development=development)
    async with engine.begin() as connection:
        # One registration per user at a time, so the limit holds under concurrency.
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"push:{user_id}"}
        )
        count = await connection.scalar(
            select(func.count())
            .select_from(push_subscriptions)
            .where(
                push_subscriptions.c.user_id == user_id,
                push_subscriptions.c.endpoint != subscription.endpoint,
            )
        )
        if (count or 0) >= PUSH_SUBSCRIPTIONS_MAX:
            raise InvalidInput(
                "endpoint",
                f"an account may subscribe at most {PUSH_SUBSCRIPTIONS_MAX} browsers to push; "
                "unsubscribe one first",
            )
        statement = pg_insert(push_subscriptions).values(
            id=uuid.uuid4(),
            user_id=user_id,
            endpoint=subscription.endpoint,
            p256dh=subscription.p256dh,
            auth=subscription.auth,
        )
        row = (
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[push_subscriptions.c.endpoint],
                    set_={
                        "user_id": user_id,
                        "p256dh": statement.excluded.p256dh,
                        "auth": statement.excluded.auth,
                    },
                ).returning(
                    push_subscriptions.c.id,
                    push_subscriptions.c.endpoint,
                    push_subscriptions.c.created_at,
                )
            )
        ).one()
    return push_subscription_view(row)


async def list_push_subscriptions(
    engine: AsyncEngine, *, user_id: uuid.UUID
) -> list[PushSubscription]:
    """The user's subscribed browsers, oldest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(
                push_subscriptions.c.id,
                push_subscriptions.c.endpoint,
                push_subscriptions.c.created_at,
            )
            .where(push_subscriptions.c.user_id == user_id)
            .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
        )
        return [push_subscription_view(row) for row in rows]


async def delete_push_subscription(
    engine: AsyncEngine, *, user_id: uuid.UUID, endpoint: str
) -> PushSubscriptionDeleted:
    """Unsubscribe the user's browser at `endpoint`; NOT_FOUND when there is none."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                delete(push_subscriptions)
                .where(
                    push_subscriptions.c.endpoint == endpoint.strip(),
                    push_subscriptions.c.user_id == user_id,
                )
                .returning(push_subscriptions.c.id)
            )
        ).first()
    if row is None:
        raise NotFound("push subscription", "at this endpoint")
    return PushSubscriptionDeleted(id=row.id)


async def list_notifications(
    engine: AsyncEngine,
    *,
    user_id: uuid.UUID,
    unread_only: bool,
    first: int,
    after: str | None,
) -> NotificationPage:
    """A page of the user's in-app notifications, newest first, with an exact total."""
    if not 1 <= first <= PAGE_MAX:
        raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
    scope = [notifications.c.user_id == user_id, notifications.c.channel == "IN_APP"]
    if unread_only:
        scope.append(notifications.c.read_at.is_(None))
    page = [*scope]
    if after:
        created_at, last_id = decode_typed_cursor(
            after, NEWEST_FIRST, [("time", False), ("uuid", False)]
        )
        # Keyset: strictly after the last row seen, in (created_at, id) descending order.
        page.append(
            or_(
                notifications.c.created_at < created_at,
                and_(notifications.c.created_at == created_at, notifications.c.id < last_id),
            )
        )
    async with engine.connect() as connection:
        total = await connection.scalar(
            select(func.count()).select_from(notifications).where(*scope)
        )
        rows = (
            await connection.execute(
                select(notifications)
                .where(*page)
                .order_by(notifications.c.created_at.desc(), notifications.c.id.desc())
                .limit(first + 1)
            )
        ).all()
    has_next = len(rows) > first
    edges = [
        NotificationEdge(
            cursor=encode_cursor(NEWEST_FIRST, [row.created_at.isoformat(), str(row.id)]),
            node=notification_view(row),
        )
        for row in rows[:first]
    ]
    return NotificationPage(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=total or 0,
    )


async def mark_read(
    engine: AsyncEngine, *, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    """Mark the user's notification read (once: the first read time is kept)."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                update(notifications)
                .where(
                    notifications.c.id == notification_id,
                    notifications.c.user_id == user_id,
                    notifications.c.channel == "IN_APP",
                )
                .values(read_at=func.coalesce(notifications.c.read_at, func.now()))
                .returning(*notifications.c)
            )
        ).first()
    if row is None:
        raise NotFound("notification", notification_id)
    return notification_view(row)


def internal_routes(engine: AsyncEngine, settings: Settings) -> list[BaseRoute]:
    """The routes the gateway calls (contracts.notifications names them)."""
    token = settings.app_api_token
    app_token = token.get_secret_value() if token else None

    async def post_webhook(request: RegisterWebhook) -> WebhookRegistration:
        return await register_webhook(
            engine,
            user_id=request.user_id,
            url=request.url,
            allow_private=settings.webhook_allow_private,
        )

    async def get_webhooks(request: ListWebhooks) -> Webhooks:
        return Webhooks(webhooks=await list_webhooks(engine, user_id=request.user_id))

    async def remove_webhook(request: DeleteWebhook) -> WebhookDeleted:
        return await delete_webhook(engine, user_id=request.user_id, webhook_id=request.webhook_id)

    vapid_key = settings.vapid_private_key
    public_key = vapid_public_key(vapid_key.get_secret_value()) if vapid_key else None

    async def post_push_subscription(request: RegisterPushSubscription) -> PushSubscription:
        return await register_push_subscription(
            engine,
            user_id=request.user_id,
            endpoint=request.endpoint,
            p256dh=request.p256dh,
            auth=request.auth,
            development=settings.env != "production",
        )

    async def get_push_subscriptions(request: ListPushSubscriptions) -> PushSubscriptions:
        found = await list_push_subscriptions(engine, user_id=request.user_id)
        return PushSubscriptions(public_key=public_key, subscriptions=found)

    async def remove_push_subscription(
        request: DeletePushSubscription,
    ) -> PushSubscriptionDeleted:
        return await delete_push_subscription(
            engine, user_id=request.user_id, endpoint=request.endpoint
        )

    async def get_notifications(request: ListNotifications) -> NotificationPage:
        return await list_notifications(
            engine,
            user_id=request.user_id,
            unread_only=request.unread_only,
            first=request.first,
            after=request.after or None,
        )

    async def read_notification(request: MarkNotificationRead) -> Notification:
        return await mark_read(
            engine, user_id=request.user_id, notification_id=request.notification_id
        )

    return [
        serve(REGISTER_WEBHOOK, post_webhook, app_token=app_token),
        serve(LIST_WEBHOOKS, get_webhooks, app_token=app_token),
        serve(DELETE_WEBHOOK, remove_webhook, app_token=app_token),
        serve(REGISTER_PUSH_SUBSCRIPTION, post_push_subscription, app_token=app_token),
        serve(LIST_PUSH_SUBSCRIPTIONS, get_push_subscriptions, app_token=app_token),
        serve(DELETE_PUSH_SUBSCRIPTION, remove_push_subscription, app_token=app_token),
        serve(LIST_NOTIFICATIONS, get_notifications, app_token=app_token),
        serve(MARK_NOTIFICATION_READ, read_notification, app_token=app_token),
    ]
