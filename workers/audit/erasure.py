"""Erasing a deleted account's personal audit trail (taskstream.user.deleted.v1).

Deleting the account is itself the compliance decision (docs/compliance.md): the trail, its
checkpoints and its chain head go, nothing personal is kept.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import UserDeleted
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.audit import trail


async def erase_user(event: CloudEvent[UserDeleted], connection: AsyncConnection) -> Outcome:
    """Delete the account's entries, checkpoints and chain head."""
    user_id = event.data.user_id
    # The triggers refuse deleting entries but for retention and for the erasure of the
    # account they belong to, which trail.erase_user declares for this transaction.
    await trail.erase_user(connection, user_id)
    return Outcome.SUCCESS
