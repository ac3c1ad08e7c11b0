"""The Node interface and the enums shared by several slices."""

from __future__ import annotations

import strawberry

from taskstream.domain.model import Channel as DomainChannel
from taskstream.domain.model import Priority as DomainPriority
from taskstream.domain.model import ReminderState as DomainReminderState
from taskstream.domain.model import TaskStatus as DomainTaskStatus
from taskstream.domain.recurrence import RepeatFrom as DomainRepeatFrom


@strawberry.interface
class Node:
    """An object with a global id."""

    id: strawberry.ID


@strawberry.type
class PageInfo:
    """Where a page stands in its list."""

    has_next_page: bool
    end_cursor: str | None


Priority = strawberry.enum(DomainPriority, name="Priority")
TaskStatus = strawberry.enum(DomainTaskStatus, name="TaskStatus")
Channel = strawberry.enum(DomainChannel, name="Channel")
ReminderState = strawberry.enum(DomainReminderState, name="ReminderState")
RepeatFrom = strawberry.enum(
    DomainRepeatFrom,
    name="RepeatFrom",
    description="Which date the next occurrence of a recurring task is computed from.",
)
