"""Erasing a deleted account's personal audit trail (taskstream.user.deleted.v1).

Deleting the account is itself the compliance decision (docs/compliance.md): the trail, its
checkpoints and its chain head go, nothing personal is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

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


async def erase_users(
    events: Sequence[CloudEvent[UserDeleted]], connection: AsyncConnection
) -> Outcome:
    """The batch form: each account of the run erased in order, in the batch's transaction.

    Without it the audit consumer could not batch its task-events topic at all (a topic is
    batched only when every event type on it has a batch form: Consumer.subscriptions).
    """
    for event in events:
        await erase_user(event, connection)
    return Outcome.SUCCESS
