"""Notification types, query and mutation (the notifications service owns notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.node import Channel, Node, PageInfo
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from taskstream.domain.errors import InvalidInput
from taskstream.persistence.reads import PAGE_MAX

SERVICE = "notifications"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


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

    @classmethod
    def of(cls, node: dict[str, Any]) -> Notification:
        """The GraphQL view of a notification as the notifications service returns it."""
        created_at = _time(node["createdAt"])
        assert created_at is not None
        return cls(
            id=strawberry.ID(str(node["id"])),
            task_id=strawberry.ID(str(node["taskId"])) if node.get("taskId") else None,
            title=str(node["title"]),
            body=str(node["body"]),
            channel=Channel(node["channel"]),
            created_at=created_at,
            read_at=_time(node.get("readAt")),
        )


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
        size = 50 if first is None else first
        if not 1 <= size <= PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
        params = {
            "userId": str(info.context.require_user()),
            "unreadOnly": "true" if unread_only else "false",
            "first": str(size),
        }
        if after:
            params["after"] = after
        page = await info.context.services.invoker.call(
            SERVICE, "GET", "/internal/notifications", params=params
        )
        return NotificationConnection(
            edges=[
                NotificationEdge(cursor=str(edge["cursor"]), node=Notification.of(edge["node"]))
                for edge in page["edges"]
            ],
            page_info=PageInfo(
                has_next_page=bool(page["pageInfo"]["hasNextPage"]),
                end_cursor=page["pageInfo"]["endCursor"],
            ),
            total_count=int(page["totalCount"]),
        )


@strawberry.type
class NotificationMutations:
    """Changes to notifications."""

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def mark_notification_read(self, info: Info, id: strawberry.ID) -> Notification:
        """Mark a notification read."""
        notification_id = parse_id(id, "notification")
        node = await info.context.services.invoker.call(
            SERVICE,
            "POST",
            f"/internal/notifications/{notification_id}/read",
            json={"userId": str(info.context.require_user())},
        )
        return Notification.of(node)
