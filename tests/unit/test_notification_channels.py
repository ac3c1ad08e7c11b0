"""Pure parts of the notifications service: signatures, SMTP URLs, retry backoff."""

from __future__ import annotations

import pytest

from workers.notifications.channels import SmtpTarget, sign
from workers.notifications.firing import RetryPolicy


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    # The published HMAC-SHA256 test vector (key "key").
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign(body, "key") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


def test_smtp_urls() -> None:
    plain = SmtpTarget.parse("smtp://127.0.0.1:2525")
    assert (plain.hostname, plain.port, plain.use_tls, plain.username) == (
        "127.0.0.1",
        2525,
        False,
        None,
    )
    secure = SmtpTarget.parse("smtps://me%40example.com:p%3Ass@mail.example.com")
    assert (secure.port, secure.use_tls, secure.username, secure.password) == (
        465,
        True,
        "me@example.com",
        "p:ss",
    )
    with pytest.raises(ValueError, match="smtp://"):
        SmtpTarget.parse("http://mail.example.com")


def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, base_seconds=2.0, max_seconds=10.0)
    for attempts, expected in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        assert expected * 0.9 <= policy.delay(attempts) <= expected * 1.1
