"""Sign-up, log-in and `me`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_schema.auth.types import AuthPayload, User
from graphql_schema.context import Info
from graphql_schema.permissions import IsAuthenticated
from taskstream.domain.errors import Unauthenticated
from taskstream.domain.users import email_key
from taskstream.services import accounts


@strawberry.type
class AuthQueries:
    """Who the caller is."""

    @strawberry.field(permission_classes=[IsAuthenticated], description="The caller's account.")
    async def me(self, info: Info) -> User:
        """The caller's account."""
        return User.of(await info.context.current_user())


@strawberry.type
class AuthMutations:
    """Getting a token."""

    @strawberry.mutation(
        description=(
            "Creates an account and returns a bearer token for it. Needs no token; limited per "
            "client address (RATE_LIMITED)."
        )
    )
    async def sign_up(
        self,
        info: Info,
        email: Annotated[
            str,
            strawberry.argument(
                description="E-mail address; unique case-insensitively (else CONFLICT)."
            ),
        ],
        password: Annotated[str, strawberry.argument(description="At least 8 characters.")],
        timezone: Annotated[
            str | None,
            strawberry.argument(
                description="IANA time zone name, e.g. Europe/Berlin; UTC when omitted."
            ),
        ] = None,
    ) -> AuthPayload:
        """Create an account; returns a bearer token."""
        services = info.context.services
        services.limits.sign_up(address=info.context.client_address)
        token, user = await accounts.sign_up(
            uow=services.uow(),
            tokens=services.tokens,
            email=email,
            password=password,
            timezone=timezone,
        )
        return AuthPayload(token=token, user=User.of(user))

    @strawberry.mutation(
        description=(
            "Exchanges e-mail and password for a new bearer token; wrong credentials are "
            "UNAUTHENTICATED. Needs no token; limited per address, and per account and address "
            "with a growing wait after repeated wrong passwords (RATE_LIMITED)."
        )
    )
    async def log_in(
        self,
        info: Info,
        email: Annotated[
            str,
            strawberry.argument(description="The account's e-mail address, in any letter case."),
        ],
        password: Annotated[str, strawberry.argument(description="The account's password.")],
    ) -> AuthPayload:
        """Exchange credentials for a bearer token."""
        services = info.context.services
        key, address = email_key(email), info.context.client_address
        services.limits.login_attempt(email_key=key, address=address)
        try:
            token, user = await accounts.log_in(
                uow=services.uow(), tokens=services.tokens, email=email, password=password
            )
        except Unauthenticated:
            services.limits.login_failed(email_key=key, address=address)
            raise
        services.limits.login_succeeded(email_key=key, address=address)
        return AuthPayload(token=token, user=User.of(user))


@strawberry.type
class AccountMutations:
    """Changes to the caller's own account."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Sets the caller's IANA time zone; new recurrences default to it.",
    )
    async def update_me(
        self,
        info: Info,
        timezone: Annotated[
            str, strawberry.argument(description="IANA time zone name, e.g. Europe/Berlin.")
        ],
    ) -> User:
        """Change the caller's time zone."""
        user = await accounts.change_timezone(
            uow=info.context.services.uow(), user_id=info.context.require_user(), timezone=timezone
        )
        return User.of(user)
