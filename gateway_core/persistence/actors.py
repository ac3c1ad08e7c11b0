"""Who acted: the public view (id and email) of users named as actors, e.g. by audit entries."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway_core.persistence import tables as t


async def emails_of(
    connection: AsyncConnection, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The email of each of these users that still has an account (one query)."""
    if not user_ids:
        return {}
    rows = await connection.execute(
        select(t.users.c.id, t.users.c.email).where(t.users.c.id.in_(list(user_ids)))
    )
    return {row.id: row.email for row in rows}
