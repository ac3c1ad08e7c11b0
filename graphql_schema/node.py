"""The Node interface and the enums shared by several slices."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway_core.domain.model import Channel, Priority, ReminderState, TaskStatus
from taskstream.recurrence import RepeatFrom


@strawberry.interface(
    description="An object with a global id; ids are opaque strings (UUIDs today)."
)
class Node:
    """An object with a global id."""

    id: strawberry.ID = strawberry.field(description="The object's id, unique across all types.")


@strawberry.type(description="Where a page stands in its list (keyset paging).")
class PageInfo:
    """Where a page stands in its list."""

    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor: pass it as `after` for the next page; null when empty."
    )


# The paging arguments of every connection, described once.
PageSize = Annotated[int | None, strawberry.argument(description="Page size, 1 to 200.")]
After = Annotated[
    str | None, strawberry.argument(description="The endCursor of the previous page.")
]


# The domain enums are the GraphQL enums: registering them keeps one definition of each.
strawberry.enum(
    Priority,
    name="Priority",
    description=(
        "How urgent a task is; PRIORITY ordering sorts NONE < LOW < MEDIUM < HIGH < URGENT."
    ),
)
strawberry.enum(
    TaskStatus,
    name="TaskStatus",
    description="OPEN while there is something to do; DONE once completed.",
)
strawberry.enum(
    Channel,
    name="Channel",
    description=(
        "Where a reminder is delivered: IN_APP (a Notification, pushed to the notifications "
        "subscription), EMAIL (to the account's address), WEBHOOK (a signed POST to every "
        "registered webhook) or PUSH (Web Push to every browser the account subscribed)."
    ),
)
strawberry.enum(
    ReminderState,
    name="ReminderState",
    description=(
        "SCHEDULED until it fires, then SENT; FAILED when every retry of a channel failed; "
        "CANCELLED when its task was completed or deleted first."
    ),
)
strawberry.enum(
    RepeatFrom,
    name="RepeatFrom",
    description="Which date the next occurrence of a recurring task is computed from.",
)

__all__ = [
    "After",
    "Channel",
    "Node",
    "PageInfo",
    "PageSize",
    "Priority",
    "ReminderState",
    "RepeatFrom",
    "TaskStatus",
]
