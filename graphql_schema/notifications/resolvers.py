"""Notification types, query and mutation (the notifications service owns notifications)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from contracts import notifications as api
from contracts.notifications import NOTIFICATIONS_PAGE_MAX as PAGE_MAX
from graphql_schema.context import Info
from graphql_schema.ids import NotificationId, parse_id
from graphql_schema.node import After, Channel, Node, PageInfo, PageSize
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from taskstream.errors import InvalidInput
from taskstream.persistence.cursors import check_cursor_text


@strawberry.type(
    name="Notification", description="A message the caller received about a task (IN_APP)."
)
class Notification(Node):
    """A message sent to the user about a task."""

    id: strawberry.ID = strawberry.field(description="The notification's id.")
    task_id: strawberry.ID | None = strawberry.field(
        description="The task it is about; null once that task is gone."
    )
    title: str = strawberry.field(description="Short text: the task's title.")
    body: str = strawberry.field(description="The message.")
    channel: Channel = strawberry.field(description="How it was delivered (IN_APP).")
    created_at: DateTime = strawberry.field(description="When it was sent.")
    read_at: DateTime | None = strawberry.field(
        description="When markNotificationRead was called; null while unread."
    )

    @classmethod
    def of(cls, node: api.Notification) -> Notification:
        """The GraphQL view of a notification as the notifications service returns it."""
        return cls(
            id=strawberry.ID(str(node.id)),
            task_id=None if node.task_id is None else strawberry.ID(str(node.task_id)),
            title=node.title,
            body=node.body,
            channel=Channel(node.channel),
            created_at=node.created_at,
            read_at=node.read_at,
        )


@strawberry.type(name="NotificationEdge", description="A notification and its cursor.")
class NotificationEdge:
    """A notification and its cursor."""

    cursor: str = strawberry.field(description="Opaque cursor of this notification, for `after`.")
    node: Notification = strawberry.field(description="The notification.")


@strawberry.type(
    name="NotificationConnection", description="A page of notifications, newest first."
)
class NotificationConnection:
    """A page of notifications."""

    edges: list[NotificationEdge] = strawberry.field(description="The notifications of this page.")
    page_info: PageInfo = strawberry.field(description="Whether and where the list goes on.")
    total_count: int = strawberry.field(description="How many match, in all pages.")


@strawberry.type
class NotificationQueries:
    """The caller's notifications."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A page of the caller's notifications, newest first.",
    )
    async def notifications(
        self,
        info: Info,
        unread_only: Annotated[
            bool | None, strawberry.argument(description="true: only those not marked read.")
        ] = False,
        first: PageSize = 50,
        after: After = None,
    ) -> NotificationConnection:
        """A page of the caller's notifications, newest first."""
        size = 50 if first is None else first
        if not 1 <= size <= PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
        page = await info.context.services.notifications.list_notifications(
            api.ListNotifications(
                user_id=info.context.require_user(),
                unread_only=bool(unread_only),
                first=size,
                after=check_cursor_text(after) if after else None,
            )
        )
        return NotificationConnection(
            edges=[
                NotificationEdge(cursor=edge.cursor, node=Notification.of(edge.node))
                for edge in page.edges
            ],
            page_info=PageInfo(
                has_next_page=page.page_info.has_next_page,
                end_cursor=page.page_info.end_cursor,
            ),
            total_count=page.total_count,
        )


@strawberry.type
class NotificationMutations:
    """Changes to notifications."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Marks a notification read (sets readAt).",
    )
    async def mark_notification_read(self, info: Info, id: NotificationId) -> Notification:
        """Mark a notification read."""
        notification_id = parse_id(id, "notification")
        node = await info.context.services.notifications.mark_notification_read(
            api.MarkNotificationRead(
                user_id=info.context.require_user(), notification_id=notification_id
            )
        )
        return Notification.of(node)
