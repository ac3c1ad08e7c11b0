"""Decoding cost of a task event: the dict path consumers had vs the typed model they use now.

Run: ``.venv/bin/python -m bench.event_decode [--events N]``. Each way decodes the same
`taskstream.task.updated.v1` event N times from its JSON bytes (as a transport receives it),
best of 7 interleaved rounds in CPU time, for a plain task (a title change) and a heavy one
(two reminders and a recurrence, before and after, in `changes`):

 - ``dict``: json.loads, then the envelope checks and the time parse the consumer did before
   the models (`validate`, `event_time`); handlers then read the dict by key;
 - ``model``: json.loads, then `decode` into `contracts.events.TaskUpdated` (what the consumer
   and the live path do now);
 - ``model_json``: `TaskUpdated.model_validate_json` straight from the `data` bytes (what
   decoding could cost if transports handed over bytes instead of parsed JSON).

Then the live path (what the gateway's live consumer does per task event before the hub's
broadcast, which is not included): ``live_dict`` is its former dict-reading body, ``live_model``
the current `live_subscriptions` handler (decode into the model, then the same forwarding), both
from a parsed message to a hub whose publish does nothing.

Prints microseconds per event and the model/dict ratios; the machine is shared, so compare
ratios rather than absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import timeit
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from contracts.events import TaskUpdated
from gateway_core.domain.model import (
    Channel,
    RecurrenceRequest,
    ReminderSpec,
    Task,
    TaskChange,
)
from gateway_core.live import INLINE_LIMIT, LiveHub, live_subscriptions
from gateway_core.wire import task_envelope
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import decode, event_time, validate
from taskstream.recurrence import RepeatFrom

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ROUNDS = 7


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
    best = dict.fromkeys(ways, float("inf"))
    # Interleaved rounds and CPU time: a machine shared with other work slows every way alike.
    for _ in range(ROUNDS):
        for name, way in ways.items():
            best[name] = min(best[name], timeit.timeit(way, number=events, timer=time.process_time))
    return {name: seconds / events * 1e6 for name, seconds in best.items()}


class _QuietHub:
    """A hub whose publish does nothing: only the consumer's own work is measured."""

    async def publish(self, user_id: str, payload: dict[str, Any]) -> None:
        """Nothing."""


async def _forward_dict(hub: _QuietHub, message: Message) -> Outcome:
    """The live consumer's task handler as it was before the models (reads the dict by key)."""
    event = message.body
    data = event.get("data", {})
    kind = str(event.get("type", "")).removeprefix("taskstream.task.").removesuffix(".v1")
    if not str(event.get("type", "")).startswith("taskstream.task.") or "userId" not in data:
        return Outcome.SUCCESS
    payload: dict[str, Any] = {
        "kind": "task",
        "event": kind.upper(),
        "taskId": data["taskId"],
        "version": data.get("version"),
        "at": event.get("time"),
        "source": event.get("source"),
    }
    snapshot = data.get("task")
    if snapshot is not None and len(json.dumps(snapshot)) <= INLINE_LIMIT:
        payload["task"] = snapshot
    await hub.publish(data["userId"], payload)
    return Outcome.SUCCESS


def measure_live(raw: bytes, events: int) -> dict[str, float]:
    """Microseconds per event of the live consumer's task handler, before and now."""
    hub = _QuietHub()
    message = Message("task-events", "k", json.loads(raw))
    forward = live_subscriptions(cast(LiveHub, hub))[0].handler

    async def run(handle: Any) -> float:
        started = time.process_time()
        for _ in range(events):
            await handle(message)
        return time.process_time() - started

    async def both() -> dict[str, float]:
        ways = {"live_dict": lambda m: _forward_dict(hub, m), "live_model": forward}
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(ROUNDS):
            for name, way in ways.items():
                best[name] = min(best[name], await run(way))
        return {name: seconds / events * 1e6 for name, seconds in best.items()}

    return asyncio.run(both())


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
        live = measure_live(raw, args.events)
        print(
            f"  live path: dict {live['live_dict']:.1f} us, model {live['live_model']:.1f} us; "
            f"model/dict {live['live_model'] / live['live_dict']:.2f}x"
        )


if __name__ == "__main__":
    main()
