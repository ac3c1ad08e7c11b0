"""Notification types, query, mutation and subscription.

The notifications worker (not yet built) owns notifications; until it exists there are none,
so the query answers an empty page and marking one read answers NOT_FOUND.
"""

from __future__ import annotations

import strawberry

from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.node import Channel, Node, PageInfo
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from taskstream.domain.errors import InvalidInput, NotFound
from taskstream.persistence.reads import PAGE_MAX


@strawberry.type(name="Notification")
class Notification(Node):
    """A message sent to the user about a task."""

    id: strawberry.ID
    task_id: strawberry.ID | None
    title: str
    body: str
    channel: Channel
    created_at: DateTime
    read_at: DateTime | None


@strawberry.type(name="NotificationEdge")
class NotificationEdge:
    """A notification and its cursor."""

    cursor: str
    node: Notification


@strawberry.type(name="NotificationConnection")
class NotificationConnection:
    """A page of notifications."""

    edges: list[NotificationEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class NotificationQueries:
    """The caller's notifications."""

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 50,
        after: str | None = None,
    ) -> NotificationConnection:
        """A page of the caller's notifications, newest first."""
        if first is not None and not 1 <= first <= PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
        return NotificationConnection(
            edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
        )


@strawberry.type
class NotificationMutations:
    """Changes to notifications."""

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def mark_notification_read(self, info: Info, id: strawberry.ID) -> Notification:
        """Mark a notification read."""
        raise NotFound("notification", parse_id(id, "notification"))
