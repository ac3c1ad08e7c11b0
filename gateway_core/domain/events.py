"""Domain events raised by aggregates; each becomes one CloudEvent in the outbox.

They are defined beside the Task that raises them (gateway_core/domain/model.py); the gateway
maps them to the wire models of contracts/ at its edge (gateway_core/wire.py).
"""

from __future__ import annotations

from gateway_core.domain.model import (
    Event,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskReopened,
    TaskRestored,
    TaskUpdated,
)

__all__ = [
    "Event",
    "TaskCompleted",
    "TaskCreated",
    "TaskDeleted",
    "TaskReopened",
    "TaskRestored",
    "TaskUpdated",
]
