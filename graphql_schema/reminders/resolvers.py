"""Reminder mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway_core.services import tasks as service
from graphql_schema.context import Info
from graphql_schema.ids import ReminderId, parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.tasks.types import Reminder


@strawberry.type
class ReminderMutations:
    """Changes to reminders."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Reschedules a reminder of an OPEN task to now plus `minutes`; it then no longer "
            "follows the due date."
        ),
    )
    async def snooze_reminder(
        self,
        info: Info,
        id: ReminderId,
        minutes: Annotated[int, strawberry.argument(description="1 to 43,200 (30 days).")],
    ) -> Reminder:
        """Reschedule a reminder to now plus `minutes`."""
        reminder = await service.snooze_reminder(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            reminder_id=parse_id(id, "reminder"),
            minutes=minutes,
            now=info.context.now,
        )
        return Reminder.of(reminder)
