"""Custom scalars: DateTime (RFC 3339 with an explicit offset) and JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NewType

import strawberry


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an RFC 3339 string such as 2026-12-01T09:00:00+01:00")
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(
            f"DateTime {value!r} is not RFC 3339, e.g. 2026-12-01T09:00:00+01:00"
        ) from error
    if parsed.tzinfo is None:
        raise ValueError(f"DateTime {value!r} needs an explicit offset such as +01:00 or Z")
    return parsed


def _serialize_datetime(value: datetime) -> str:
    return value.isoformat()


DateTime = strawberry.scalar(
    NewType("DateTime", datetime),
    name="DateTime",
    description="RFC 3339 date-time with an explicit offset, e.g. 2026-12-01T09:00:00+01:00.",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)

JSON = strawberry.scalar(
    NewType("JSON", object),
    name="JSON",
    description="Opaque JSON value (an object unless stated otherwise).",
    serialize=lambda value: value,
    parse_value=lambda value: value,
)

JSONValue = Any
