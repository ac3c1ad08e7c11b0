"""Global ids: UUIDs; anything else is treated as an id that does not exist."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from taskstream.errors import NotFound


def _id_argument(of: str) -> object:
    """The argument metadata of an id of one of the caller's things."""
    return strawberry.argument(description=f"The id of one of the caller's {of}.")


# Id arguments, described once: another user's id is answered as if it did not exist.
TaskId = Annotated[strawberry.ID, _id_argument("tasks")]
TagId = Annotated[strawberry.ID, _id_argument("tags")]
ReminderId = Annotated[strawberry.ID, _id_argument("reminders")]
NotificationId = Annotated[strawberry.ID, _id_argument("notifications")]
WebhookId = Annotated[strawberry.ID, _id_argument("webhooks")]


def parse_id(value: str, kind: str) -> uuid.UUID:
    """The UUID of an id argument; NOT_FOUND when it cannot be one of ours."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as error:
        raise NotFound(kind, value) from error
