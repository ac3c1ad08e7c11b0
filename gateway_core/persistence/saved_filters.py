"""Saved filters: stored per user, unique by name case-insensitively."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway_core.persistence import tables as t


@dataclass(frozen=True, slots=True)
class SavedFilterRecord:
    """A saved filter as its owner reads it."""

    id: uuid.UUID
    name: str
    filter: dict[str, Any]
    order_by: list[Any] | None
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> SavedFilterRecord:
    return SavedFilterRecord(
        row.id, row.name, row.filter, row.order_by, row.created_at, row.updated_at
    )


async def lock_user(connection: AsyncConnection, user_id: uuid.UUID) -> None:
    """Serialise one user's saves, so the per-user count limit holds under concurrency."""
    await connection.execute(select(t.users.c.id).where(t.users.c.id == user_id).with_for_update())


async def count_other_names(connection: AsyncConnection, user_id: uuid.UUID, name_key: str) -> int:
    """How many of the user's saved filters have another name than this one."""
    count = await connection.scalar(
        select(func.count()).where(
            t.saved_filters.c.user_id == user_id, t.saved_filters.c.name_key != name_key
        )
    )
    return int(count or 0)


async def upsert(
    connection: AsyncConnection,
    *,
    user_id: uuid.UUID,
    name: str,
    name_key: str,
    filter: dict[str, Any],
    order_by: list[Any] | None,
    now: datetime,
) -> SavedFilterRecord:
    """Store the filter under its name; one of the same name is saved over (keeping its id)."""
    statement = pg_insert(t.saved_filters).values(
        id=uuid.uuid4(),
        user_id=user_id,
        name=name,
        name_key=name_key,
        filter=filter,
        order_by=order_by,
        created_at=now,
        updated_at=now,
    )
    upserting = statement.on_conflict_do_update(
        constraint="saved_filters_user_name",
        set_={
            "name": statement.excluded.name,
            "filter": statement.excluded.filter,
            "order_by": statement.excluded.order_by,
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(*t.saved_filters.c)
    row = (await connection.execute(upserting)).one()
    return _record(row)


async def remove(connection: AsyncConnection, user_id: uuid.UUID, filter_id: uuid.UUID) -> bool:
    """Delete the user's saved filter; whether there was one."""
    result = await connection.execute(
        delete(t.saved_filters).where(
            t.saved_filters.c.id == filter_id, t.saved_filters.c.user_id == user_id
        )
    )
    return bool(result.rowcount)


async def saved_filters_of(
    connection: AsyncConnection, user_id: uuid.UUID
) -> list[SavedFilterRecord]:
    """The user's saved filters by name."""
    rows = await connection.execute(
        select(t.saved_filters)
        .where(t.saved_filters.c.user_id == user_id)
        .order_by(t.saved_filters.c.name_key, t.saved_filters.c.id)
    )
    return [_record(row) for row in rows]
