"""The gateway's session state: each account's token generation and its revoked token ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway_core.domain.users import User
from gateway_core.persistence import tables as t

# Revoked ids kept in a replica's cache per account; an account with more is checked against
# the database on each request instead, so memory stays bounded whatever a user does.
CACHED_REVOCATIONS = 64


@dataclass(frozen=True, slots=True)
class SessionState:
    """An account, its current token generation and its revoked, unexpired token ids."""

    user: User
    generation: int
    # None when there are more than CACHED_REVOCATIONS: ask `is_revoked` per token then.
    revoked: frozenset[str] | None


class SessionRepository:
    """Reads and changes the session state of accounts (gateway tables)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def state(self, user_id: uuid.UUID) -> SessionState | None:
        """The account's session state, or None when the account does not exist."""
        # One statement (authentication runs it on every cache miss).
        revoked = (
            select(t.revoked_tokens.c.jti)
            .where(
                t.revoked_tokens.c.user_id == t.users.c.id,
                t.revoked_tokens.c.expires_at > func.now(),
            )
            .limit(CACHED_REVOCATIONS + 1)
            .scalar_subquery()
        )
        row = (
            await self.connection.execute(
                select(
                    t.users.c.id,
                    t.users.c.email,
                    t.users.c.timezone,
                    t.users.c.session_generation,
                    func.array(revoked).label("revoked"),
                ).where(t.users.c.id == user_id)
            )
        ).first()
        if row is None:
            return None
        jtis = list(row.revoked or ())
        cached = frozenset(jtis) if len(jtis) <= CACHED_REVOCATIONS else None
        user = User(row.id, row.email, row.timezone)
        return SessionState(user, row.session_generation, cached)

    async def is_revoked(self, jti: str) -> bool:
        """Whether this token id was revoked."""
        found = await self.connection.scalar(
            select(t.revoked_tokens.c.jti).where(t.revoked_tokens.c.jti == jti)
        )
        return found is not None

    async def generation(self, user_id: uuid.UUID) -> int:
        """The account's current token generation (0 when it has none yet)."""
        found = await self.connection.scalar(
            select(t.users.c.session_generation).where(t.users.c.id == user_id)
        )
        return int(found or 0)

    async def revoke(self, *, user_id: uuid.UUID, jti: str, expires_at: datetime) -> None:
        """Revoke one token until it expires (and forget the user's expired revocations)."""
        await self.connection.execute(
            delete(t.revoked_tokens).where(
                t.revoked_tokens.c.user_id == user_id,
                t.revoked_tokens.c.expires_at <= func.now(),
            )
        )
        await self.connection.execute(
            pg_insert(t.revoked_tokens)
            .values(jti=jti, user_id=user_id, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[t.revoked_tokens.c.jti])
        )

    async def next_generation(self, user_id: uuid.UUID) -> int:
        """Revoke every token of the account: move it to its next generation, which is returned."""
        generation = await self.connection.scalar(
            update(t.users)
            .where(t.users.c.id == user_id)
            .values(session_generation=t.users.c.session_generation + 1)
            .returning(t.users.c.session_generation)
        )
        # Single revocations of older generations are covered by the generation now.
        await self.connection.execute(
            delete(t.revoked_tokens).where(t.revoked_tokens.c.user_id == user_id)
        )
        return int(generation or 0)

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Store the account's new password hash."""
        await self.connection.execute(
            update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash)
        )

    async def password_hash(self, user_id: uuid.UUID) -> str | None:
        """The account's password hash, if the account exists."""
        found = await self.connection.scalar(
            select(t.users.c.password_hash).where(t.users.c.id == user_id)
        )
        return None if found is None else str(found)

    async def delete_account(self, user_id: uuid.UUID) -> None:
        """Delete the account and every row of it in the gateway's tables."""
        # Lock the account first: a task or tag being added at this moment (the user's own
        # request, or the recurrence service's next instance) waits for this transaction and
        # then fails on its foreign key, instead of failing the deletion.
        await self.connection.execute(
            select(t.users.c.id).where(t.users.c.id == user_id).with_for_update()
        )
        # Reminders and task_tags go with their tasks (ON DELETE CASCADE); reminders are
        # also matched on user_id in case one ever outlives its task. Published outbox rows
        # carry snapshots of the user's tasks: they go too. Unpublished ones (the deletion
        # event among them) still have to reach the workers, in order; pruning takes them later.
        await self.connection.execute(delete(t.reminders).where(t.reminders.c.user_id == user_id))
        await self.connection.execute(delete(t.tasks).where(t.tasks.c.user_id == user_id))
        await self.connection.execute(delete(t.tags).where(t.tags.c.user_id == user_id))
        await self.connection.execute(
            delete(t.outbox).where(
                t.outbox.c.partition_key == str(user_id), t.outbox.c.published_at.is_not(None)
            )
        )
        await self.connection.execute(delete(t.users).where(t.users.c.id == user_id))
