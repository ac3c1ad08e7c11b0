"""Sign-up, log-in, `me`, and the caller's sessions: log-out, password change, deletion."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway_core.domain.sessions import Revocation
from gateway_core.domain.users import email_key
from gateway_core.services import accounts
from graphql_schema.auth.types import AuthPayload, User
from graphql_schema.context import Info
from graphql_schema.permissions import IsAuthenticated
from taskstream.errors import Unauthenticated


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
        await services.limits.sign_up(address=info.context.client_address)
        token, user = await accounts.sign_up(
            uow=services.uow(),
            tokens=services.tokens,
            email=email,
            password=password,
            timezone=timezone,
            hashing=services.hashing,
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
        await services.limits.login_attempt(email_key=key, address=address)
        try:
            token, user = await accounts.log_in(
                uow=services.uow(),
                tokens=services.tokens,
                email=email,
                password=password,
                hashing=services.hashing,
            )
        except Unauthenticated:
            await services.limits.login_failed(email_key=key, address=address)
            raise
        await services.limits.login_succeeded(email_key=key, address=address)
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

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Revokes the token this request was sent with: from then on it is UNAUTHENTICATED "
            "on every replica (within 1 s), and its open WebSockets are closed with 4403."
        ),
    )
    async def log_out(self, info: Info) -> bool:
        """Revoke the caller's token."""
        claims = info.context.token
        if claims is None:
            return False  # unreachable: IsAuthenticated saw a token
        services = info.context.services
        generation = await accounts.log_out(uow=services.uow(), claims=claims)
        if generation is not None:
            revocation = Revocation(claims.user_id, generation=generation)
        else:
            revocation = Revocation(claims.user_id, jti=claims.jti)
        await services.live.publish_revocation(revocation)
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Revokes every token of the caller's account issued so far (this one included), "
            "on every replica within 1 s, and closes their WebSockets with 4403."
        ),
    )
    async def log_out_everywhere(self, info: Info) -> bool:
        """Revoke all of the caller's tokens."""
        services = info.context.services
        user_id = info.context.require_user()
        generation = await accounts.log_out_everywhere(uow=services.uow(), user_id=user_id)
        await services.live.publish_revocation(Revocation(user_id, generation=generation))
        return True

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Sets a new password and revokes every token of the account (as logOutEverywhere); "
            "answers with a fresh token. A wrong current password is UNAUTHENTICATED, as at "
            "logIn, and changes nothing; limited like logIn (RATE_LIMITED)."
        ),
    )
    async def change_password(
        self,
        info: Info,
        current_password: Annotated[
            str, strawberry.argument(description="The account's password now.")
        ],
        new_password: Annotated[
            str, strawberry.argument(description="The new password: at least 8 characters.")
        ],
    ) -> AuthPayload:
        """Change the caller's password; returns a fresh token."""
        services = info.context.services
        user = await info.context.current_user()
        key, address = user.email_key, info.context.client_address
        await services.limits.login_attempt(email_key=key, address=address)
        try:
            token, user, generation = await accounts.change_password(
                uow=services.uow(),
                tokens=services.tokens,
                user_id=user.id,
                current_password=current_password,
                new_password=new_password,
                hashing=services.hashing,
            )
        except Unauthenticated:
            # A wrong current password backs off like a wrong one at logIn.
            await services.limits.login_failed(email_key=key, address=address)
            raise
        await services.live.publish_revocation(Revocation(user.id, generation=generation))
        return AuthPayload(token=token, user=User.of(user))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Deletes the caller's account: its tasks, tags, reminders, notifications, webhooks, "
            "personal audit trail and sessions (every service within 1 minute; its tokens at "
            "once). The e-mail address can sign up again. A wrong password is UNAUTHENTICATED, "
            "as at logIn, and changes nothing; limited like logIn (RATE_LIMITED). CONFLICT "
            "while the account is the only OWNER of a project with other members (make another "
            "member OWNER or delete the project first). Otherwise it leaves its projects: a "
            "project it is alone in is deleted with its tasks; in the others its assignments "
            "are cleared and the tasks it created stay, handed to an OWNER."
        ),
    )
    async def delete_account(
        self,
        info: Info,
        password: Annotated[str, strawberry.argument(description="The account's password.")],
    ) -> bool:
        """Delete the caller's account and all of its data."""
        services = info.context.services
        user = await info.context.current_user()
        key, address = user.email_key, info.context.client_address
        await services.limits.login_attempt(email_key=key, address=address)
        try:
            await accounts.delete_account(
                uow=services.uow(),
                user_id=user.id,
                password=password,
                now=info.context.now,
                hashing=services.hashing,
            )
        except Unauthenticated:
            await services.limits.login_failed(email_key=key, address=address)
            raise
        await services.live.publish_revocation(Revocation(user.id))
        return True
