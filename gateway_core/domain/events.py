"""Domain events raised by aggregates; each becomes one CloudEvent in the outbox.

They speak the domain's language (a copy of the Task, domain values before and after); the
gateway maps them to the wire models of contracts/ at its edge (gateway_core/wire.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from gateway_core.domain.model import Task


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a task; `task` is a copy of it right after the change."""

    kind: ClassVar[str] = ""
    task: Task
    source: str
    at: datetime
    # Fixed when the event happens, so every copy of it carries the same CloudEvent id.
    id: uuid.UUID = field(default_factory=uuid.uuid4, kw_only=True)


@dataclass(frozen=True, slots=True)
class TaskCreated(Event):
    """A task was created (by a user or as the next instance of a series)."""

    kind: ClassVar[str] = "created"


@dataclass(frozen=True, slots=True)
class TaskUpdated(Event):
    """Fields of a task changed; `changes` maps each (a Task attribute) to (before, after)."""

    kind: ClassVar[str] = "updated"
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskCompleted(Event):
    """An open task was completed."""

    kind: ClassVar[str] = "completed"


@dataclass(frozen=True, slots=True)
class TaskReopened(Event):
    """A done task was opened again."""

    kind: ClassVar[str] = "reopened"


@dataclass(frozen=True, slots=True)
class TaskDeleted(Event):
    """A task was deleted; `task` is its last state."""

    kind: ClassVar[str] = "deleted"
