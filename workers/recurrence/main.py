"""Assembles the recurrence service."""

from __future__ import annotations

from contracts.events import TaskCompleted
from contracts.gateway_api import GatewayClient
from taskstream.bootstrap import Runtime
from taskstream.messaging.consumer import Consumer
from taskstream.service import ServiceParts
from workers.recurrence.handlers import RecurrenceHandlers
from workers.recurrence.tables import processed_events


def build(runtime: Runtime) -> ServiceParts:
    """The recurrence service's consumer over this runtime."""
    handlers = RecurrenceHandlers(GatewayClient(runtime.invoker))
    consumer = Consumer(name="recurrence", engine=runtime.engine, processed=processed_events)
    consumer.on(TaskCompleted, handlers.create_next_instance, batch=handlers.create_next_instances)
    return ServiceParts(name="recurrence", consumer=consumer)
