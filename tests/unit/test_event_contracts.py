"""The event models: every type round-trips, today's events decode byte for byte, poison is named.

`data/recorded_events_v1.jsonl` holds events written by the code before the models existed
(one or more of every type: a task's whole life with reminders and a recurrence, tag, account,
webhook, reminder and delivery events, and a shared project's life from creation to deletion,
recorded when those types were added), as `Message.encode` puts them on the wire.
"""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cli.main import EVENT_SCHEMAS, build_parser
from contracts import event_schemas
from contracts.events import (
    REGISTRY,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskEvent,
    TaskUpdated,
    decode_among,
    decode_any,
)
from gateway_core.domain import events as domain_events
from gateway_core.domain.model import (
    Channel,
    Place,
    Priority,
    RecurrenceRequest,
    ReminderSpec,
    Task,
    TaskChange,
)
from gateway_core.live import LiveHub, live_subscriptions
from gateway_core.wire import task_envelope
from taskstream.errors import InvalidInput
from taskstream.messaging.bus import (
    DEAD_LETTER_GROUP,
    DEAD_LETTER_REASON,
    DeadLetter,
    Message,
    Outcome,
)
from taskstream.messaging.cloudevents import CloudEvent, encode
from taskstream.messaging.consumer import Consumer, processed_events_table
from taskstream.messaging.memory import MemoryTransport
from taskstream.recurrence import RepeatFrom
from workers.notifications.schedule import touches_reminders

jsonschema: Any = importlib.import_module("jsonschema")
referencing: Any = importlib.import_module("referencing")

RECORDED = Path(__file__).parent / "data" / "recorded_events_v1.jsonl"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def recorded() -> list[str]:
    """The recorded events, one JSON text each, as they were on the wire."""
    return RECORDED.read_text().splitlines()


def wire_text(body: dict[str, Any]) -> str:
    """An event's bytes on the wire (what Message.encode writes), as text."""
    return Message("t", "k", body).encode().decode()


def reencoded(line: str) -> str:
    """A recorded event decoded into its model and encoded again."""
    body = json.loads(line)
    event = decode_any(body, topic=REGISTRY[body["type"]].TOPIC)
    again = encode(event.data, source=event.source, time=event.time, event_id=uuid.UUID(event.id))
    assert again.topic == event.data.TOPIC and again.partition_key == body["partitionkey"]
    return wire_text(again.body)


def test_the_recording_covers_every_registered_type() -> None:
    assert {json.loads(line)["type"] for line in recorded()} == set(REGISTRY)
    assert len(REGISTRY) == 28


@pytest.mark.parametrize("line", recorded(), ids=lambda line: json.loads(line)["type"])
def test_an_event_of_todays_format_decodes_and_encodes_byte_for_byte(line: str) -> None:
    assert reencoded(line) == line


def life_of_a_task() -> list[domain_events.Event]:
    """A recurring task with reminders through every change the domain knows."""
    due = NOW + timedelta(days=1)
    task = Task.create(
        user_id=uuid.uuid4(),
        title="Plan",
        tags=["a", "B"],
        due_at=due,
        recurrence=RecurrenceRequest("FREQ=WEEKLY", RepeatFrom.DUE_DATE, "Europe/Paris"),
        reminders=[ReminderSpec(None, 15, (Channel.EMAIL,))],
        now=NOW,
    )
    task.update(TaskChange(title="Plan more", priority=Priority.URGENT, tags=["c"]), now=NOW)
    task.skip_occurrence(now=NOW)
    task.snooze_reminder(task.reminders[0].id, minutes=5, now=NOW)
    task.record_reminder_outcome(task.reminders[0].id, sent=True, at=NOW, source="notifications")
    task.complete(now=NOW)
    task.reopen(now=NOW)
    task.update(TaskChange(clear_recurrence=True, clear_due_at=True, reminders=[]), now=NOW)
    task.delete(now=NOW)
    deleted = task.events[-1]
    assert isinstance(deleted, domain_events.TaskDeleted)
    task.restore(
        place=Place(task.user_id, None, None, None, task.position),
        revive=frozenset(deleted.cancelled_reminders),
        keep_assignee=True,
        now=NOW,
    )
    return list(task.events)


def test_every_event_of_a_tasks_life_round_trips_through_its_model() -> None:
    produced = life_of_a_task()
    assert {type(e) for e in produced} == {
        domain_events.TaskCreated,
        domain_events.TaskUpdated,
        domain_events.TaskCompleted,
        domain_events.TaskReopened,
        domain_events.TaskDeleted,
        domain_events.TaskRestored,
    }
    for event in produced:
        line = wire_text(task_envelope(event).body)
        assert reencoded(line) == line


