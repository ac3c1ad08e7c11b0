"""Opaque keyset cursors: the sort-key values of the last row, bound to one ordering."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from taskstream.domain.errors import InvalidInput


def encode_cursor(ordering: str, values: list[Any]) -> str:
    """A URL-safe cursor carrying the values and a fingerprint of the ordering."""
    payload = {"o": _fingerprint(ordering), "v": values}
    raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: str, *, field: str = "after") -> list[Any]:
    """The values of a cursor made for this ordering; BAD_USER_INPUT otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        fingerprint, values = payload["o"], payload["v"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidInput(field, "is not a cursor returned by this query") from error
    if fingerprint != _fingerprint(ordering) or not isinstance(values, list):
        raise InvalidInput(field, "was made for another ordering; start again without it")
    return values


def _fingerprint(ordering: str) -> str:
    return hashlib.sha256(ordering.encode()).hexdigest()[:12]
