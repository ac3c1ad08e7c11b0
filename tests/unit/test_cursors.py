"""Keyset cursors round-trip and refuse what they were not made for."""

from __future__ import annotations

import base64
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskstream.errors import InvalidInput
from taskstream.persistence.cursors import (
    CURSOR_MAX,
    Kind,
    decode_cursor,
    decode_typed_cursor,
    encode_cursor,
    ordering_fingerprint,
)


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


# --- forged cursors: anything a client can send is a list of sound values or BAD_USER_INPUT ---

KINDS: list[list[tuple[Kind, bool]]] = [
    [("time", True), ("time", False), ("uuid", False)],  # tasks, default order
    [("smallint", False), ("float", False), ("text", False), ("uuid", False)],
    [("time", False), ("uuid", False)],  # notifications
    [("bigint", False)],  # audit log
]
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


def forged(ordering: str, values: Any) -> str:
    """A cursor with the right fingerprint around any JSON value."""
    payload = {"o": ordering_fingerprint(ordering), "v": values}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_sound(values: list[Any], kinds: list[tuple[Kind, bool]]) -> None:
    """Every value is what its column can hold, as the driver will send it."""
    assert len(values) == len(kinds)
    for value, (kind, nullable) in zip(values, kinds, strict=True):
        if value is None:
            assert nullable
        elif kind == "time":
            assert isinstance(value, datetime) and value.tzinfo is not None
            value.astimezone(UTC)
        elif kind == "smallint":
            assert type(value) is int and -(2**15) <= value < 2**15
        elif kind == "bigint":
            assert type(value) is int and -(2**63) <= value < 2**63
        elif kind == "float":
            assert isinstance(value, float) and math.isfinite(value)
        elif kind == "text":
            assert isinstance(value, str) and "\x00" not in value
            value.encode("utf-8")
        else:
            assert isinstance(value, uuid.UUID)


def check(cursor: str, kinds: list[tuple[Kind, bool]]) -> None:
    """The cursor decodes to sound values, or is refused as BAD_USER_INPUT naming `after`."""
    try:
        values = decode_typed_cursor(cursor, "ORDER", kinds)
    except InvalidInput as error:
        refused: InvalidInput | None = error
    else:
        refused = None
        assert_sound(values, kinds)
    assert refused is None or (refused.field, refused.code) == ("after", "BAD_USER_INPUT")


@FUZZ
@given(text=st.text(max_size=2000), which=st.sampled_from(range(len(KINDS))))
def test_any_string_is_a_sound_cursor_or_bad_user_input(text: str, which: int) -> None:
    check(text, KINDS[which])


@FUZZ
@given(values=json_values, which=st.sampled_from(range(len(KINDS))))
def test_any_json_in_the_right_envelope_is_sound_or_bad_user_input(values: Any, which: int) -> None:
    check(forged("ORDER", values), KINDS[which])


@pytest.mark.parametrize(
    "values",
    [
        ["0001-01-01T00:00:00+05:00", "2024-01-01T00:00:00+00:00", str(uuid.uuid4())],
        ["9999-12-31T23:59:59-05:00", "2024-01-01T00:00:00+00:00", str(uuid.uuid4())],
        ["2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00", str(uuid.uuid4())],
        [None, None, str(uuid.uuid4())],
        [1, 2, 3],
        ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00"],
        ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00", "not a uuid"],
    ],
)
def test_wrong_types_and_out_of_range_times_are_refused(values: list[Any]) -> None:
    with pytest.raises(InvalidInput, match=r"^after: is not a cursor"):
        decode_typed_cursor(forged("ORDER", values), "ORDER", KINDS[0])


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ([2**15], [("smallint", False)]),
        ([2**63], [("bigint", False)]),
        ([2**200], [("bigint", False)]),
        ([True], [("bigint", False)]),
        (["7"], [("bigint", False)]),
        ([1.5], [("bigint", False)]),
        ([float("inf")], [("float", False)]),
        ([float("nan")], [("float", False)]),
        (["a\x00b"], [("text", False)]),
        (["\ud800"], [("text", False)]),
    ],
)
def test_numbers_out_of_their_columns_range_and_unstorable_text_are_refused(
    values: list[Any], kinds: list[tuple[Kind, bool]]
) -> None:
    with pytest.raises(InvalidInput, match=r"^after: is not a cursor"):
        decode_typed_cursor(forged("ORDER", values), "ORDER", kinds)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!!",
        "ä",
        "AAAA",
        "A" * 5,
        "A" * (CURSOR_MAX + 1),
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"[" * 900).decode(),
        base64.urlsafe_b64encode(b"9" * 5000).decode()[:CURSOR_MAX],
        base64.urlsafe_b64encode(b'["o","v"]').decode(),
        base64.urlsafe_b64encode(b'{"o":"x"}').decode(),
    ],
)
def test_text_that_is_no_cursor_of_ours_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput, match=r"^after: "):
        decode_typed_cursor(cursor, "ORDER", KINDS[3])
