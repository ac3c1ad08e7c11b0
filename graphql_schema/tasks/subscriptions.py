"""Live subscriptions: the caller's task events and in-app notifications.

Messages come from the gateway's LiveHub (fed by the durable bus on whichever replica consumed
the event, fanned out to all replicas). A subscriber that falls behind, or that may have missed
messages while the broadcast reconnected, has its socket closed with 1013 (try again later):
clients reconnect and refetch, the server never replays.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import AsyncGenerator, Awaitable
from datetime import datetime
from typing import Any

import strawberry
from starlette.websockets import WebSocket

from contracts.task import Task as WireTask
from gateway_core.live import SubscriberCutOff, pushing
from gateway_core.persistence import reads
from gateway_core.persistence.reads import TaskRecord
from graphql_schema.context import Info, Loaders
from graphql_schema.node import Channel
from graphql_schema.notifications.resolvers import Notification
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.projects.live import member_projects, still_member
from graphql_schema.scalars import DateTime
from graphql_schema.tasks.types import Task
from taskstream.errors import Timeout

TRY_AGAIN_LATER = 1013
# The live message kinds each subscription reads (others never fill its queue).
TASK_KINDS = frozenset({"task"})
NOTIFICATION_KINDS = frozenset({"notification"})


@strawberry.enum(name="TaskEventKind", description="What happened to a task.")
class TaskEventKind(enum.Enum):
    """What happened to a task."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    COMPLETED = "COMPLETED"
    REOPENED = "REOPENED"
    DELETED = "DELETED"
    RESTORED = strawberry.enum_value(
        "RESTORED", description="A deleted task was brought back (restoreTask)."
    )


@strawberry.type(name="TaskEvent", description="One change to one of the caller's tasks.")
class TaskEvent:
    """One change to one of the caller's tasks."""

    kind: TaskEventKind = strawberry.field(description="What happened.")
    task_id: strawberry.ID = strawberry.field(description="The id of the task that changed.")
    task: Task | None = strawberry.field(
        description="The task after the change; null when kind is DELETED."
    )
    at: DateTime = strawberry.field(description="When the change was committed.")
    source: str = strawberry.field(
        description="The service that caused the change: gateway, recurrence, ..."
    )
    version: int | None = strawberry.field(
        description="The task's version after the change (also for DELETED)."
    )


async def _task_event(info: Info, message: dict[str, Any]) -> TaskEvent:
    kind = TaskEventKind(message["event"])
    task = None
    if kind is not TaskEventKind.DELETED:
        snapshot = message.get("task")
        record: TaskRecord | None
        if snapshot is not None:
            record = TaskRecord.from_wire(WireTask.model_validate(snapshot))
        else:
            # Too large to travel inline: read the task as it is now.
            task_id = uuid.UUID(message["taskId"])
            async with info.context.services.engine.connect() as connection:
                found = await reads.tasks_by_id(connection, info.context.require_user(), [task_id])
            record = found.get(task_id)
        task = Task.of(record) if record is not None else None
    return TaskEvent(
        kind=kind,
        task_id=strawberry.ID(message["taskId"]),
        task=task,
        at=datetime.fromisoformat(message["at"]),
        source=str(message.get("source")),
        version=message.get("version"),
    )


def _shared_event(message: dict[str, Any]) -> tuple[object, ...] | None:
    """What identifies a project event's result among members, when every member gets the
    same one: None for a personal event, and for one without its snapshot (read at delivery
    in the reader's view: a task moved out of the project is not every member's to see)."""
    if "projectId" not in message:
        return None
    if message.get("task") is None and message.get("event") != TaskEventKind.DELETED.value:
        return None
    return (
        message["projectId"],
        message.get("taskId"),
        message.get("event"),
        message.get("version"),
        message.get("at"),
    )


async def _within_deadline(info: Info, resolving: Awaitable[TaskEvent]) -> TaskEvent:
    """One event's resolution, bounded like a request (its statements are bounded too)."""
    deadline = info.context.services.settings.request_timeout_seconds
    try:
        async with asyncio.timeout(deadline):
            return await resolving
    except TimeoutError as error:
        raise Timeout(f"resolving a live event took longer than {deadline:g} s") from error


async def _close_for_refetch(info: Info) -> None:
    request = info.context.request
    if isinstance(request, WebSocket):
        await request.close(code=TRY_AGAIN_LATER, reason="fell behind; reconnect and refetch")


@strawberry.type(
    description="Live updates over graphql-transport-ws; authenticate in connection_init."
)
class Subscription:
    """Live updates for the caller."""

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description=(
            "Every change to a task the caller can see (theirs, and their projects' tasks whoever "
            "made it), from any service, in commit order per task."
        ),
    )
    async def task_events(self, info: Info) -> AsyncGenerator[TaskEvent, None]:
        """The caller's task changes as they happen."""
        user_id = str(info.context.require_user())
        # Set when the document reads nothing of the viewer (gateway/shared_streams.py).
        share = info.context.live_share
        try:
            async with info.context.services.live.listen(
                user_id, kinds=TASK_KINDS, projects=member_projects(info)
            ) as messages:
                async for message in messages:
                    if "projectId" in message and not await still_member(info, message):
                        continue
                    shared = _shared_event(message) if share is not None else None
                    with pushing(message, "taskEvents"):
                        if shared is not None and share is not None and await share.reuse(shared):
                            continue  # another member's execution of it was sent
                        # Fresh loaders per event: tags and reminders as of this change.
                        info.context.loaders = Loaders(
                            info.context.services.engine, info.context.user_id
                        )
                        event = await _within_deadline(info, _task_event(info, message))
                    yield event
        except SubscriberCutOff:
            await _close_for_refetch(info)
        finally:
            if share is not None:
                share.abandon()

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="IN_APP notifications for the caller as they are sent.",
    )
    async def notifications(self, info: Info) -> AsyncGenerator[Notification, None]:
        """The caller's in-app notifications as they are sent."""
        user_id = str(info.context.require_user())
        try:
            async with info.context.services.live.listen(
                user_id, kinds=NOTIFICATION_KINDS
            ) as messages:
                async for message in messages:
                    data = message["notification"]
                    with pushing(message, "notifications"):
                        notification = Notification(
                            id=strawberry.ID(str(data["notificationId"])),
                            task_id=strawberry.ID(str(data["taskId"]))
                            if data.get("taskId")
                            else None,
                            title=str(data.get("title", "")),
                            body=str(data.get("body", "")),
                            channel=Channel.IN_APP,
                            created_at=datetime.fromisoformat(str(data["createdAt"])),
                            read_at=None,
                        )
                    yield notification
        except SubscriberCutOff:
            await _close_for_refetch(info)
