"""User and AuthPayload types."""

from __future__ import annotations

import strawberry

from graphql_schema.node import Node
from taskstream.domain.users import User as DomainUser


@strawberry.type(name="User")
class User(Node):
    """An account."""

    id: strawberry.ID
    email: str
    timezone: str = strawberry.field(description="IANA time zone name, e.g. Europe/Berlin.")

    @classmethod
    def of(cls, user: DomainUser) -> User:
        """The GraphQL view of a user."""
        return cls(id=strawberry.ID(str(user.id)), email=user.email, timezone=user.timezone)


@strawberry.type(name="AuthPayload")
class AuthPayload:
    """A bearer token and whom it is for."""

    token: str
    user: User
