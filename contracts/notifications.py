"""The notifications service's internal API: users' webhooks, push subscriptions and inbox.

The gateway's GraphQL resolvers call it with the caller's user id; everything is scoped by it,
so another user's objects are reported exactly like missing ones.
"""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, Field

from contracts.invocation import TEXT_MAX, Answer, Request
from taskstream.invocation import Endpoint, ServiceInvoker
from taskstream.persistence.cursors import CURSOR_MAX

SERVICE = "notifications"

# A user may register at most this many webhooks: the notifications service refuses more and the
# gateway prices the `webhooks` list with it.
WEBHOOKS_MAX = 20
# A user may subscribe at most this many browsers to Web Push (the gateway prices the list with it).
PUSH_SUBSCRIPTIONS_MAX = 10
# The longest push endpoint and key texts taken (endpoints are URLs; keys base64url).
PUSH_ENDPOINT_MAX = 2048
PUSH_KEY_MAX = 128
# The largest page of notifications one call returns.
NOTIFICATIONS_PAGE_MAX = 200


class RegisterWebhook(Request):
    """Register an endpoint for the user (the service checks the URL and where it points)."""

    user_id: uuid.UUID
    url: str = Field(max_length=TEXT_MAX)


class ListWebhooks(Request):
    """The user's endpoints."""

    user_id: uuid.UUID


class DeleteWebhook(Request):
    """Remove one of the user's endpoints."""

    user_id: uuid.UUID
    webhook_id: uuid.UUID


class RegisterPushSubscription(Request):
    """Subscribe one of the user's browsers to Web Push (its PushSubscription's fields)."""

    user_id: uuid.UUID
    endpoint: str = Field(max_length=PUSH_ENDPOINT_MAX)
    p256dh: str = Field(max_length=PUSH_KEY_MAX)
    auth: str = Field(max_length=PUSH_KEY_MAX)


class ListPushSubscriptions(Request):
    """The user's push subscriptions and the key browsers subscribe with."""

    user_id: uuid.UUID


class DeletePushSubscription(Request):
    """Unsubscribe the user's browser with this endpoint."""

    user_id: uuid.UUID
    endpoint: str = Field(max_length=PUSH_ENDPOINT_MAX)


class ListNotifications(Request):
    """A page of the user's in-app notifications, newest first."""

    user_id: uuid.UUID
    unread_only: bool = False
    first: int = Field(default=50, ge=1, le=NOTIFICATIONS_PAGE_MAX)
    after: str | None = Field(default=None, max_length=CURSOR_MAX)


class MarkNotificationRead(Request):
    """Mark one of the user's notifications read (the first read time is kept)."""

    user_id: uuid.UUID
    notification_id: uuid.UUID


class Webhook(Answer):
    """A webhook as the API shows it (never its secret)."""

    id: uuid.UUID
    url: str
    created_at: AwareDatetime


class WebhookRegistration(Answer):
    """A new webhook and its signing secret, returned this once."""

    webhook: Webhook
    secret: str


class Webhooks(Answer):
    """The user's endpoints, oldest first."""

    webhooks: list[Webhook]


class WebhookDeleted(Answer):
    """The id of the removed endpoint."""

    id: uuid.UUID


class PushSubscription(Answer):
    """A browser subscribed to Web Push, as the API shows it (never its keys)."""

    id: uuid.UUID
    endpoint: str
    created_at: AwareDatetime


class PushSubscriptions(Answer):
    """The user's subscriptions, oldest first, and the VAPID public key (None: push is off)."""

    public_key: str | None
    subscriptions: list[PushSubscription]


class PushSubscriptionDeleted(Answer):
    """The id of the removed subscription."""

    id: uuid.UUID


class Notification(Answer):
    """A notification as the API shows it."""

    id: uuid.UUID
    task_id: uuid.UUID | None
    title: str
    body: str
    channel: str
    created_at: AwareDatetime
    read_at: AwareDatetime | None


