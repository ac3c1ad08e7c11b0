"""Users: identity, email rules and time zone."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from taskstream.errors import InvalidInput
from taskstream.recurrence import validate_timezone

PASSWORD_MIN = 8
PASSWORD_MAX = 1024
EMAIL_MAX = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class User:
    """An account; the email is unique case-insensitively."""

    id: uuid.UUID
    email: str
    timezone: str

    @property
    def email_key(self) -> str:
        """The case-insensitive identity of the email."""
        return email_key(self.email)


def email_key(email: str) -> str:
    """The case-insensitive identity of an email address."""
    return email.strip().casefold()


def clean_email(email: str) -> str:
    """The email trimmed, or InvalidInput when it is not an address."""
    trimmed = email.strip()
    if len(trimmed) > EMAIL_MAX or not _EMAIL.match(trimmed):
        raise InvalidInput("email", "must be an email address such as ada@example.com")
    return trimmed


def check_password(password: str) -> str:
    """The password, or InvalidInput when shorter than allowed."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput("password", f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return password


def new_user(*, email: str, timezone: str | None) -> User:
    """A validated new user; the time zone defaults to UTC."""
    zone = timezone or "UTC"
    validate_timezone(zone, field="timezone")
    return User(uuid.uuid4(), clean_email(email), zone)