def test_an_update_carries_only_what_changed_in_the_wire_spelling() -> None:
    updates = [e for e in life_of_a_task() if isinstance(e, domain_events.TaskUpdated)]
    first = task_envelope(updates[0]).body["data"]
    assert list(first["changes"]) == ["title", "priority", "tags"]
    assert first["changes"]["priority"] == {"before": "NONE", "after": "URGENT"}
    skipped = task_envelope(updates[1]).body["data"]["changes"]
    assert list(skipped) == ["dueAt", "recurrence", "reminders"]
    # Instants are UTC on the wire whatever the series' zone.
    assert skipped["recurrence"]["after"]["dtstart"].endswith("+00:00")
    cleared = task_envelope(updates[-1]).body["data"]["changes"]
    # A field that became null says so (it is not dropped with the unchanged ones).
    assert cleared["dueAt"]["after"] is None and cleared["recurrence"]["after"] is None


def test_each_model_knows_its_type_topic_subject_and_key() -> None:
    [created] = [e for e in life_of_a_task() if isinstance(e, domain_events.TaskCreated)]
    built = task_envelope(created)
    assert built.type == TaskCreated.TYPE == "taskstream.task.created.v1"
    assert built.topic == "task-events"
    assert built.body["subject"] == str(created.task.id)
    assert built.partition_key == built.body["partitionkey"] == str(created.task.user_id)
    assert built.body["id"] == str(created.id)


def test_the_typed_event_reads_as_the_consumers_need() -> None:
    line = next(
        line
        for line in recorded()
        if '"type":"taskstream.task.updated.v1"' in line and '"reminders":{' in line
    )
    event = decode_any(json.loads(line), topic="task-events")
    assert isinstance(event.data, TaskUpdated)
    assert event.data.changes.reminders is not None
    assert event.data.task.due_at is not None and event.data.task.due_at.tzinfo is not None
    assert touches_reminders(event.data)


def test_unknown_types_are_none_of_the_consumers_business() -> None:
    body = json.loads(recorded()[0])
    body["type"] = "taskstream.board.created.v1"
    assert decode_among(body, topic="task-events", models=(TaskCompleted,)) is None
    with pytest.raises(InvalidInput, match="unknown event type"):
        decode_any(body, topic="task-events")


def test_an_unknown_version_of_a_known_type_is_named_as_such() -> None:
    body = json.loads(recorded()[0])
    body["type"] = "taskstream.task.created.v2"
    with pytest.raises(InvalidInput, match=r"unknown version taskstream\.task\.created\.v2"):
        decode_among(body, topic="task-events", models=(TaskCreated, TaskDeleted))


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda d: d.pop("taskId"), "taskId: Field required"),
        (lambda d: d["task"].update(status="SNOOZED"), "task.status"),
        (lambda d: d["task"].update(dueAt="tomorrow"), "task.dueAt"),
        (lambda d: d["task"].update(dueAt="2030-01-01T09:00:00"), "task.dueAt"),
        (lambda d: d.update(version=0), "version"),
        (lambda d: d["task"]["reminders"].append({"id": "x"}), "task.reminders.2"),
    ],
)
def test_a_malformed_event_is_refused_naming_the_field(damage: Any, named: str) -> None:
    body = json.loads(recorded()[0])
    damage(body["data"])
    with pytest.raises(InvalidInput) as raised:
        decode_any(body, topic="task-events")
    assert raised.value.field == "cloudevent.data"
    assert named in raised.value.message


def test_a_consumer_reads_fields_it_does_not_know_as_nothing() -> None:
    body = json.loads(recorded()[0])
    body["data"]["addedLater"] = 1
    body["data"]["task"]["alsoLater"] = {"x": 1}
    event = decode_any(body, topic="task-events")
    assert isinstance(event.data, TaskEvent) and "addedLater" not in event.data.wire()


def test_adding_a_type_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="already defined"):

        class Again(TaskEvent):
            TYPE = "taskstream.task.created.v1"

    assert REGISTRY["taskstream.task.created.v1"] is TaskCreated


def validator(event_type: str) -> Any:
    """A validator of one type over the generated schemas (not the files: those are checked
    against the generator below)."""
    documents = {name: json.loads(text) for name, text in event_schemas.generated().items()}
    registry = referencing.Registry().with_resources(
        (doc["$id"], referencing.Resource.from_contents(doc)) for doc in documents.values()
    )
    schema = documents[f"{event_type}.schema.json"]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_the_generated_schemas_accept_todays_events_and_refuse_undocumented_fields() -> None:
    for line in recorded():
        body = json.loads(line)
        check = validator(body["type"])
        assert not list(check.iter_errors(body)), body["type"]
        body["data"]["undocumented"] = True
        assert list(check.iter_errors(body)), body["type"]


def test_the_schema_files_are_what_the_models_generate() -> None:
    assert event_schemas.stale(EVENT_SCHEMAS) == []


def test_the_check_mode_fails_on_a_stale_or_missing_file(tmp_path: Path) -> None:
    event_schemas.write(tmp_path)
    assert event_schemas.stale(tmp_path) == []
    (tmp_path / "taskstream.task.created.v1.schema.json").write_text("{}\n")
    (tmp_path / "envelope.schema.json").unlink()
    (tmp_path / "taskstream.task.gone.v1.schema.json").write_text("{}\n")
    assert event_schemas.stale(tmp_path) == [
        "envelope.schema.json",
        "taskstream.task.created.v1.schema.json",
        "taskstream.task.gone.v1.schema.json",
    ]
    event_schemas.write(tmp_path)
    assert event_schemas.stale(tmp_path) == []
    args = build_parser().parse_args(["events-schema", "--check"])
    assert args.handler(args) == 0


