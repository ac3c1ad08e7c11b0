"""Sign-up and log-in."""

from __future__ import annotations

import uuid

from taskstream.auth import DUMMY_HASH, PasswordHashing, TokenService
from taskstream.domain.errors import InvalidInput, Unauthenticated
from taskstream.domain.recurrence import validate_timezone
from taskstream.domain.users import User, check_password, email_key, new_user
from taskstream.persistence.uow import UnitOfWork

# For callers that bring no limit of their own (the gateway passes its configured one).
_DEFAULT_HASHING = PasswordHashing(concurrency=4)


async def sign_up(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    email: str,
    password: str,
    timezone: str | None,
    hashing: PasswordHashing | None = None,
) -> tuple[str, User]:
    """Create an account and return a token for it; CONFLICT when the email is taken."""
    user = new_user(email=email, timezone=timezone)
    check_password(password)
    password_hash = await (hashing or _DEFAULT_HASHING).hash(password)
    async with uow:
        await uow.users.add(user, password_hash)
        await uow.commit()
    return tokens.issue(user.id), user


async def log_in(
    *,
    uow: UnitOfWork,
    tokens: TokenService,
    email: str,
    password: str,
    hashing: PasswordHashing | None = None,
) -> tuple[str, User]:
    """A token for the account with these credentials; UNAUTHENTICATED otherwise."""
    if not email.strip():
        raise InvalidInput("email", "must not be empty")
    async with uow:
        found = await uow.users.credentials(email_key(email))
    stored_hash = found[1] if found else DUMMY_HASH
    matches = await (hashing or _DEFAULT_HASHING).verify(stored_hash, password)
    if found is None or not matches:
        raise Unauthenticated("email or password is wrong")
    return tokens.issue(found[0].id), found[0]


async def change_timezone(*, uow: UnitOfWork, user_id: uuid.UUID, timezone: str) -> User:
    """Set the user's IANA time zone (new recurrences and reminders default to it)."""
    validate_timezone(timezone, field="timezone")
    async with uow:
        await uow.users.set_timezone(user_id, timezone)
        user = await uow.users.get(user_id)
        await uow.commit()
    if user is None:
        raise Unauthenticated("the token's account no longer exists")
    return user
