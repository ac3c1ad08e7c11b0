"""`taskstream stack up` end to end: real processes, real daprd sidecars, real Kafka.

The stack runs as a child process exactly as a user starts it; the tests talk to it over HTTP
and read its Kafka topics with a raw aiokafka client.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cli.composition import WORKERS
from tests.conftest import GraphQLClient, taskstream_cli
from tests.e2e.test_live_updates import probes_through, task_event, until_live

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(600)]

UP_LINE = "Taskstream is up at "
STACK_UP = [sys.executable, "-m", "cli.main", "stack", "up"]


class StackProcess:
    """One `taskstream stack up` child process and what its run directory says."""

    def __init__(self, data_dir: Path, *options: str) -> None:
        self.data_dir = data_dir
        self.output = data_dir.parent / f"{data_dir.name}-{uuid.uuid4().hex[:6]}.out"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        with self.output.open("wb") as out:
            self.process = subprocess.Popen(
                [*STACK_UP, "--port", "0", "--data-dir", str(data_dir), *options],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.url = ""

    def text(self) -> str:
        """Everything the stack printed so far."""
        return self.output.read_text(errors="replace")

    def wait_up(self, seconds: float = 180.0) -> str:
        """The announced URL, once the stack is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if line.startswith(UP_LINE):
                    self.url = line.removeprefix(UP_LINE).strip()
                    return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"stack up did not come up:\n{self.text()[-4000:]}")

    def description(self) -> dict[str, Any]:
        """run/stack.json."""
        described: dict[str, Any] = json.loads((self.data_dir / "run" / "stack.json").read_text())
        return described

    def child_pids(self) -> list[int]:
        """Every process the stack recorded in run/pids.json."""
        entries = json.loads((self.data_dir / "run" / "pids.json").read_text())
        return [int(entry["pid"]) for entry in entries]

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 90.0) -> int:
        """Send a signal to the stack process and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=seconds)


def alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack for the module."""
    running = StackProcess(tmp_path_factory.mktemp("stack") / "data")
    try:
        running.wait_up()
        yield running
    finally:
        running.stop()


class UserClient(GraphQLClient):
    """A GraphQL client signed up as a fresh user, who it remembers."""

    user: dict[str, Any]


@pytest.fixture
async def client(stack: StackProcess) -> AsyncIterator[UserClient]:
    """A GraphQL client of a fresh user, through the stack's proxy."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        gql = UserClient(http)
        gql.user = await gql.sign_up()
        yield gql


async def read_topic(
    brokers: str, topic: str, matches: Any, *, count: int = 1, seconds: float = 20.0
) -> list[Any]:
    """Records of the topic (from the start) for which matches(record) holds."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=brokers, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(seconds):
            while len(found) < count:
                batches = await consumer.getmany(timeout_ms=500)
                found.extend(r for rs in batches.values() for r in rs if matches(r))
    finally:
        await consumer.stop()
    return found


async def test_the_web_app_and_health_are_served_through_the_proxy(stack: StackProcess) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        assert (await http.get("/")).status_code == 200
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
    services = stack.description()["services"]
    assert [s["appId"] for s in services.values()].count("gateway") == 2


def test_only_the_workers_sidecars_let_their_kafka_fetches_wait(stack: StackProcess) -> None:
    # The workers take bulks of up to 500 ms; a gateway pushes each event as it comes.
    for name, service in stack.description()["services"].items():
        (resources,) = service["daprResources"]
        component = (Path(resources) / "pubsub.yaml").read_text()
        expected = "1" if service["appId"] == "gateway" else "65536"
        assert f'- name: consumerFetchMin\n      value: "{expected}"\n' in component, name


async def test_only_the_gateways_sidecars_load_the_state_store(stack: StackProcess) -> None:
    # The gateway's replicas share their limits, documents and keys there; no worker uses it.
    token = json.loads((stack.data_dir / "run" / "secrets.json").read_text())["dapr-api-token"]
    async with httpx.AsyncClient(timeout=10, headers={"dapr-api-token": token}) as http:
        for name, service in stack.description()["services"].items():
            metadata = await http.get(f"http://127.0.0.1:{service['daprHttpPort']}/v1.0/metadata")
            loaded = {c["name"] for c in metadata.json()["components"]}
            assert ("statestore" in loaded) == (service["appId"] == "gateway"), (name, loaded)
            assert "pubsub" in loaded, (name, loaded)


