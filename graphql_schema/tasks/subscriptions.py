"""Live task events.

Live delivery (broadcaster fed by the event backbone) is not wired yet: a subscription is
accepted, authenticated, and stays open without events until the client leaves.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator

import anyio
import strawberry

from graphql_schema.context import Info
from graphql_schema.notifications.resolvers import Notification
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import DateTime
from graphql_schema.tasks.types import Task


@strawberry.enum(name="TaskEventKind")
class TaskEventKind(enum.Enum):
    """What happened to a task."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    COMPLETED = "COMPLETED"
    REOPENED = "REOPENED"
    DELETED = "DELETED"


@strawberry.type(name="TaskEvent")
class TaskEvent:
    """One change to one of the caller's tasks."""

    kind: TaskEventKind
    task_id: strawberry.ID
    task: Task | None = strawberry.field(
        description="The task after the change; null when kind is DELETED."
    )
    at: DateTime
    source: str = strawberry.field(
        description="The service that caused the change: gateway, recurrence, ..."
    )


@strawberry.type
class Subscription:
    """Live updates for the caller."""

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description=(
            "Every change to the caller's tasks, from any service, in commit order per task."
        ),
    )
    async def task_events(self, info: Info) -> AsyncGenerator[TaskEvent, None]:
        """The caller's task changes as they happen."""
        await anyio.sleep_forever()
        yield  # type: ignore[misc]  # unreachable until live delivery is wired

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="IN_APP notifications for the caller as they are sent.",
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        """The caller's in-app notifications as they are sent."""
        await anyio.sleep_forever()
        yield  # type: ignore[misc]  # unreachable until live delivery is wired
