"""Handlers of the recurrence service, one per event it acts on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events import TaskCompleted
from contracts.gateway_api import CreateNextInstance, GatewayClient
from contracts.task import Recurrence
from taskstream.errors import NotFound
from taskstream.invocation import ServiceUnavailable
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from taskstream.offload import off_loop

log = logging.getLogger(__name__)

SOURCE = "recurrence"


def series_step(event: CloudEvent[TaskCompleted]) -> tuple[Recurrence, datetime, datetime] | None:
    """The completed task's recurrence, due and completion instants when it recurs (a next
    instance may be due); None when there is nothing to continue."""
    task = event.data.task
    if task.recurrence is None or task.due_at is None or task.completed_at is None:
        return None
    return task.recurrence, task.due_at, task.completed_at


class RecurrenceHandlers:
    """Acts on task events through the gateway's internal API."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def create_next_instance(
        self, event: CloudEvent[TaskCompleted], _: AsyncConnection
    ) -> Outcome:
        """On completion of a recurring instance, ask the gateway for exactly one next one."""
        task = event.data.task
        step = series_step(event)
        if step is None:
            return Outcome.SUCCESS
        recurrence, due_at, completed_at = step
        # Expansion is bounded by its work budget but may take milliseconds: off the loop.
        next_due = await off_loop(
            recurrence.to_rule().next_due,
            due_at=due_at,
            completed_at=completed_at,
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

    async def create_next_instances(
        self, events: Sequence[CloudEvent[TaskCompleted]], _: AsyncConnection
    ) -> Outcome:
        """The batch form, for runs with nothing to do outside the transaction: completions of
        tasks that do not recur (recorded as handled, together). A run holding a recurring one
        answers RETRY: the batch is undone and its events go one by one through
        `create_next_instance` (a gateway call must never be batched: see Consumer)."""
        if any(series_step(event) is not None for event in events):
            return Outcome.RETRY
        return Outcome.SUCCESS
