"""Saved filters: a user's named TaskFilter and ordering, replayed by the client.

What a saved filter may hold is checked by the API against its own TaskFilter and TaskOrder
input types (graphql_schema/filters); here are the limits every saved filter obeys.
"""

from __future__ import annotations

import json
from typing import Any

from taskstream.errors import InvalidInput

NAME_MAX = 100
# A user's saved filters; one more is refused until one is deleted (saving over a name is not
# one more).
SAVED_FILTERS_MAX = 50
# Bytes of the filter and of the ordering, as compact JSON: a TaskFilter at its documented
# limits (a 200-character text, 20 tags of 50 characters twice, ...) is under 3 KB.
FILTER_BYTES_MAX = 4096
ORDER_BYTES_MAX = 512


def clean_filter_name(name: str) -> str:
    """The name trimmed, or InvalidInput when empty or too long."""
    trimmed = " ".join(name.split())
    if not 1 <= len(trimmed) <= NAME_MAX:
        raise InvalidInput("name", f"must be 1 to {NAME_MAX} characters after trimming")
    return trimmed


def filter_name_key(name: str) -> str:
    """The case-insensitive identity of a saved filter's name."""
    return name.casefold()


def check_size(value: Any, field_name: str, maximum: int) -> None:
    """InvalidInput when the value is larger than `maximum` bytes as compact JSON."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > maximum:
        raise InvalidInput(field_name, f"must be at most {maximum} bytes as JSON, not {size}")