async def test_a_mutation_puts_its_cloudevent_on_kafka(
    stack: StackProcess, client: UserClient
) -> None:
    user = client.user
    task = (
        await client.data('mutation { createTask(input: {title: "On the wire"}) { id version } }')
    )["createTask"]
    records = await read_topic(
        stack.description()["kafka"],
        "task-events",
        lambda r: json.loads(r.value).get("subject") == task["id"],
    )
    record = records[0]
    event = json.loads(record.value)
    assert record.key == user["id"].encode()
    assert event["type"] == "taskstream.task.created.v1"
    assert event["specversion"] == "1.0"
    assert event["source"] == "gateway"
    assert uuid.UUID(event["id"])
    assert event["data"]["userId"] == user["id"]
    assert event["data"]["taskId"] == task["id"]
    assert event["data"]["task"]["title"] == "On the wire"
    # Dapr propagates W3C trace context with the event.
    assert event["traceparent"].startswith("00-")


async def test_completing_a_recurring_task_makes_the_next_instance_within_5s(
    client: UserClient,
) -> None:
    first = (
        await client.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id seriesId } }",
            {
                "i": {
                    "title": "Stand-up",
                    "dueAt": "2030-01-07T09:00:00Z",
                    "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC"},
                }
            },
        )
    )["createTask"]
    await client.data(f'mutation {{ completeTask(id: "{first["id"]}") {{ id }} }}')
    series = "query($s: ID!) { tasks(filter: {seriesId: $s}) { edges { node { status dueAt } } } }"
    # Through Dapr pub/sub to recurrence, and Dapr service invocation back to a gateway.
    async with asyncio.timeout(5):
        while True:
            edges = (await client.data(series, {"s": first["seriesId"]}))["tasks"]["edges"]
            if len(edges) == 2:
                break
            await asyncio.sleep(0.1)
    assert sorted(e["node"]["status"] for e in edges) == ["DONE", "OPEN"]
    assert {e["node"]["dueAt"] for e in edges} == {
        "2030-01-07T09:00:00+00:00",
        "2030-01-08T09:00:00+00:00",
    }


async def test_a_poison_message_ends_in_the_dead_letter_topic_through_dapr(
    stack: StackProcess,
) -> None:
    brokers = stack.description()["kafka"]
    poison_id = str(uuid.uuid4())
    # A CloudEvent no consumer can ever handle (no subject, data not an object).
    poison = {
        "specversion": "1.0",
        "id": poison_id,
        "source": "tests",
        "type": "taskstream.task.completed.v1",
        "time": datetime.now(UTC).isoformat(),
        "data": "not an object",
    }
    producer = AIOKafkaProducer(bootstrap_servers=brokers)
    await producer.start()
    try:
        await producer.send_and_wait(
            "task-events", json.dumps(poison).encode(), key=str(uuid.uuid4()).encode()
        )
    finally:
        await producer.stop()
    dead = await read_topic(
        brokers, "task-events.dlq", lambda r: json.loads(r.value).get("id") == poison_id
    )
    assert json.loads(dead[0].value)["data"] == "not an object"
    # `taskstream dlq` reads the stack's dead letters on its broker, each with why and who:
    # every group that consumes the topic gives it up (in its own time).
    groups = sorted(["gateway-live", *WORKERS])
    listed: list[dict[str, Any]] = []
    async with asyncio.timeout(60):
        while sorted(entry["group"] for entry in listed) != groups:
            code, out, err = await taskstream_cli(
                *("dlq", "list", "--bus", f"kafka://{brokers}", "--topic", "task-events", "--json")
            )
            assert code == 0, err
            listed = [e for e in map(json.loads, out.splitlines()) if e["id"] == poison_id]
    assert {(e["topic"], e["reason"]) for e in listed} == {
        ("task-events", "cloudevent: missing attributes: subject")
    }
    code, out, err = await taskstream_cli(
        "dlq", "show", "--bus", f"kafka://{brokers}", "--id", poison_id
    )
    assert code == 0, err
    shown = json.loads(out)
    assert [s["group"] for s in shown] == [e["group"] for e in listed]
    assert all(s["event"]["data"] == "not an object" for s in shown)


