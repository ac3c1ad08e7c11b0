"""The notifications service's internal API: users' webhooks and their in-app inbox.

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

    async def list_notifications(self, request: ListNotifications) -> NotificationPage:
        """A page of in-app notifications, newest first."""
        return await self._invoker.invoke(LIST_NOTIFICATIONS, request)

    async def mark_notification_read(self, request: MarkNotificationRead) -> Notification:
        """Mark a notification read; NotFound when it is not the user's."""
        return await self._invoker.invoke(MARK_NOTIFICATION_READ, request)
