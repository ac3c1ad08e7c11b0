"""The Node interface and the enums shared by several slices."""

from __future__ import annotations

import strawberry

from taskstream.domain.model import Channel, Priority, ReminderState, TaskStatus
from taskstream.domain.recurrence import RepeatFrom


@strawberry.interface
class Node:
    """An object with a global id."""

    id: strawberry.ID


@strawberry.type
class PageInfo:
    """Where a page stands in its list."""

    has_next_page: bool
    end_cursor: str | None


# The domain enums are the GraphQL enums: registering them keeps one definition of each.
strawberry.enum(Priority, name="Priority")
strawberry.enum(TaskStatus, name="TaskStatus")
strawberry.enum(Channel, name="Channel")
strawberry.enum(ReminderState, name="ReminderState")
strawberry.enum(
    RepeatFrom,
    name="RepeatFrom",
    description="Which date the next occurrence of a recurring task is computed from.",
)

__all__ = ["Channel", "Node", "PageInfo", "Priority", "ReminderState", "RepeatFrom", "TaskStatus"]
