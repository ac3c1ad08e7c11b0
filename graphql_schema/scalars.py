"""Custom scalars: DateTime (RFC 3339 with an explicit offset) and JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeAlias

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

# Resolvers annotate with these names; the schema maps `datetime` to the contract's DateTime.
DateTime: TypeAlias = datetime
__all__ = ["JSON", "SCALAR_MAP", "DateTime"]


EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(9000, 1, 1)
ZERO = timedelta(0)


def parse_datetime(value: object) -> datetime:
    """An aware datetime from an RFC 3339 string; the offset is mandatory."""
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
    # Far-off instants overflow date arithmetic (offsets, recurrences); nobody plans there.
    try:
        utc = parsed.replace(tzinfo=None) - (parsed.utcoffset() or ZERO)
    except OverflowError:
        utc = EARLIEST - ZERO.resolution
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"DateTime {value!r} must be between the years 1900 and 9000")
    return parsed


def serialize_datetime(value: datetime) -> str:
    """The RFC 3339 text of an aware datetime, always in UTC so equal instants read equal."""
    return value.astimezone(UTC).isoformat()


SCALAR_MAP: dict[object, ScalarDefinition] = {
    datetime: strawberry.scalar(
        name="DateTime",
        description="RFC 3339 date-time with an explicit offset, e.g. 2026-12-01T09:00:00+01:00.",
        serialize=serialize_datetime,
        parse_value=parse_datetime,
    ),
}