def test_a_second_run_cleans_up_after_a_crash_and_sigterm_stops_everything(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    crashed = StackProcess(data)
    crashed.wait_up()
    left = crashed.child_pids()
    assert crashed.stop(signal.SIGKILL) == -signal.SIGKILL
    assert any(alive(pid) for pid in left), "children run in their own sessions"

    second = StackProcess(data)
    try:
        second.wait_up()
        assert "stopped what a previous run left" in second.text()
        assert not [pid for pid in left if alive(pid)]
        children = second.child_pids()
        # PostgreSQL, Kafka, and a daprd beside each of two gateways and every worker.
        assert len(children) == 2 + 2 * (2 + len(WORKERS))
    finally:
        code = second.stop(signal.SIGTERM)
    assert code == 0
    assert "Taskstream stopped" in second.text()
    assert not [pid for pid in children if alive(pid)]
    assert not (data / "run" / "pids.json").exists()


async def test_every_gateway_replica_pushes_every_event_to_its_subscribers(
    stack: StackProcess, client: UserClient
) -> None:
    ws_url = stack.url.replace("http://", "ws://") + "/graphql"
    sockets = []
    # The proxy hands connections to the replicas in turn: four land on both of them.
    for _ in range(4):
        ws = await websockets.connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {client.token}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": "subscription { taskEvents { kind taskId source } }"},
                }
            )
        )
        sockets.append(ws)
    try:
        probes = await until_live(probes_through(client), sockets)
        task = (await client.data('mutation { createTask(input: {title: "fan-out"}) { id } }'))[
            "createTask"
        ]
        for ws in sockets:
            async with asyncio.timeout(5):
                while (pushed := await task_event(ws))["taskId"] in probes:
                    pass
            assert pushed == {"kind": "CREATED", "taskId": task["id"], "source": "gateway"}
    finally:
        for ws in sockets:
            await ws.close()


async def test_audit_trail_and_reminders_work_through_dapr(client: UserClient) -> None:
    remind_at = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    task = (
        await client.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id reminders { id } } }",
            {"i": {"title": "Call the plumber", "reminders": [{"remindAt": remind_at}]}},
        )
    )["createTask"]
    # The audit service records the mutation (Dapr pub/sub), the gateway reads it back from
    # the audit service (Dapr service invocation).
    async with asyncio.timeout(5):
        while True:
            log = (await client.data("{ auditLog { edges { node { action taskId actor } } } }"))[
                "auditLog"
            ]["edges"]
            if log:
                break
            await asyncio.sleep(0.1)
    assert log[0]["node"] == {
        "action": "task.created",
        "taskId": task["id"],
        "actor": client.user["id"],
    }
    assert (await client.data("{ verifyAuditLog { ok } }"))["verifyAuditLog"] == {"ok": True}
    # The notifications service fires the reminder and reports it to the gateway.
    query = f'{{ task(id: "{task["id"]}") {{ reminders {{ state sentAt }} }} }}'
    async with asyncio.timeout(10):
        while True:
            [reminder] = (await client.data(query))["task"]["reminders"]
            if reminder["state"] == "SENT":
                break
            await asyncio.sleep(0.1)
    inbox = (await client.data("{ notifications { edges { node { title channel } } } }"))[
        "notifications"
    ]["edges"]
    assert inbox == [{"node": {"title": "Call the plumber", "channel": "IN_APP"}}]


