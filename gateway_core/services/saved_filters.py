"""Saved filter use cases: save (over a filter of the same name) and delete."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gateway_core.domain.saved_filters import (
    FILTER_BYTES_MAX,
    ORDER_BYTES_MAX,
    SAVED_FILTERS_MAX,
    check_size,
    clean_filter_name,
    filter_name_key,
)
from gateway_core.persistence import saved_filters as store
from gateway_core.persistence.saved_filters import SavedFilterRecord
from gateway_core.persistence.uow import UnitOfWork
from taskstream.errors import Conflict, NotFound


async def save_filter(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    name: str,
    filter: dict[str, Any],
    order_by: list[Any] | None,
    now: datetime,
) -> SavedFilterRecord:
    """Save a filter (already checked against TaskFilter/TaskOrder by the caller) under its
    name; a filter of the same name (case-insensitively) is saved over."""
    cleaned = clean_filter_name(name)
    key = filter_name_key(cleaned)
    check_size(filter, "filter", FILTER_BYTES_MAX)
    if order_by is not None:
        check_size(order_by, "orderBy", ORDER_BYTES_MAX)
    async with uow:
        await store.lock_user(uow.connection, user_id)
        if await store.count_other_names(uow.connection, user_id, key) >= SAVED_FILTERS_MAX:
            raise Conflict(
                f"name: you may save at most {SAVED_FILTERS_MAX} filters; delete one first "
                "or save over one by its name"
            )
        record = await store.upsert(
            uow.connection,
            user_id=user_id,
            name=cleaned,
            name_key=key,
            filter=filter,
            order_by=order_by,
            now=now,
        )
        await uow.commit()
    return record


async def delete_saved_filter(
    *, uow: UnitOfWork, user_id: uuid.UUID, filter_id: uuid.UUID
) -> uuid.UUID:
    """Delete the user's saved filter; NOT_FOUND for another user's or a missing one."""
    async with uow:
        if not await store.remove(uow.connection, user_id, filter_id):
            raise NotFound("savedFilter", filter_id)
        await uow.commit()
    return filter_id
