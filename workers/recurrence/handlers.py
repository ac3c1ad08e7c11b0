"""Handlers of the recurrence service, one per event it acts on."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import TaskCompleted
from contracts.gateway_api import CreateNextInstance, GatewayClient
from taskstream.errors import NotFound
from taskstream.invocation import ServiceUnavailable
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from taskstream.offload import off_loop

log = logging.getLogger(__name__)

SOURCE = "recurrence"


class RecurrenceHandlers:
    """Acts on task events through the gateway's internal API."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def create_next_instance(
        self, event: CloudEvent[TaskCompleted], _: AsyncConnection
    ) -> Outcome:
        """On completion of a recurring instance, ask the gateway for exactly one next one."""
        task = event.data.task
        if task.recurrence is None or task.due_at is None or task.completed_at is None:
            return Outcome.SUCCESS
        # Expansion is bounded by its work budget but may take milliseconds: off the loop.
        next_due = await off_loop(
            task.recurrence.to_rule().next_due,
            due_at=task.due_at,
            completed_at=task.completed_at,
            instance_number=task.instance_number,
        )
        if next_due is None:
            log.info("series ended", extra={"series_id": str(task.series_id)})
            return Outcome.SUCCESS
        try:
            await self.gateway.create_next_instance(
                CreateNextInstance(
                    task_id=task.id, user_id=task.user_id, due_at=next_due, source=SOURCE
                )
            )
        except NotFound:
            # The completed instance was deleted before we got to it: nothing to continue.
            return Outcome.DROP
        except ServiceUnavailable:
            return Outcome.RETRY
        return Outcome.SUCCESS
