"""Decoding cost of a task event: the dict path consumers had vs the typed model they use now.

Run: ``.venv/bin/python -m bench.event_decode [--events N]``. Each way decodes the same
`taskstream.task.updated.v1` event N times from its JSON bytes (as a transport receives it),
best of 5 runs, for a plain task (a title change) and a heavy one (two reminders and a
recurrence, before and after, in `changes`):

 - ``dict``: json.loads, then the envelope checks and the time parse the consumer did before
   the models (`validate`, `event_time`); handlers then read the dict by key;
 - ``model``: json.loads, then `decode` into `contracts.events.TaskUpdated` (what the consumer
   and the live path do now);
 - ``model_json``: `TaskUpdated.model_validate_json` straight from the `data` bytes (what
   decoding could cost if transports handed over bytes instead of parsed JSON).

Prints microseconds per event and the model/dict ratio; the machine is shared, so compare
ratios rather than absolute figures.
"""

from __future__ import annotations

import argparse
import json
import timeit
import uuid
from datetime import UTC, datetime, timedelta

from contracts.events import TaskUpdated
from gateway_core.domain.model import (
    Channel,
    RecurrenceRequest,
    ReminderSpec,
    Task,
    TaskChange,
)
from gateway_core.wire import task_envelope
from taskstream.messaging.bus import Message
from taskstream.messaging.cloudevents import decode, event_time, validate
from taskstream.recurrence import RepeatFrom

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def plain_update() -> bytes:
    """A task.updated of a task without reminders: its title changed."""
    task = Task.create(user_id=uuid.uuid4(), title="Plan", now=NOW)
    task.update(TaskChange(title="Plan more"), now=NOW)
    return Message("t", "k", task_envelope(task.events[-1]).body).encode()


def heavy_update() -> bytes:
    """A task.updated of a recurring task with two reminders whose due date moved."""
    due = NOW + timedelta(days=1)
    task = Task.create(
        user_id=uuid.uuid4(),
        title="Plan",
        tags=["a", "b", "c"],
        due_at=due,
        recurrence=RecurrenceRequest("FREQ=WEEKLY", RepeatFrom.DUE_DATE, "Europe/Paris"),
        reminders=[
            ReminderSpec(None, 15, (Channel.EMAIL, Channel.IN_APP)),
            ReminderSpec(due - timedelta(hours=2), None, (Channel.WEBHOOK,)),
        ],
        now=NOW,
    )
    task.skip_occurrence(now=NOW)
    return Message("t", "k", task_envelope(task.events[-1]).body).encode()


def measure(raw: bytes, events: int) -> dict[str, float]:
    """Microseconds per event of each way."""
    data = json.dumps(json.loads(raw)["data"]).encode()

    def as_dict() -> object:
        body = json.loads(raw)
        validate(body)
        event_time(body)
        return body["data"]

    def as_model() -> object:
        return decode(json.loads(raw), TaskUpdated, topic="task-events")

    def as_model_json() -> object:
        return TaskUpdated.model_validate_json(data)

    ways = {"dict": as_dict, "model": as_model, "model_json": as_model_json}
    return {
        name: min(timeit.repeat(way, number=events, repeat=5)) / events * 1e6
        for name, way in ways.items()
    }


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    for name, raw in (("plain", plain_update()), ("heavy", heavy_update())):
        figures = measure(raw, args.events)
        print(
            f"{name} ({len(raw)} bytes), {args.events} events: "
            + ", ".join(f"{way} {us:.1f} us" for way, us in figures.items())
            + f"; model/dict {figures['model'] / figures['dict']:.2f}x"
        )


if __name__ == "__main__":
    main()
