"""Opaque keyset cursors: the sort-key values of the last row, bound to one ordering.

A cursor comes back from the client, so everything in it is untrusted: its text, its JSON and
each value's type and range are checked here, before any value reaches SQL, and whatever is
wrong is BAD_USER_INPUT naming the argument (never a database error).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from taskstream.errors import InvalidInput

# Ours are well under 400 characters (a few keys, the ordering's fingerprint); anything much
# longer was not made here, and is refused before it is decoded or sent on to a service.
CURSOR_MAX = 1024
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*={0,2}")

NOT_OURS = "is not a cursor returned by this query; use a pageInfo.endCursor as it was given"

# How a sort key travels in a cursor: its JSON type and the range its column can hold.
Kind = Literal["time", "smallint", "bigint", "float", "text", "uuid"]
_INT_RANGES = {"smallint": (-(2**15), 2**15 - 1), "bigint": (-(2**63), 2**63 - 1)}


def encode_cursor(ordering: str, values: list[Any]) -> str:
    """A URL-safe cursor carrying the values and a fingerprint of the ordering."""
    payload = {"o": ordering_fingerprint(ordering), "v": values}
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_cursor_text(cursor: str, *, field: str = "after") -> str:
    """The cursor when its text could be one of ours (length and alphabet); else BAD_USER_INPUT.

    Callers that pass a cursor on to another service check it first, so nothing odd travels.
    """
    if len(cursor) > CURSOR_MAX:
        raise InvalidInput(field, f"{NOT_OURS} (cursors are at most {CURSOR_MAX} characters)")
    if not _ALPHABET.fullmatch(cursor):
        raise InvalidInput(field, NOT_OURS)
    return cursor


def decode_cursor(cursor: str, ordering: str, *, field: str = "after") -> list[Any]:
    """The values of a cursor made for this ordering; BAD_USER_INPUT otherwise."""
    check_cursor_text(cursor, field=field)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as error:
        raise InvalidInput(field, NOT_OURS) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise InvalidInput(field, NOT_OURS)
    if payload.get("o") != ordering_fingerprint(ordering):
        raise InvalidInput(field, "was made for another ordering or filter; start again without it")
    values: list[Any] = payload["v"]
    return values


def decode_typed_cursor(
    cursor: str,
    ordering: str,
    kinds: Sequence[tuple[Kind, bool]],
    *,
    field: str = "after",
) -> list[Any]:
    """The cursor's values as Python values of these kinds (each with whether it may be null).

    Times come back timezone-aware and within what PostgreSQL and Python can both hold,
    integers within their column's range, floats finite, text storable, UUIDs parsed.
    """
    values = decode_cursor(cursor, ordering, field=field)
    if len(values) != len(kinds):
        raise InvalidInput(field, NOT_OURS)
    return [
        _typed(value, kind, nullable, field)
        for value, (kind, nullable) in zip(values, kinds, strict=True)
    ]


def _typed(value: Any, kind: Kind, nullable: bool, field: str) -> Any:
    if value is None:
        if nullable:
            return None
        raise InvalidInput(field, NOT_OURS)
    if kind == "time":
        return _time(value, field)
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        # bool is an int to Python, never in a cursor of ours.
        if type(value) is not int or not low <= value <= high:
            raise InvalidInput(field, NOT_OURS)
        return value
    if kind == "float":
        if type(value) not in (int, float) or not math.isfinite(value):
            raise InvalidInput(field, NOT_OURS)
        return float(value)
    if kind == "text":
        if not isinstance(value, str) or "\x00" in value or not _encodable(value):
            raise InvalidInput(field, NOT_OURS)
        return value
    if not isinstance(value, str):
        raise InvalidInput(field, NOT_OURS)
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise InvalidInput(field, NOT_OURS) from error


def _time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(field, NOT_OURS)
    try:
        parsed = datetime.fromisoformat(value)
        # The driver sends it as UTC: a time near year 1 or 9999 may not convert.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError) as error:
        raise InvalidInput(field, NOT_OURS) from error
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput(field, NOT_OURS)
    return parsed


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ordering_fingerprint(ordering: str) -> str:
    """The short hash of an ordering a cursor carries (compiled reads build cursors in SQL)."""
    return hashlib.sha256(ordering.encode()).hexdigest()[:12]
