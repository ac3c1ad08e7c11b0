"""`stack up --tracing`: one change is one trace in Jaeger, across processes, Dapr and Kafka,
from the request to the workers and to the push on a subscriber's socket."""

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
from tests.e2e.test_live_updates import (
    TASK_EVENTS,
    probes_through,
    subscribe,
    task_event,
    until_live,
)
from tests.e2e.test_stack_up import StackProcess

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

CREATED = "taskstream.task.created.v1"
PUBLISH = "publish task-events"
PUSH = "push taskEvents"
# The spans of Dapr's sidecars: the publishing app's (its HTTP publish call) and each
# subscribing app's (its delivery from Kafka).
SIDECAR_PUBLISH = "/v1.0/publish/pubsub/task-events"
SIDECAR_RECEIVE = "pubsub/task-events"
GATEWAYS = ("taskstream-gateway-1", "taskstream-gateway-2")


@pytest.fixture(scope="module")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """A stack with Jaeger."""
    running = StackProcess(tmp_path_factory.mktemp("traced") / "data", "--tracing")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


def operations(trace: dict[str, Any]) -> set[tuple[str, str]]:
    """(service, operation) of every span in the trace."""
    return {
        (trace["processes"][s["processID"]]["serviceName"], s["operationName"])
        for s in trace["spans"]
    }


def missing_parents(trace: dict[str, Any]) -> list[str]:
    """The operations of spans whose parent is not (yet) in the trace."""
    ids = {s["spanID"] for s in trace["spans"]}
    return [
        s["operationName"]
        for s in trace["spans"]
        if {r["spanID"] for r in s["references"] if r["refType"] == "CHILD_OF"} - ids
    ]


def complete(trace: dict[str, Any]) -> bool:
    """Every worker handled the event, the push reached the socket, and no parent is missing."""
    names = operations(trace)
    handled = {service for service, op in names if op == f"handle {CREATED}"}
    return (
        {"taskstream-notifications", "taskstream-audit"} <= handled
        and any(op == PUSH for _, op in names)
        and not missing_parents(trace)
    )


async def trace_of(jaeger: str, task_id: str) -> dict[str, Any] | None:
    """The trace holding the publish of this task's created event (the last read, whole or not)."""
    tags = json.dumps({"cloudevents.event_subject": task_id})
    latest: dict[str, Any] | None = None
    async with httpx.AsyncClient(base_url=jaeger, timeout=10) as http:
        for service in ("taskstream-gateway-1", "taskstream-gateway-2"):
            found = await http.get(
                "/api/traces", params={"service": service, "tags": tags, "limit": 5}
            )
            found.raise_for_status()
            for trace in found.json()["data"] or []:
                if complete(trace):
                    return dict(trace)
                latest = dict(trace)
    return latest


def chain(trace: dict[str, Any], span_id: str) -> list[tuple[str, str, str]]:
    """(service, operation, kind) from the span up its CHILD_OF parents to the root."""
    spans = {s["spanID"]: s for s in trace["spans"]}
    found: list[tuple[str, str, str]] = []
    current: str | None = span_id
    while current is not None and current in spans and len(found) <= len(spans):
        span = spans[current]
        kind = next((t["value"] for t in span["tags"] if t["key"] == "span.kind"), "")
        service = trace["processes"][span["processID"]]["serviceName"]
        found.append((service, span["operationName"], kind))
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        current = parents[0] if parents else None
    return found


def is_daprd(service: str) -> bool:
    """Dapr's sidecars report under the app id (`gateway`, `audit`), the apps as taskstream-*."""
    return not service.startswith("taskstream-")


async def test_create_task_is_one_trace_from_request_through_kafka_and_workers_to_the_push(
    traced_stack: StackProcess,
) -> None:
    jaeger = traced_stack.description()["jaeger"]
    assert f"Traces at {jaeger} (Jaeger)" in traced_stack.text()
    base = traced_stack.url.removeprefix("http://")
    async with httpx.AsyncClient(base_url=traced_stack.url, timeout=30) as http:
        client = GraphQLClient(http)
        await client.sign_up()
        assert client.token is not None
        # A subscriber on a socket: the change is pushed to it, and the push is in the trace.
        socket = await subscribe(base, client.token, TASK_EVENTS)
        try:
            probes = await until_live(probes_through(client), [socket])
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
            async with asyncio.timeout(60):
                while (pushed := await task_event(socket))["taskId"] in probes:
                    pass
            assert (pushed["kind"], pushed["taskId"]) == ("CREATED", task_id)
        finally:
            await socket.close()
    # Every process exports its spans in batches of its own (daprd's a few seconds apart): the
    # trace is read again until it is whole, or the time is up.
    trace: dict[str, Any] | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(90):
            while trace is None or not complete(trace):
                trace = await trace_of(jaeger, task_id)
                await asyncio.sleep(0.5)
    assert trace is not None, "no trace of the createTask reached Jaeger"
    names = operations(trace)
    assert complete(trace), f"an incomplete trace: {sorted(names)}, {missing_parents(trace)}"

    # One trace id: Jaeger groups by it, and each span says it too.
    assert {s["traceID"] for s in trace["spans"]} == {trace["traceID"]}
    roots = [s["operationName"] for s in trace["spans"] if not s["references"]]
    assert roots == ["POST /graphql"]
    # Gateway, relay, the sidecars (Dapr's own spans) and every worker that acted.
    assert {"gateway", "notifications", "audit"} <= {service for service, _ in names}
    for worker in ("taskstream-notifications", "taskstream-audit"):
        assert (worker, f"handle {CREATED}") in names

    # Parent links intact across Kafka: from each worker's handling and from the push on the
    # subscriber's socket, up through the publishing sidecar and the relay's publish to the
    # request.
    ends = [
        s
        for s in trace["spans"]
        if s["operationName"] in (PUSH, f"handle {CREATED}")
        and trace["processes"][s["processID"]]["serviceName"]
        in ("taskstream-notifications", "taskstream-audit", *GATEWAYS)
    ]
    for end in ends:
        path = chain(trace, end["spanID"])
        described = " <- ".join(f"{service}:{op}" for service, op, _ in path)
        assert path[-1][:2] in {(g, "POST /graphql") for g in GATEWAYS}, described
        publish = [i for i, (s, op, _) in enumerate(path) if s in GATEWAYS and op == PUBLISH]
        assert len(publish) == 1, described
        assert path[publish[0]][2] == "producer", described
        assert ("gateway", SIDECAR_PUBLISH, "client") in path[: publish[0]], described
    (push,) = [s for s in ends if s["operationName"] == PUSH]
    path = chain(trace, push["spanID"])
    assert path[0][0] in GATEWAYS and path[0][2] == "producer"
    # The push's parent is the live consumer's handling of the event, in a gateway replica
    # (not necessarily the one holding the socket), whose parent is the publishing sidecar.
    assert path[1][0] in GATEWAYS and path[1][1:] == (f"handle {CREATED}", "consumer")
    assert path[2] == ("gateway", SIDECAR_PUBLISH, "client")

    # The hop through Kafka as Dapr sees it: each subscribing app's sidecar received the message
    # (its span a child of the publishing sidecar's), the live gateway's as well as the workers'.
    receivers = {
        trace["processes"][s["processID"]]["serviceName"]
        for s in trace["spans"]
        if s["operationName"] == SIDECAR_RECEIVE
        and chain(trace, s["spanID"])[1] == ("gateway", SIDECAR_PUBLISH, "client")
    }
    assert {"gateway", "notifications", "audit"} <= receivers, sorted(receivers)
