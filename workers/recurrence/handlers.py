"""Handlers of the recurrence service, one per event it acts on."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.gateway_api import CreateNextInstance, GatewayClient
from taskstream.errors import NotFound
from taskstream.invocation import ServiceUnavailable
from taskstream.messaging.bus import Outcome
from taskstream.messaging.consumer import CloudEvent
from taskstream.offload import off_loop
from taskstream.recurrence import recurrence_from_json

log = logging.getLogger(__name__)

SOURCE = "recurrence"


class RecurrenceHandlers:
    """Acts on task events through the gateway's internal API."""

    def __init__(self, gateway: GatewayClient) -> None:
        self.gateway = gateway

    async def create_next_instance(self, event: CloudEvent, _: AsyncConnection) -> Outcome:
        """On completion of a recurring instance, ask the gateway for exactly one next one."""
        task: dict[str, Any] = event.data["task"]
        recurrence = recurrence_from_json(task.get("recurrence"))
        if recurrence is None or task.get("dueAt") is None or task.get("completedAt") is None:
            return Outcome.SUCCESS
        # Expansion is bounded by its work budget but may take milliseconds: off the loop.
        next_due = await off_loop(
            recurrence.next_due,
            due_at=datetime.fromisoformat(task["dueAt"]),
            completed_at=datetime.fromisoformat(task["completedAt"]),
            instance_number=int(task.get("instanceNumber", 1)),
        )
        if next_due is None:
            log.info("series ended", extra={"series_id": task.get("seriesId")})
            return Outcome.SUCCESS
        try:
            await self.gateway.create_next_instance(
                CreateNextInstance(
                    task_id=task["id"], user_id=task["userId"], due_at=next_due, source=SOURCE
                )
            )
        except NotFound:
            # The completed instance was deleted before we got to it: nothing to continue.
            return Outcome.DROP
        except ServiceUnavailable:
            return Outcome.RETRY
        return Outcome.SUCCESS
