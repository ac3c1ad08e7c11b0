"""`stack up --tracing`: one change is one trace in Jaeger, across processes, Dapr and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import GraphQLClient
from tests.e2e.test_stack_up import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

CREATED = "taskstream.task.created.v1"


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """A stack with Jaeger."""
    running = StackProcess(tmp_path_factory.mktemp("traced") / "data", "--tracing")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


async def trace_of(jaeger: str, task_id: str) -> dict[str, Any] | None:
    """The trace holding the publish of this task's created event, once the workers handled it."""
    tags = json.dumps({"cloudevents.event_subject": task_id})
    async with httpx.AsyncClient(base_url=jaeger, timeout=10) as http:
        for service in ("taskstream-gateway-1", "taskstream-gateway-2"):
            found = await http.get(
                "/api/traces", params={"service": service, "tags": tags, "limit": 5}
            )
            found.raise_for_status()
            for trace in found.json()["data"] or []:
                handled = {
                    trace["processes"][s["processID"]]["serviceName"]
                    for s in trace["spans"]
                    if s["operationName"] == f"handle {CREATED}"
                }
                if {"taskstream-notifications", "taskstream-audit"} <= handled:
                    return dict(trace)
    return None


def missing_parents(trace: dict[str, Any]) -> list[str]:
    """The operations of spans whose parent is not (yet) in the trace."""
    ids = {s["spanID"] for s in trace["spans"]}
    return [
        s["operationName"]
        for s in trace["spans"]
        if {r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"} - ids
    ]


async def test_create_task_is_one_trace_across_gateways_dapr_kafka_and_workers(
    traced_stack: StackProcess,
) -> None:
    jaeger = traced_stack.description()["jaeger"]
    assert f"Traces at {jaeger} (Jaeger)" in traced_stack.text()
    async with httpx.AsyncClient(base_url=traced_stack.url, timeout=30) as http:
        client = GraphQLClient(http)
        await client.sign_up()
        created = await client.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            {
                "i": {
                    "title": "traced through the stack",
                    "dueAt": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
                    "recurrence": {"rule": "FREQ=DAILY"},
                    "reminders": [{"beforeDue": 30}],
                }
            },
        )
    task_id = created["createTask"]["id"]
    # Every process exports its spans in batches of its own (daprd's a few seconds apart): the
    # trace is read again until no span's parent is missing, or the time is up.
    trace: dict[str, Any] | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(90):
            while trace is None or missing_parents(trace):
                trace = await trace_of(jaeger, task_id)
                await asyncio.sleep(0.5)
    assert trace is not None, "no trace of the createTask reached Jaeger"

    spans = {s["spanID"]: s for s in trace["spans"]}
    service = {
        s["spanID"]: trace["processes"][s["processID"]]["serviceName"] for s in spans.values()
    }
    parent = {
        s["spanID"]: [r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"]
        for s in spans.values()
    }
    roots = [spans[i]["operationName"] for i, refs in parent.items() if not refs]
    assert roots == ["POST /graphql"]
    assert missing_parents(trace) == []
    # Gateway, relay, the sidecars (Dapr's own spans) and every worker that acted.
    names = {(service[i], spans[i]["operationName"]) for i in spans}
    assert any(op == "publish task-events" for _, op in names)
    assert {"gateway", "notifications", "audit"} <= set(service.values())
    for worker in ("taskstream-notifications", "taskstream-audit"):
        assert (worker, f"handle {CREATED}") in names
