"""Erasing a deleted account's personal audit trail (taskstream.user.deleted.v1).

Deleting the account is itself the compliance decision (docs/compliance.md): the trail, its
checkpoints and its chain head go, nothing personal is kept.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection

from taskstream.messaging.bus import Outcome
from taskstream.messaging.consumer import CloudEvent
from workers.audit.tables import chain_heads, checkpoints, entries

log = logging.getLogger(__name__)


async def erase_user(event: CloudEvent, connection: AsyncConnection) -> Outcome:
    """Delete the account's entries, checkpoints and chain head."""
    try:
        user_id = uuid.UUID(str(event.data.get("userId")))
    except ValueError:
        log.warning("user.deleted without a user id", extra={"event_id": event.id})
        return Outcome.DROP
    # Entries are append-only (a trigger refuses deletes) but for the retention policy and
    # the deletion of the account they belong to: this transaction is the latter.
    await connection.execute(text("SET LOCAL taskstream.audit_retention = 'on'"))
    await connection.execute(delete(entries).where(entries.c.user_id == user_id))
    await connection.execute(delete(checkpoints).where(checkpoints.c.user_id == user_id))
    await connection.execute(delete(chain_heads).where(chain_heads.c.user_id == user_id))
    await connection.execute(text("SET LOCAL taskstream.audit_retention = 'off'"))
    return Outcome.SUCCESS
