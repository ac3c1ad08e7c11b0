"""The recurrence worker computes next due dates off the event loop (bounded, but not instant).

Proven without a clock: the wrapped `next_due` asks the event loop to set an event and waits for
it, which can only happen while it runs on another thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.events import TaskCompleted
from contracts.gateway_api import GatewayClient
from contracts.task import Task
from taskstream.invocation import ServiceInvoker
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from taskstream.recurrence import Recurrence
from workers.recurrence.handlers import RecurrenceHandlers

TASK_ID = "0f8e2a5c-2a55-4c5e-8f7e-2f0d3f8b1a77"
USER_ID = "c3a1d6a4-8a9e-4f3b-b0a5-0c2d9b1f4e21"


class RecordingInvoker(ServiceInvoker):
    """Records the calls instead of making them."""

    def __init__(self) -> None:
        super().__init__({})
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(
        self, app_id: str, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> Any:
        self.calls.append((path, json))
        return {"id": str(uuid.uuid4()), "seriesId": None, "instanceNumber": 2, "dueAt": None}


async def test_next_due_is_computed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    answered: list[bool] = []
    next_due = Recurrence.next_due

    def checked(self: Recurrence, **kwargs: Any) -> datetime | None:
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        answered.append(ran.wait(timeout=10))
        return next_due(self, **kwargs)

    monkeypatch.setattr(Recurrence, "next_due", checked)
    task = Task.model_validate(
        {
            "id": TASK_ID,
            "userId": USER_ID,
            "title": "Leap day",
            "notes": "",
            "status": "DONE",
            "priority": "NONE",
            "tags": [],
            "dueAt": "2028-02-29T09:00:00+00:00",
            "completedAt": "2028-02-29T10:00:00+00:00",
            "recurrence": {
                "rule": "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=9",
                "repeatFrom": "DUE_DATE",
                "timezone": "UTC",
                "dtstart": "2028-02-29T09:00:00+00:00",
                "skipped": [],
            },
            "seriesId": TASK_ID,
            "instanceNumber": 1,
            "reminders": [],
            "createdAt": "2028-02-01T09:00:00+00:00",
            "updatedAt": "2028-02-29T10:00:00+00:00",
            "version": 2,
        }
    )
    event = CloudEvent(
        id="e1",
        type=TaskCompleted.TYPE,
        source="gateway",
        subject=TASK_ID,
        time=datetime(2028, 2, 29, 10, tzinfo=UTC),
        data=TaskCompleted.of(task),
        topic="task-events",
        raw={},
    )
    invoker = RecordingInvoker()
    handlers = RecurrenceHandlers(GatewayClient(invoker))
    outcome = await handlers.create_next_instance(event, None)  # type: ignore[arg-type]
    assert outcome is Outcome.SUCCESS
    assert answered == [True]
    assert invoker.calls == [
        (
            f"/internal/tasks/{TASK_ID}/next-instance",
            {"userId": USER_ID, "dueAt": "2032-02-29T09:00:00Z", "source": "recurrence"},
        )
    ]