async def test_a_revocation_on_one_replica_reaches_the_other_and_its_sockets(
    stack: StackProcess, client: UserClient
) -> None:
    services = stack.description()["services"]
    replica = {n: f"http://127.0.0.1:{services[f'gateway-{n}']['appPort']}/graphql" for n in (1, 2)}
    token = client.token
    async with httpx.AsyncClient(timeout=30) as http:

        async def code_on(n: int, bearer: str | None) -> str | None:
            body = (
                await http.post(
                    replica[n],
                    json={"query": "{ me { id } }"},
                    headers={"Authorization": f"Bearer {bearer}"},
                )
            ).json()
            return body["errors"][0]["extensions"]["code"] if body.get("errors") else None

        login = await http.post(
            replica[1],
            json={
                "query": "mutation($e: String!) { logIn(email: $e, "
                'password: "correct horse") { token } }',
                "variables": {"e": client.user["email"]},
            },
        )
        other = login.json()["data"]["logIn"]["token"]
        # Replica 2 has just vouched for the token (its cache would keep doing so for a while)
        # and holds a socket of it.
        assert await code_on(2, token) is None
        ws = await websockets.connect(
            replica[2].replace("http://", "ws://"),
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        )
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        revoked = await http.post(
            replica[1],
            json={"query": "mutation { logOut }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert revoked.json()["data"] == {"logOut": True}

        # The broadcast closes the socket on replica 2; the same message dropped its cache.
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 30)
        assert ws.close_code == 4403
        assert await code_on(2, token) == "UNAUTHENTICATED"
        assert await code_on(1, token) == "UNAUTHENTICATED"
        assert await code_on(2, other) is None


def _pid_of(stack: StackProcess, name: str) -> int:
    """The latest pid run/pids.json records for `name`."""
    entries = json.loads((stack.data_dir / "run" / "pids.json").read_text())
    return int([entry for entry in entries if entry["name"] == name][-1]["pid"])


async def test_a_worker_and_a_sidecar_killed_are_restarted_and_counted(
    stack: StackProcess, client: UserClient
) -> None:
    before = stack.description()["restarts"]
    for name in ("recurrence", "daprd-recurrence"):
        os.killpg(_pid_of(stack, name), signal.SIGKILL)
    lines = [
        f"supervision: recurrence is back and ready (restart {before['recurrence'] + 1})",
        f"supervision: daprd-recurrence is back and ready (restart "
        f"{before['daprd-recurrence'] + 1})",
    ]
    try:
        async with asyncio.timeout(120):
            while not all(line in stack.text() for line in lines):
                await asyncio.sleep(0.2)
    except TimeoutError:
        # What supervision said instead, so that a failure here can be told apart from a slow
        # machine without the stack's output.
        said = [line for line in stack.text().splitlines() if "recurrence" in line]
        log = stack.data_dir / "run" / "logs" / "recurrence.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
        pytest.fail(
            f"not back in 120 s: {lines}; the stack said:\n"
            + "\n".join(said[-40:])
            + f"\nthe end of {log}:\n{tail}"
        )
    assert "supervision: recurrence exited with -9" in stack.text()
    after = stack.description()["restarts"]
    assert after["recurrence"] == before["recurrence"] + 1
    assert after["daprd-recurrence"] == before["daprd-recurrence"] + 1
    # Back in service: a completion gets its next instance through the new worker and sidecar
    # (bounded generously: the new sidecar's consumer may wait out the old one's session).
    first = (
        await client.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id seriesId } }",
            {
                "i": {
                    "title": "After the restart",
                    "dueAt": "2030-01-07T09:00:00Z",
                    "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC"},
                }
            },
        )
    )["createTask"]
    await client.data(f'mutation {{ completeTask(id: "{first["id"]}") {{ id }} }}')
    series = "query($s: ID!) { tasks(filter: {seriesId: $s}) { edges { node { status } } } }"
    async with asyncio.timeout(90):
        while True:
            edges = (await client.data(series, {"s": first["seriesId"]}))["tasks"]["edges"]
            if len(edges) == 2:
                break
            await asyncio.sleep(0.2)
    assert sorted(e["node"]["status"] for e in edges) == ["DONE", "OPEN"]


def _processes_of(data_dir: Path) -> list[int]:
    """Live processes that name `data_dir` in their command line or environment."""
    mark = str(data_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or not alive(int(entry.name)):
            continue
        try:
            named = (
                mark in (entry / "cmdline").read_bytes() or mark in (entry / "environ").read_bytes()
            )
        except OSError:
            continue
        if named:
            found.append(int(entry.name))
    return found


def test_ctrl_c_during_a_restart_stops_everything_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    # SIGINT, what Ctrl-C sends (SIGTERM, the same handler, is the test above's).
    running = StackProcess(tmp_path / "data")
    try:
        running.wait_up()
        assert _processes_of(running.data_dir)
        os.killpg(_pid_of(running, "recurrence"), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "supervision: recurrence exited" not in running.text():
            assert time.monotonic() < deadline, running.text()[-2000:]
            time.sleep(0.1)
        # Now in the backoff or the restart that follows it: the shutdown must win over both.
    finally:
        code = running.stop(signal.SIGINT)
    assert code == 0
    assert "Taskstream stopped" in running.text()
    # Nothing it started is left: not the sidecars, Kafka, PostgreSQL, nor a restarted worker.
    assert _processes_of(running.data_dir) == []
    assert not (running.data_dir / "run" / "pids.json").exists()
