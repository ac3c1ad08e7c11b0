"""Bearer tokens: a token verified once is remembered, and still refused once it expires; a
token the service never verified (forged, altered, another key's) is checked in full."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from taskstream import auth
from taskstream.auth import TokenService
from taskstream.errors import Unauthenticated


def _service(secret: str = "unit-test-signing-key-0123456789abcdef") -> TokenService:
    return TokenService(
        secret=secret, issuer="taskstream", audience="taskstream-api", ttl=timedelta(hours=1)
    )


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service()
    user = uuid.uuid4()
    token = service.issue(user)
    claims = service.claims(token)
    assert claims.user_id == user
    # Verified again without checking the signature: the remembered claims themselves.
    assert service.claims(token) is claims
    later = claims.expires_at.timestamp() + 1
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: later))
    with pytest.raises(Unauthenticated):
        service.claims(token)
    # Forgotten, so the full check refuses it too (PyJWT reads the real clock: still valid
    # there, so only the remembered path is what refused it above).
    assert token not in service._verified


def test_only_verified_tokens_are_remembered() -> None:
    service, other = _service(), _service("another-signing-key-0123456789abcdef0")
    forged = other.issue(uuid.uuid4())
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            service.claims(forged)
    token = service.issue(uuid.uuid4())
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            service.claims(altered)
    expired = service.issue(uuid.uuid4(), now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthenticated):
        service.claims(expired)
    assert not service._verified


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_MAX", 3)
    service = _service()
    tokens = [service.issue(uuid.uuid4()) for _ in range(5)]
    for token in tokens:
        service.claims(token)
    assert list(service._verified) == tokens[2:]
