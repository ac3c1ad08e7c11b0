"""Typed events for tests, built through the contracts' models as producers build them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.task import Task

CREATED = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def wire_task(
    *,
    task_id: uuid.UUID | str | None = None,
    user_id: uuid.UUID | str | None = None,
    version: int = 1,
    **fields: Any,
) -> Task:
    """A task in its wire shape; `fields` (wire names) override the plain open task."""
    values: dict[str, Any] = {
        "id": str(task_id or uuid.uuid4()),
        "userId": str(user_id or uuid.uuid4()),
        "title": "A task",
        "notes": "",
        "status": "OPEN",
        "priority": "NONE",
        "tags": [],
        "dueAt": None,
        "completedAt": None,
        "recurrence": None,
        "seriesId": None,
        "instanceNumber": 1,
        "reminders": [],
        "createdAt": CREATED.isoformat(),
        "updatedAt": CREATED.isoformat(),
        "version": version,
    }
    values.update(fields)
    return Task.model_validate(values)
