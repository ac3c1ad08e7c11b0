"""Passwords (argon2id) and bearer tokens (signed JWTs with issuer, audience and expiry)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from taskstream.domain.errors import Unauthenticated

# OWASP's argon2id recommendation (m=19 MiB, t=2, p=1) rounded up: 64 MiB, t=3, p=2.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=2)
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Verifying against this when the account does not exist keeps login time uniform.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class PasswordHashing:
    """Hashes and verifies passwords in worker threads, at most `concurrency` at once.

    Each argon2id computation takes tens of milliseconds of CPU and 64 MiB: on the event loop
    it would stall every request, and unbounded (anyio's default pool runs 40 threads) a burst
    of log-ins would hold gigabytes and crowd out other threaded work such as DNS lookups.
    Callers beyond the limit wait without holding a thread.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The limiter, made on first use (inside the event loop that uses it)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def hash(self, password: str) -> str:
        """An argon2id hash of the password, computed off the event loop."""
        return await anyio.to_thread.run_sync(hash_password, password, limiter=self.limiter)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches the stored hash, checked off the event loop."""
        return await anyio.to_thread.run_sync(
            verify_password, password_hash, password, limiter=self.limiter
        )


@dataclass(frozen=True, slots=True)
class TokenService:
    """Issues and verifies the bearer tokens of the API."""

    secret: str
    issuer: str
    audience: str
    ttl: timedelta

    def issue(self, user_id: uuid.UUID, *, now: datetime | None = None) -> str:
        """A signed token for the user, valid for the configured time."""
        issued = now or datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> uuid.UUID:
        """The user id of a valid token; UNAUTHENTICATED for anything else."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return uuid.UUID(claims["sub"])
        except (jwt.InvalidTokenError, ValueError, KeyError) as error:
            raise Unauthenticated("the token is invalid or expired") from error


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, if that is what it is."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def load_or_create_signing_key(path: Path) -> str:
    """The signing key kept at `path`, generated once (mode 0600) when missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