async def test_a_consumer_dead_letters_poison_with_the_reason_and_ignores_the_rest() -> None:
    handled: list[str] = []

    async def on_completed(event: CloudEvent[TaskCompleted], _: AsyncConnection) -> Outcome:
        handled.append(event.id)
        return Outcome.SUCCESS

    # Poison is judged before any transaction: no database is needed to see it refused.
    consumer = Consumer(
        name="unit", engine=cast(AsyncEngine, None), processed=processed_events_table(MetaData())
    )
    consumer.on(TaskCompleted, on_completed)
    transport = MemoryTransport()
    await transport.subscribe(consumer.subscriptions())
    completed = next(json.loads(line) for line in recorded() if ".task.completed." in line)
    next_version = {**completed, "id": str(uuid.uuid4()), "type": "taskstream.task.completed.v2"}
    malformed = {**completed, "id": str(uuid.uuid4()), "data": {**completed["data"], "task": {}}}
    not_a_cloudevent = {"id": str(uuid.uuid4()), "type": TaskCompleted.TYPE}
    unrelated = {**completed, "id": str(uuid.uuid4()), "type": "taskstream.task.reopened.v1"}
    await transport.publish(
        [
            Message("task-events", "k", body)
            for body in (next_version, malformed, not_a_cloudevent, unrelated)
        ]
    )
    assert handled == []
    reasons = {m.body["id"]: m.body[DEAD_LETTER_REASON] for m in transport.dead_letters}
    assert [m.topic for m in transport.dead_letters] == ["task-events.dlq"] * 3
    assert reasons[next_version["id"]] == (
        "cloudevent.type: unknown version taskstream.task.completed.v2: unit knows "
        "taskstream.task.completed v1"
    )
    assert reasons[malformed["id"]].startswith("cloudevent.data: task.id: Field required")
    assert "missing attributes" in reasons[not_a_cloudevent["id"]]
    assert {m.body[DEAD_LETTER_GROUP] for m in transport.dead_letters} == {"unit"}
    # Dead-lettered as it came, plus the reason: nothing of the event is lost.
    dead_malformed = next(m.body for m in transport.dead_letters if m.body["id"] == malformed["id"])
    assert {k: v for k, v in dead_malformed.items() if not k.startswith("deadletter")} == malformed


class RecordingHub:
    """Records what the live consumer publishes."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, user_id: str, payload: dict[str, Any]) -> None:
        """Record."""
        self.published.append((user_id, payload))


async def test_the_live_path_forwards_task_events_and_refuses_poison_with_the_reason() -> None:
    hub = RecordingHub()
    forward = live_subscriptions(cast(LiveHub, hub))[0].handler
    completed = next(json.loads(line) for line in recorded() if ".task.completed." in line)
    assert await forward(Message("task-events", "k", completed)) is Outcome.SUCCESS
    [(user_id, payload)] = hub.published
    assert user_id == completed["data"]["userId"]
    assert payload["event"] == "COMPLETED" and payload["task"] == completed["data"]["task"]
    assert payload["version"] == completed["data"]["version"]

    verdict = await forward(
        Message("task-events", "k", {**completed, "type": "taskstream.task.completed.v9"})
    )
    assert isinstance(verdict, DeadLetter) and "unknown version" in verdict.reason
    broken = {**completed, "data": {**completed["data"], "taskId": "not-a-uuid"}}
    verdict = await forward(Message("task-events", "k", broken))
    assert isinstance(verdict, DeadLetter) and verdict.reason.startswith("cloudevent.data: taskId")
    other = {**completed, "type": "taskstream.tag.renamed.v1"}
    assert await forward(Message("task-events", "k", other)) is Outcome.SUCCESS
    assert len(hub.published) == 1


async def test_the_live_path_pushes_in_app_notifications_with_or_without_a_reminder() -> None:
    hub = RecordingHub()
    forward = live_subscriptions(cast(LiveHub, hub))[1].handler
    lines = [json.loads(line) for line in recorded() if ".notification." in line]
    for body in lines:
        assert await forward(Message("notifications", "k", body)) is Outcome.SUCCESS
    in_app = [
        b
        for b in lines
        if b["type"] == "taskstream.notification.created.v1"
        or (b["type"] == "taskstream.notification.sent.v1" and b["data"]["channel"] == "IN_APP")
    ]
    # The reminder's IN_APP delivery and both notices no reminder announces; nothing else.
    assert len(in_app) == 3
    assert hub.published == [
        (
            b["data"]["userId"],
            {
                "kind": "notification",
                "notification": {
                    key: b["data"][key]
                    for key in ("notificationId", "taskId", "title", "body", "createdAt")
                },
                # The event's time: push latency is measured from it.
                "at": b["time"],
            },
        )
        for b in in_app
    ]
