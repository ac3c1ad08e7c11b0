"""How the Dapr transport reads one entry of a bulk delivery (raw payloads, or parsed ones)."""

from __future__ import annotations

import base64
import json

import pytest

from taskstream.messaging.dapr import bulk_event

EVENT = {"specversion": "1.0", "id": "e-1", "data": {"title": "Zürich ☕"}}


def raw(payload: bytes) -> str:
    """An entry's `event` as daprd sends a raw payload: the message's bytes in base64."""
    return base64.b64encode(payload).decode()


def test_a_raw_payload_is_the_cloudevent_its_bytes_hold() -> None:
    assert bulk_event(raw(json.dumps(EVENT, ensure_ascii=False).encode())) == EVENT


def test_an_event_the_sidecar_parsed_is_taken_as_it_is() -> None:
    assert bulk_event(EVENT) == EVENT


@pytest.mark.parametrize(
    "event",
    [
        raw(b"\xff not json"),
        raw(b"[1, 2]"),
        raw(b'"a string"'),
        "not base64 at all!",
        None,
        [EVENT],
    ],
    ids=["not-json", "a-list", "a-string", "not-base64", "missing", "parsed-list"],
)
def test_what_is_not_a_json_object_is_no_event(event: object) -> None:
    assert bulk_event(event) is None