class NotificationEdge(Answer):
    """A notification and its cursor."""

    cursor: str
    node: Notification


class PageInfo(Answer):
    """Whether and where the list goes on."""

    has_next_page: bool
    end_cursor: str | None


class NotificationPage(Answer):
    """A page of notifications with the exact total of the filter."""

    edges: list[NotificationEdge]
    page_info: PageInfo
    total_count: int


REGISTER_WEBHOOK = Endpoint(
    SERVICE, "POST", "/internal/webhooks", RegisterWebhook, WebhookRegistration
)
LIST_WEBHOOKS = Endpoint(SERVICE, "GET", "/internal/webhooks", ListWebhooks, Webhooks)
DELETE_WEBHOOK = Endpoint(
    SERVICE, "DELETE", "/internal/webhooks/{webhookId}", DeleteWebhook, WebhookDeleted
)
REGISTER_PUSH_SUBSCRIPTION = Endpoint(
    SERVICE, "POST", "/internal/push-subscriptions", RegisterPushSubscription, PushSubscription
)
LIST_PUSH_SUBSCRIPTIONS = Endpoint(
    SERVICE, "GET", "/internal/push-subscriptions", ListPushSubscriptions, PushSubscriptions
)
DELETE_PUSH_SUBSCRIPTION = Endpoint(
    SERVICE,
    "DELETE",
    "/internal/push-subscriptions",
    DeletePushSubscription,
    PushSubscriptionDeleted,
)
LIST_NOTIFICATIONS = Endpoint(
    SERVICE, "GET", "/internal/notifications", ListNotifications, NotificationPage
)
MARK_NOTIFICATION_READ = Endpoint(
    SERVICE,
    "POST",
    "/internal/notifications/{notificationId}/read",
    MarkNotificationRead,
    Notification,
)


class NotificationsClient:
    """Calls the notifications service's internal API (through Dapr, or in-process in `up`)."""

    def __init__(self, invoker: ServiceInvoker) -> None:
        self._invoker = invoker

    async def register_webhook(self, request: RegisterWebhook) -> WebhookRegistration:
        """Register an endpoint; BAD_USER_INPUT (url) when it is refused."""
        return await self._invoker.invoke(REGISTER_WEBHOOK, request)

    async def list_webhooks(self, request: ListWebhooks) -> Webhooks:
        """The user's endpoints, oldest first."""
        return await self._invoker.invoke(LIST_WEBHOOKS, request)

    async def delete_webhook(self, request: DeleteWebhook) -> WebhookDeleted:
        """Remove an endpoint; NotFound when it is not the user's."""
        return await self._invoker.invoke(DELETE_WEBHOOK, request)

    async def register_push_subscription(
        self, request: RegisterPushSubscription
    ) -> PushSubscription:
        """Subscribe a browser (again: its keys are replaced); BAD_USER_INPUT when refused."""
        return await self._invoker.invoke(REGISTER_PUSH_SUBSCRIPTION, request)

    async def list_push_subscriptions(self, request: ListPushSubscriptions) -> PushSubscriptions:
        """The user's subscriptions and the VAPID public key."""
        return await self._invoker.invoke(LIST_PUSH_SUBSCRIPTIONS, request)

    async def delete_push_subscription(
        self, request: DeletePushSubscription
    ) -> PushSubscriptionDeleted:
        """Unsubscribe a browser; NotFound when the user has no subscription there."""
        return await self._invoker.invoke(DELETE_PUSH_SUBSCRIPTION, request)

    async def list_notifications(self, request: ListNotifications) -> NotificationPage:
        """A page of in-app notifications, newest first."""
        return await self._invoker.invoke(LIST_NOTIFICATIONS, request)

    async def mark_notification_read(self, request: MarkNotificationRead) -> Notification:
        """Mark a notification read; NotFound when it is not the user's."""
        return await self._invoker.invoke(MARK_NOTIFICATION_READ, request)
