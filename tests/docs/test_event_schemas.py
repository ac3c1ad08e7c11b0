"""Every CloudEvent the system really emits matches its JSON Schema in docs/events/.

Mutations on the whole in-process system (`carol`) produce every task and tag event, a webhook
registration and deletion, and a reminder that fires one second ahead on IN_APP (sent) and
WEBHOOK with no webhook registered (failed); the test then validates each outbox payload
of that user, in the gateway's and in the notifications service's outbox.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables as gateway_tables
from tests.conftest import GraphQLClient
from workers.notifications import tables as notifications_tables

# jsonschema ships no type information: use it as an untyped module.
jsonschema: Any = importlib.import_module("jsonschema")
referencing: Any = importlib.import_module("referencing")

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
EXPECTED_TYPES = frozenset(
    {
        *(f"taskstream.task.{k}.v1" for k in ("created", "updated", "completed", "reopened")),
        "taskstream.task.deleted.v1",
        "taskstream.tag.renamed.v1",
        "taskstream.tag.deleted.v1",
        "taskstream.webhook.registered.v1",
        "taskstream.webhook.deleted.v1",
        "taskstream.reminder.due.v1",
        "taskstream.notification.sent.v1",
        "taskstream.notification.failed.v1",
    }
)

CREATE = (
    "mutation($i: CreateTaskInput!) { createTask(input: $i) "
    "{ id version tags { id name } reminders { id } } }"
)


def validator_for(event_type: str) -> Any:
    """A draft 2020-12 validator of one event type, resolving refs among docs/events/."""
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], referencing.Resource.from_contents(contents)))
    registry = referencing.Registry().with_resources(resources)
    path = SCHEMAS / f"{event_type}.schema.json"
    assert path.exists(), f"{event_type} is emitted but has no schema in docs/events/"
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema,
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


async def payloads(engine: AsyncEngine, outbox: Table, user_id: str) -> list[dict[str, Any]]:
    """The CloudEvents this user's changes put in one outbox, in commit order."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(outbox.c.type, outbox.c.payload)
            .where(outbox.c.partition_key == user_id)
            .order_by(outbox.c.position)
        )
        found = []
        for row in rows:
            assert row.payload["type"] == row.type
            found.append(dict(row.payload))
        return found


def next_instance(event: dict[str, Any]) -> bool:
    """The recurrence service's next instance of a completed task."""
    return bool(event["type"] == "taskstream.task.created.v1" and event["source"] == "recurrence")


async def until_types(
    engine: AsyncEngine,
    user_id: str,
    wanted: set[str],
    *,
    recurred: bool = False,
    seconds: float = 8.0,
) -> list[dict[str, Any]]:
    """Every event of the user once all of `wanted` are among them (or what there is)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        events = await payloads(engine, gateway_tables.outbox, user_id)
        events += await payloads(engine, notifications_tables.outbox, user_id)
        done = wanted <= {e["type"] for e in events}
        if recurred:
            done = done and any(next_instance(e) for e in events)
        if done or asyncio.get_running_loop().time() > deadline:
            return events
        await asyncio.sleep(0.1)


async def test_every_emitted_event_matches_its_schema(
    carol: GraphQLClient, engine: AsyncEngine
) -> None:
    me = (await carol.data("{ me { id } }"))["me"]
    user_id = str(me["id"])
    remind_at = datetime.now(UTC) + timedelta(seconds=1)
    task = (
        await carol.data(
            CREATE,
            {
                "i": {
                    "title": "Write the docs",
                    "tags": ["alpha", "beta"],
                    "dueAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    "recurrence": {"rule": "FREQ=DAILY"},
                    "reminders": [
                        {"remindAt": remind_at.isoformat(), "channels": ["IN_APP", "WEBHOOK"]}
                    ],
                }
            },
        )
    )["createTask"]
    tags = {tag["name"]: tag["id"] for tag in task["tags"]}
    await carol.data(
        "mutation($id: ID!) { updateTask(id: $id, input: {priority: HIGH}) { id } }",
        {"id": task["id"]},
    )
    await carol.data(
        'mutation($id: ID!) { renameTag(id: $id, name: "gamma") { id } }', {"id": tags["alpha"]}
    )
    await carol.data("mutation($id: ID!) { deleteTag(id: $id) }", {"id": tags["beta"]})
    # The reminder fires (IN_APP sent, WEBHOOK failed: none registered) before the webhook exists.
    await until_types(
        engine,
        user_id,
        {"taskstream.notification.sent.v1", "taskstream.notification.failed.v1"},
    )
    hook = (
        await carol.data(
            'mutation { registerWebhook(url: "https://93.184.215.14/h") { webhook { id } } }'
        )
    )["registerWebhook"]["webhook"]
    await carol.data("mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": hook["id"]})
    await carol.data("mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": task["id"]})
    # The next instance first: a completed instance deleted before the recurrence service gets
    # to it has no successor (its handler drops the event), so deleting it at once would race.
    await until_types(engine, user_id, set(), recurred=True)
    await carol.data("mutation($id: ID!) { reopenTask(id: $id) { id } }", {"id": task["id"]})
    await carol.data("mutation($id: ID!) { deleteTask(id: $id) }", {"id": task["id"]})

    events = await until_types(engine, user_id, set(EXPECTED_TYPES), recurred=True)

    seen = {event["type"] for event in events}
    assert seen >= EXPECTED_TYPES, f"never emitted: {sorted(EXPECTED_TYPES - seen)}"
    # The recurrence service's next instance is a real event too.
    assert any(next_instance(e) for e in events)
    validators = {event_type: validator_for(event_type) for event_type in seen}
    for event in events:
        errors = sorted(validators[event["type"]].iter_errors(event), key=str)
        assert not errors, (
            event["type"],
            [f"{list(e.absolute_path)}: {e.message}" for e in errors],
        )


def test_every_schema_file_is_valid_draft_2020_12() -> None:
    names = {path.name for path in SCHEMAS.glob("*.schema.json")}
    assert {f"{t}.schema.json" for t in EXPECTED_TYPES} <= names
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        jsonschema.Draft202012Validator.check_schema(schema)
