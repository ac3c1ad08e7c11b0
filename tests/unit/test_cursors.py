"""Keyset cursors round-trip and refuse what they were not made for."""

from __future__ import annotations

import pytest

from taskstream.domain.errors import InvalidInput
from taskstream.persistence.cursors import decode_cursor, encode_cursor


def test_round_trip() -> None:
    values = ["2030-01-01T00:00:00+00:00", 3, None, "0b8f4e3a-7f0c-4a43-9b9b-2d3e8c3f1a11", 0.25]
    cursor = encode_cursor("DUE_AT:A", values)
    assert decode_cursor(cursor, "DUE_AT:A") == values
    assert "=" not in cursor


@pytest.mark.parametrize("cursor", ["", "###", "bm90IGpzb24", "eyJvIjogMX0"])
def test_garbage_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(cursor, "DUE_AT:A")
    assert raised.value.field == "after"


def test_a_cursor_is_bound_to_its_ordering() -> None:
    cursor = encode_cursor("DUE_AT:A", [1])
    with pytest.raises(InvalidInput, match="another ordering"):
        decode_cursor(cursor, "TITLE:A")
