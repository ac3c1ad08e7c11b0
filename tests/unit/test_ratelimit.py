"""The sliding-window limiter."""

from __future__ import annotations

import pytest

from taskstream.domain.errors import RateLimited
from taskstream.ratelimit import RateLimiter, RateLimits


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        limiter.hit("k", what="tries")
    with pytest.raises(RateLimited, match="try again in 60 s"):
        limiter.hit("k", what="tries")
    limiter.hit("other", what="tries")
    clock.now += 30
    with pytest.raises(RateLimited, match="try again in 30 s"):
        limiter.hit("k", what="tries")
    clock.now += 30.5
    limiter.hit("k", what="tries")


def test_login_attempts_count_per_account_and_per_address() -> None:
    limits = RateLimits(
        logins_per_minute=2, logins_per_address_per_minute=2, mutations_per_minute=1
    )
    limits.login_attempt(email_key="a@x", address="10.0.0.1")
    limits.login_attempt(email_key="b@x", address="10.0.0.1")
    with pytest.raises(RateLimited, match="address"):
        limits.login_attempt(email_key="c@x", address="10.0.0.1")
    limits.login_attempt(email_key="a@x", address="10.0.0.2")
    with pytest.raises(RateLimited, match="account"):
        limits.login_attempt(email_key="a@x", address="10.0.0.3")
