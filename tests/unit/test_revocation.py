"""Revocation messages of the live broadcast: which sockets' tokens they cover."""

from __future__ import annotations

import uuid

from gateway_core.domain.sessions import Revocation

USER = uuid.uuid4()


def test_a_revocation_survives_the_broadcast_and_covers_what_it_names() -> None:
    one = Revocation(USER, jti="abc")
    older = Revocation(USER, generation=3)
    every = Revocation(USER)
    for revocation in (one, older, every):
        assert Revocation.of(revocation.to_json()) == revocation
    assert one.covers("abc", 0) and not one.covers("abd", 0) and not one.covers(None, 0)
    assert older.covers("x", 2) and older.covers(None, 0) and not older.covers("x", 3)
    assert every.covers("x", 7) and every.covers(None, 0)


def test_anything_else_on_the_channel_is_no_revocation() -> None:
    odd_messages: list[object] = [None, "x", [], {}, {"userId": "not a uuid"}, {"userId": 42}]
    for raw in odd_messages:
        assert Revocation.of(raw) is None
    # Malformed fields revoke more of the account, never less, and nothing of another.
    odd = Revocation.of({"userId": str(USER), "jti": 5, "generation": "2"})
    assert odd == Revocation(USER)
