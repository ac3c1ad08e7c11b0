"""docs/events/*.schema.json, generated from the event models (`taskstream events-schema`).

One file per registered type (the envelope plus that type's `data`), `envelope.schema.json`
for the attributes every event has, and `common.schema.json` for shared definitions (the wire
shape of a task). tests/docs/test_event_schemas.py fails when the files are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.events import REGISTRY, Event
from contracts.task import Task
from taskstream.messaging.cloudevents import SPEC_VERSION

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://taskstream.invalid/schemas/events/"
UUID = {
    "type": "string",
    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}
TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": (
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?"
        "(Z|[+-][0-9]{2}:[0-9]{2})$"
    ),
}
SOURCES = ["gateway", "recurrence", "notifications"]


def _model_schema(model: type[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A model's schema with its definitions lifted out (refs point at the document's $defs)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    definitions = schema.pop("$defs", {})
    return schema, definitions


def envelope_schema() -> dict[str, Any]:
    """The attributes every Taskstream CloudEvent has."""
    common = "common.schema.json#/$defs/"
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{BASE_ID}envelope.schema.json",
        "title": "Taskstream CloudEvent envelope (CloudEvents 1.0, structured JSON mode)",
        "description": (
            "Built by encode() in taskstream/messaging/cloudevents.py; checked on receipt by "
            "decode(). Extension attributes added in transit (Dapr adds e.g. topic, pubsubname, "
            "traceparent; a dead letter adds deadletterreason and deadlettergroup) are allowed."
        ),
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "partitionkey",
            "data",
        ],
        "properties": {
            "specversion": {"const": SPEC_VERSION},
            "id": {
                "$ref": f"{common}uuid",
                "description": "Unique per event; consumers deduplicate on it (processed_events).",
            },
            "source": {
                "enum": SOURCES,
                "description": "The service on whose behalf the change was made.",
            },
            "type": {"type": "string", "pattern": "^taskstream(\\.[a-z_]+){2,3}\\.v[0-9]+$"},
            "subject": {
                "$ref": f"{common}uuid",
                "description": "The id of the entity the event is about (task, tag or webhook).",
            },
            "time": {"$ref": f"{common}time"},
            "datacontenttype": {"const": "application/json"},
            "partitionkey": {
                "$ref": f"{common}uuid",
                "description": (
                    "The user id; also the Kafka record key, so one user's events stay in order."
                ),
            },
            "data": {"type": "object"},
        },
    }


def common_schema() -> dict[str, Any]:
    """Shared definitions: identifiers, instants, and the wire shape of a task."""
    task, definitions = _model_schema(Task)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{BASE_ID}common.schema.json",
        "title": "Shared definitions of the Taskstream event schemas",
        "$defs": {"uuid": UUID, "time": TIME, "Task": task, **definitions},
    }


def type_schema(model: type[Event]) -> dict[str, Any]:
    """One event type: the envelope, its `type`, and its `data` (closed)."""
    data, definitions = _model_schema(model)
    description = data.pop("description", "")
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{BASE_ID}{model.TYPE}.schema.json",
        "title": model.TYPE,
        "description": f"{description} Topic `{model.TOPIC}`; model `{model.__name__}` in "
        "contracts/events.py.",
        "allOf": [{"$ref": "envelope.schema.json"}],
        "properties": {"type": {"const": model.TYPE}, "data": data},
    }
    if definitions:
        schema["$defs"] = definitions
    return schema


def generated() -> dict[str, str]:
    """File name -> contents of every schema file, as the models say they should be."""
    documents = {
        "envelope.schema.json": envelope_schema(),
        "common.schema.json": common_schema(),
        **{f"{name}.schema.json": type_schema(REGISTRY[name]) for name in sorted(REGISTRY)},
    }
    return {
        name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        for name, doc in documents.items()
    }


def stale(directory: Path) -> list[str]:
    """The schema files in `directory` that differ from the models, are missing or left over."""
    wanted = generated()
    present = {path.name for path in directory.glob("*.schema.json")}
    differing = [
        name
        for name, text in wanted.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    return sorted(set(differing) | (present - set(wanted)))


def write(directory: Path) -> list[Path]:
    """Write every schema file (and remove those of types that no longer exist)."""
    wanted = generated()
    for path in directory.glob("*.schema.json"):
        if path.name not in wanted:
            path.unlink()
    written = []
    for name, text in wanted.items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
