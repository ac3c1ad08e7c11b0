"""User and AuthPayload types."""

from __future__ import annotations

import strawberry

from gateway_core.domain.users import User as DomainUser
from graphql_schema.node import Node


@strawberry.type(name="User", description="A user account.")
class User(Node):
    """An account."""

    id: strawberry.ID = strawberry.field(description="The account's id.")
    email: str = strawberry.field(
        description="Unique case-insensitively; reminder e-mails are sent here."
    )
    timezone: str = strawberry.field(description="IANA time zone name, e.g. Europe/Berlin.")

    @classmethod
    def of(cls, user: DomainUser) -> User:
        """The GraphQL view of a user."""
        return cls(id=strawberry.ID(str(user.id)), email=user.email, timezone=user.timezone)


@strawberry.type(
    name="AuthPayload",
    description="What signUp, logIn and changePassword return: a bearer token and its account.",
)
class AuthPayload:
    """A bearer token and whom it is for."""

    token: str = strawberry.field(
        description=(
            'Bearer token: `Authorization: Bearer <token>` over HTTP, `{"authorization": '
            '"Bearer <token>"}` as the WebSocket connection_init payload. Valid until it '
            "expires or is revoked (logOut, logOutEverywhere, changePassword, deleteAccount)."
        )
    )
    user: User = strawberry.field(description="The account the token acts as.")
