"""Passwords (argon2id) and bearer tokens (signed JWTs with issuer, audience and expiry).

A token names its session: `jti` (revoked alone by logOut) and `gen`, the account's session
generation when it was issued (logOutEverywhere and changePassword move the account to the next
generation, which revokes every older token). Tokens without `gen` were issued before sessions
were revocable and count as generation 0.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives.asymmetric import ec

from taskstream.errors import Unauthenticated

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
class TokenClaims:
    """What a verified token says: whose it is, which session, and until when."""

    user_id: uuid.UUID
    jti: str | None
    generation: int
    expires_at: datetime


# Verified tokens remembered per service (a few hundred bytes each): a client sends the same
# token with every request, and checking its signature and claims again is most of the
# authentication's CPU.
VERIFIED_MAX = 4096


@dataclass(frozen=True, slots=True)
class TokenService:
    """Issues and verifies the bearer tokens of the API."""

    secret: str
    issuer: str
    audience: str
    ttl: timedelta
    # token -> its claims, for tokens this service verified (least recently used first).
    _verified: OrderedDict[str, TokenClaims] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def issue(self, user_id: uuid.UUID, *, generation: int = 0, now: datetime | None = None) -> str:
        """A signed token for the user's session generation, valid for the configured time."""
        issued = now or datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(issued.timestamp()),
            "exp": int((issued + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
            "gen": generation,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> uuid.UUID:
        """The user id of a valid token; UNAUTHENTICATED for anything else."""
        return self.claims(token).user_id

    def claims(self, token: str) -> TokenClaims:
        """The claims of a validly signed, unexpired token; UNAUTHENTICATED for anything else.

        Whether the session was revoked since is the gateway's question (gateway/sessions.py).
        """
        known = self._verified.get(token)
        if known is not None:
            # The same bytes verified before: only its expiry can have changed since.
            if known.expires_at.timestamp() <= time.time():
                del self._verified[token]
                raise Unauthenticated("the token is invalid or expired")
            self._verified.move_to_end(token)
            return known
        verified = self._verify(token)
        self._verified[token] = verified
        if len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)
        return verified

    def _verify(self, token: str) -> TokenClaims:
        """The claims of a token checked in full (signature, issuer, audience, times)."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            jti = claims.get("jti")
            generation = claims.get("gen", 0)
            if not isinstance(generation, int) or isinstance(generation, bool):
                raise ValueError("gen must be an integer")
            return TokenClaims(
                user_id=uuid.UUID(claims["sub"]),
                jti=jti if isinstance(jti, str) and jti else None,
                generation=generation,
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (jwt.InvalidTokenError, ValueError, KeyError, TypeError, OverflowError) as error:
            raise Unauthenticated("the token is invalid or expired") from error


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, if that is what it is."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def new_vapid_private_key() -> str:
    """A fresh Web Push (VAPID) private key: the raw P-256 scalar in unpadded base64url."""
    scalar = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(scalar.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def load_or_create_vapid_key(path: Path) -> str:
    """The VAPID private key kept at `path`, generated once (mode 0600) when missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_vapid_private_key()
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def load_or_create_signing_key(path: Path) -> str:
    """The signing key kept at `path`, generated once (mode 0600) when missing."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
