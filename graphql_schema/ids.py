"""Global ids: UUIDs; anything else is treated as an id that does not exist."""

from __future__ import annotations

import uuid

from taskstream.domain.errors import NotFound


def parse_id(value: str, kind: str) -> uuid.UUID:
    """The UUID of an id argument; NOT_FOUND when it cannot be one of ours."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as error:
        raise NotFound(kind, value) from error
