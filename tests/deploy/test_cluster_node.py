"""The chart's pods on a real node: a cluster from `make cluster-up` (infra/local/kube.sh).

That cluster takes minutes to make (images, import, install), so these tests do not make one:
they check the cluster named by TASKSTREAM_CLUSTER_DIR and are skipped, naming the command, when
it is unset. `make test-cluster-node` brings the cluster up and runs them: with CoreDNS,
kube-proxy, the Dapr control plane built from the dapr module and Kafka as a StatefulSet
(infra/local/kafka/).
What the cluster lacks here (Strimzi, Dapr's scheduler) is in docs/deploy/minikube.md.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.deploy.conftest import APP_IDS, NAMESPACE, RELEASE

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(600)]

CACHE = Path(os.environ.get("TASKSTREAM_CACHE", Path.home() / ".cache" / "taskstream"))
KUBECTL = CACHE / "kubernetes-1.34.4" / "bin" / "kubectl"  # what infra/local/kube.sh builds
CHART_UID = "10001"  # templates/_helpers.tpl's runAsUser


@pytest.fixture(scope="module")
def kubeconfig() -> Path:
    """The running cluster's kubeconfig."""
    directory = os.environ.get("TASKSTREAM_CLUSTER_DIR")
    if not directory:
        pytest.skip("TASKSTREAM_CLUSTER_DIR is unset: `make test-cluster-node` makes the cluster")
    path = Path(directory) / "kubeconfig"
    assert path.is_file(), f"{path} missing: is the cluster up (make cluster-up)?"
    return path


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """kubectl `args` in the release's namespace."""
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def app_pods(kubeconfig: Path) -> list[dict[str, Any]]:
    """The running pods of the four services."""
    out = kubectl(
        kubeconfig,
        "get",
        "pods",
        "--selector",
        "app.kubernetes.io/component in (gateway,worker)",
        "--field-selector",
        "status.phase=Running",
        "--output",
        "json",
    ).stdout
    pods: list[dict[str, Any]] = json.loads(out)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_the_migration_ran_and_every_service_is_available(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "wait", "--for=condition=complete", "--timeout=300s", "job", "--all")
    for app in sorted(APP_IDS):
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=available",
            "--timeout=300s",
            f"deployment/{RELEASE}-{app}",
        )
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in app_pods(kubeconfig)} == (
        APP_IDS
    )


def test_the_pods_run_as_the_chart_says(kubeconfig: Path) -> None:
    """Non-root uid, read-only root filesystem, a writable /tmp, no capabilities."""
    for pod in app_pods(kubeconfig):
        name = pod["metadata"]["name"]
        assert kubectl(kubeconfig, "exec", name, "--", "id", "-u").stdout.strip() == CHART_UID
        denied = kubectl(kubeconfig, "exec", name, "--", "touch", "/app/probe", check=False)
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr, name
        kubectl(kubeconfig, "exec", name, "--", "touch", "/tmp/probe")
        caps = kubectl(kubeconfig, "exec", name, "--", "grep", "CapEff", "/proc/self/status")
        assert caps.stdout.split()[-1] == "0000000000000000", name


def test_the_gateway_answers_ready_from_its_pod(kubeconfig: Path) -> None:
    (gateway,) = [
        p
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] == "gateway"
    ]
    response = httpx.get(f"http://{gateway['status']['podIP']}:8000/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_a_deleted_pod_is_replaced_and_ready_again(kubeconfig: Path) -> None:
    """The controller manager, the scheduler and the kubelet at work."""
    selector = "app.kubernetes.io/name=recurrence"
    before = {p["metadata"]["name"] for p in app_pods(kubeconfig)}
    kubectl(kubeconfig, "delete", "pod", "--selector", selector, "--wait=true")
    kubectl(kubeconfig, "rollout", "status", f"deployment/{RELEASE}-recurrence", "--timeout=180s")
    after = {p["metadata"]["name"] for p in app_pods(kubeconfig)}
    replaced = after - before
    assert len(replaced) == 1 and all("recurrence" in name for name in replaced)


def gateway_url(kubeconfig: Path) -> str:
    """The gateway pod's address, as the node (and the test) reach it."""
    (gateway,) = [
        p
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] == "gateway"
    ]
    return f"http://{gateway['status']['podIP']}:8000"


def graphql(url: str, query: str, token: str | None = None) -> dict[str, Any]:
    """One GraphQL request to the gateway; the `data`, or a failed assertion naming the errors."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers=headers, timeout=30)
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def test_every_app_pod_runs_an_injected_daprd_sidecar(kubeconfig: Path) -> None:
    """The Dapr injector (a webhook the API server calls) added daprd; both containers ready."""
    for app in sorted(APP_IDS):
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Ready",
            "--timeout=300s",
            "pod",
            "--selector",
            f"app.kubernetes.io/name={app}",
        )
    for pod in app_pods(kubeconfig):
        statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert set(statuses) == {pod["metadata"]["labels"]["app.kubernetes.io/name"], "daprd"}
        assert all(c["ready"] for c in statuses.values()), pod["metadata"]["name"]
        # Killed by its liveness probe before sentry signed its identity, it would restart
        # (dapr.sidecar.livenessProbeDelaySeconds).
        assert statuses["daprd"]["restartCount"] == 0, pod["metadata"]["name"]
        (daprd,) = [c for c in pod["spec"]["containers"] if c["name"] == "daprd"]
        assert daprd["image"].startswith("localhost/dapr/daprd:"), daprd["image"]


def test_the_sidecars_loaded_the_charts_components(kubeconfig: Path) -> None:
    """The operator handed each sidecar its components, secretKeyRefs resolved, mTLS from sentry."""
    for pod in app_pods(kubeconfig):
        name = pod["metadata"]["name"]
        app = pod["metadata"]["labels"]["app.kubernetes.io/name"]
        log = kubectl(kubeconfig, "logs", name, "--container", "daprd").stdout
        # dapr.pubsub.authType scram: each service's own component, with its KafkaUser's password.
        assert f"Component loaded: pubsub-{app} (pubsub.kafka/v1)" in log, name
        # The workload certificate sentry issued (from the pod's service account token).
        assert "Starting workload identity expiry watcher" in log, name
    gateway = next(p for p in app_pods(kubeconfig) if "gateway" in p["metadata"]["name"])
    log = kubectl(kubeconfig, "logs", gateway["metadata"]["name"], "--container", "daprd").stdout
    assert "Component loaded: statestore (state.postgresql/v2)" in log


def test_cluster_dns_and_a_service_ip_reach_the_gateway(kubeconfig: Path) -> None:
    """CoreDNS answers cluster.local names and kube-proxy routes the ClusterIP to the pod."""
    (audit,) = [
        p
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] == "audit"
    ]
    probe = (
        "import socket, urllib.request; "
        f"print(socket.gethostbyname('{RELEASE}-gateway.{NAMESPACE}.svc.cluster.local')); "
        f"print(urllib.request.urlopen('http://{RELEASE}-gateway.{NAMESPACE}.svc:8000/readyz',"
        " timeout=10).status)"
    )
    done = kubectl(kubeconfig, "exec", audit["metadata"]["name"], "--", "python", "-c", probe)
    address, status = done.stdout.split()
    service = kubectl(
        kubeconfig, "get", "service", f"{RELEASE}-gateway", "--output", "jsonpath={.spec.clusterIP}"
    ).stdout
    assert (address, status) == (service, "200")


def test_a_task_made_through_the_gateway_reaches_the_audit_worker_over_kafka(
    kubeconfig: Path,
) -> None:
    """gateway -> outbox -> daprd -> Kafka -> the audit pod's daprd -> audit; read back by the
    gateway through Dapr service invocation (mTLS, the audit Configuration's access control)."""
    url = gateway_url(kubeconfig)
    email = f"cluster-{uuid.uuid4().hex[:12]}@example.com"
    token = graphql(
        url, f'mutation {{ signUp(email: "{email}", password: "cluster-node-check") {{ token }} }}'
    )["signUp"]["token"]
    task = graphql(url, 'mutation { createTask(input: {title: "through Kafka"}) { id } }', token)
    task_id = task["createTask"]["id"]
    deadline = time.monotonic() + 120
    while True:
        log = graphql(url, "{ auditLog { totalCount edges { node { action taskId } } } }", token)[
            "auditLog"
        ]
        if log["totalCount"] >= 1 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [e["node"] for e in log["edges"]] == [{"action": "task.created", "taskId": task_id}]


def test_a_subscription_on_the_gateway_pod_receives_the_event_back_from_kafka(
    kubeconfig: Path,
) -> None:
    """The live push: gateway -> Kafka through daprd -> the gateway's own subscription ->
    LISTEN/NOTIFY (TASKSTREAM_BROADCAST_URL=database) -> the socket."""
    url = gateway_url(kubeconfig)
    email = f"cluster-live-{uuid.uuid4().hex[:12]}@example.com"
    token = graphql(
        url, f'mutation {{ signUp(email: "{email}", password: "cluster-node-check") {{ token }} }}'
    )["signUp"]["token"]
    ws_url = url.replace("http://", "ws://") + "/graphql"
    with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=30) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        ws.send(json.dumps(init))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"
        query = "subscription { taskEvents { kind taskId } }"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        time.sleep(2)  # the subscription registered before the task exists
        made = graphql(url, 'mutation { createTask(input: {title: "live"}) { id } }', token)
        message = json.loads(ws.recv(timeout=120))
    assert message["type"] == "next", message
    assert message["payload"]["data"]["taskEvents"] == {
        "kind": "CREATED",
        "taskId": made["createTask"]["id"],
    }


def sign_up(url: str, prefix: str) -> str:
    """A new user's token, signed up through the gateway at `url`."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"
    query = f'mutation {{ signUp(email: "{email}", password: "cluster-node-check") {{ token }} }}'
    token: str = graphql(url, query)["signUp"]["token"]
    return token


def wait_for(what: str, seconds: float, probe: Any) -> Any:
    """`probe()` once it returns something truthy, polled every second; fails naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(1)


def test_a_recurring_task_fires_its_reminder_and_its_next_occurrence_follows_completion(
    kubeconfig: Path,
) -> None:
    """notifications schedules the reminder from the task event and fires it (in-app, reported
    back to the gateway); completing the task makes recurrence create the next occurrence, its
    reminder shifted with the due date; the user's audit chain then verifies."""
    url = gateway_url(kubeconfig)
    token = sign_up(url, "cluster-recurring")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=75)
    create = (
        "mutation { createTask(input: {"
        f'title: "Cluster stand-up", dueAt: "{due.isoformat()}", '
        'recurrence: {rule: "FREQ=DAILY", timezone: "UTC"}, '
        "reminders: [{beforeDue: 1}]}) { id seriesId } }"
    )
    first = graphql(url, create, token)["createTask"]
    reminders = f'{{ task(id: "{first["id"]}") {{ reminders {{ state sentAt }} }} }}'

    def sent() -> bool:
        [reminder] = graphql(url, reminders, token)["task"]["reminders"]
        return bool(reminder["state"] == "SENT" and reminder["sentAt"])

    wait_for("the reminder 1 min before the due date SENT", 120, sent)
    inbox = graphql(url, "{ notifications { edges { node { title channel } } } }", token)
    assert inbox["notifications"]["edges"] == [
        {"node": {"title": "Cluster stand-up", "channel": "IN_APP"}}
    ]

    graphql(url, f'mutation {{ completeTask(id: "{first["id"]}") {{ id }} }}', token)
    series = (
        f'{{ tasks(filter: {{seriesId: "{first["seriesId"]}"}}) '
        "{ edges { node { id status dueAt reminders { state remindAt } } } } }"
    )

    def both_occurrences() -> list[dict[str, Any]]:
        edges = graphql(url, series, token)["tasks"]["edges"]
        return [e["node"] for e in edges] if len(edges) == 2 else []

    nodes = wait_for("the next occurrence (recurrence worker)", 60, both_occurrences)
    (done,) = [n for n in nodes if n["status"] == "DONE"]
    (following,) = [n for n in nodes if n["status"] == "OPEN"]
    next_due = datetime.fromisoformat(following["dueAt"])
    assert (
        next_due
        == datetime.fromisoformat(done["dueAt"]) + timedelta(days=1)
        == (due + timedelta(days=1))
    )
    [reminder] = following["reminders"]
    assert reminder["state"] == "SCHEDULED"
    assert datetime.fromisoformat(reminder["remindAt"]) == next_due - timedelta(minutes=1)

    def audited() -> dict[str, Any] | None:
        log = graphql(url, "{ auditLog { edges { node { action taskId } } } }", token)
        actions = [(e["node"]["action"], e["node"]["taskId"]) for e in log["auditLog"]["edges"]]
        wanted = {
            ("task.created", first["id"]),
            ("task.completed", first["id"]),
            ("task.created", following["id"]),
        }
        return log if wanted <= set(actions) else None

    wait_for("the audit entries of both occurrences", 60, audited)
    verified = graphql(url, "{ verifyAuditLog { ok checked firstBroken } }", token)
    assert verified["verifyAuditLog"]["ok"] is True, verified
    assert verified["verifyAuditLog"]["checked"] >= 3


def service_url(kubeconfig: Path) -> str:
    """The gateway Service's ClusterIP: kube-proxy routes it to whichever pod is ready."""
    address = kubectl(
        kubeconfig, "get", "service", f"{RELEASE}-gateway", "--output", "jsonpath={.spec.clusterIP}"
    ).stdout
    return f"http://{address}:8000"


def every_page(url: str, token: str, field: str, fields: str) -> list[dict[str, Any]]:
    """All nodes of the connection `field`, 200 a page."""
    nodes: list[dict[str, Any]] = []
    after = "null"
    for _ in range(50):  # at most 10 000 nodes: far more than these tests make
        query = (
            f"{{ {field}(first: 200, after: {after}) "
            f"{{ edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        page = graphql(url, query, token)[field]
        nodes.extend(e["node"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = json.dumps(page["pageInfo"]["endCursor"])
    raise AssertionError(f"{field}: more than 50 pages")


LOAD_BUDGET = 300.0  # seconds the whole load may take
KILL_AFTER = 20  # acknowledged creations before the gateway and audit pods are deleted
AFTER_REPLACEMENT = 20  # acknowledged creations once both replacements are available
MAX_ATTEMPTS = 500  # the loop's bound, whatever happens


class CreateLoop(threading.Thread):
    """createTask through the gateway Service in a loop, one request at a time, until stopped;
    a refused or failed request (no acknowledgement) is noted and the next one tried."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                if self.stopping.is_set():
                    return
                self.create(attempt)
        except BaseException as error:  # handed to the test by wait_acknowledged
            self.failure = error

    def create(self, attempt: int) -> None:
        mutation = f'mutation {{ createTask(input: {{title: "load {attempt}"}}) {{ id }} }}'
        try:
            response = httpx.post(
                f"{self.url}/graphql",
                json={"query": mutation},
                headers={"authorization": f"Bearer {self.token}"},
                timeout=10,
            )
            body = response.json() if response.status_code == 200 else {}
        except (httpx.TransportError, ValueError) as error:
            self.refused.append(f"{attempt}: {type(error).__name__}")
            time.sleep(0.5)
            return
        if not body.get("data") or body.get("errors"):
            self.refused.append(f"{attempt}: HTTP {response.status_code} {body.get('errors')}")
            time.sleep(0.5)
            return
        self.acknowledged.append(body["data"]["createTask"]["id"])

    def wait_acknowledged(self, count: int, deadline: float) -> None:
        """Until `count` creations are acknowledged; fails past `deadline` or if the loop ended."""
        while len(self.acknowledged) < count:
            assert self.failure is None and self.is_alive(), (self.failure, self.refused)
            assert time.monotonic() < deadline, (len(self.acknowledged), self.refused)
            time.sleep(0.2)


def test_pods_killed_mid_load_lose_nothing(kubeconfig: Path) -> None:
    """A loop of createTask through the gateway Service; after 20 acknowledged, the gateway pod
    (its outbox relay) and the audit pod (a Kafka consumer) are deleted at once while the loop
    goes on, until 20 more are acknowledged after both replacements are available. Every
    acknowledged task is then present, every task created audited exactly once, and the chain
    verifies."""
    url = service_url(kubeconfig)
    token = sign_up(url, "cluster-load")
    killed = [
        p["metadata"]["name"]
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] in {"gateway", "audit"}
    ]
    assert len(killed) == 2, killed
    deadline = time.monotonic() + LOAD_BUDGET
    load = CreateLoop(url, token)
    load.start()
    try:
        load.wait_acknowledged(KILL_AFTER, deadline)
        kubectl(kubeconfig, "delete", "pod", *killed, "--wait=true", "--timeout=180s")
        for app in ("gateway", "audit"):
            kubectl(
                kubeconfig, "rollout", "status", f"deployment/{RELEASE}-{app}", "--timeout=180s"
            )
        load.wait_acknowledged(len(load.acknowledged) + AFTER_REPLACEMENT, deadline)
    finally:
        load.stopping.set()
        load.join(timeout=30)
    running = {p["metadata"]["name"] for p in app_pods(kubeconfig)}
    assert not running & set(killed), running

    tasks = {t["id"] for t in every_page(url, token, "tasks", "id")}
    assert set(load.acknowledged) <= tasks, set(load.acknowledged) - tasks

    def audited_once() -> list[str]:
        entries = every_page(url, token, "auditLog", "action taskId")
        created = [e["taskId"] for e in entries if e["action"] == "task.created"]
        return created if set(created) == tasks else []

    created = wait_for("every task's task.created audit entry", 180, audited_once)
    assert len(created) == len(tasks), "a task audited twice"
    verified = graphql(url, "{ verifyAuditLog { ok checked } }", token)["verifyAuditLog"]
    assert verified == {"ok": True, "checked": len(tasks)}, verified


KAFKA_BROKERS = "kafka-0.kafka.kafka.svc.cluster.local:9092"  # infra/local/kube.sh's

# Run by the audit pod's Python (aiokafka is in the image) with the JSON of `cases` on stdin: for
# each case, a client of the broker with those credentials (none: plaintext, no SASL) lists the
# topics and, given a group, joins it to read task-events (committing nothing, so a group it was
# wrongly let into loses no offsets); prints what each case got.
KAFKA_PROBE = """
import asyncio, io, json, logging, sys
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

async def attempt(case):
    # aiokafka reports a refused SASL handshake as "Unable to bootstrap" and logs the reason.
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger("aiokafka").addHandler(handler)
    try:
        return await connect(case) | {"log": log.getvalue()}
    finally:
        logging.getLogger("aiokafka").removeHandler(handler)

async def connect(case):
    auth = {}
    if case["user"]:
        auth = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                    sasl_plain_username=case["user"], sasl_plain_password=case["password"])
    consumer = AIOKafkaConsumer(bootstrap_servers=case["brokers"], group_id=case["group"],
                                enable_auto_commit=False, request_timeout_ms=10000, **auth)
    try:
        await asyncio.wait_for(consumer.start(), 30)
        topics = sorted(await asyncio.wait_for(consumer.topics(), 30))
        if case["group"]:
            consumer.subscribe(["task-events"])
            await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 30)
            await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 30)
        return {"ok": True, "topics": topics}
    except (KafkaError, OSError, asyncio.TimeoutError) as error:
        return {"ok": False, "error": type(error).__name__ + ": " + str(error)}
    finally:
        await consumer.stop()

async def main():
    cases = json.load(sys.stdin)
    print(json.dumps({name: await attempt(case) for name, case in cases.items()}))

asyncio.run(main())
"""


def kafka_password(kubeconfig: Path, user: str) -> str:
    """The password in the Secret of KafkaUser `user` (what its pub/sub component reads)."""
    encoded = kubectl(
        kubeconfig, "get", "secret", user, "--output", "jsonpath={.data.password}"
    ).stdout
    return base64.b64decode(encoded).decode()


def test_kafka_refuses_clients_without_credentials_or_with_another_services(
    kubeconfig: Path,
) -> None:
    """The broker is not open to every pod: from the audit pod (on the network the sidecars use),
    a client without credentials and one with a wrong password are refused; the audit user, with
    the password of its own Secret, lists the topics but cannot join the gateway's consumer group
    (ACLs). (Not its own group: joining would rebalance the running audit worker.)"""
    (audit,) = [
        p
        for p in app_pods(kubeconfig)
        if p["metadata"]["labels"]["app.kubernetes.io/name"] == "audit"
    ]
    audit_user, gateway_user = f"{RELEASE}-kafka-audit", f"{RELEASE}-kafka-gateway"
    password = kafka_password(kubeconfig, audit_user)
    assert password != kafka_password(kubeconfig, gateway_user)

    def case(user: str | None, secret: str, group: str | None) -> dict[str, str | None]:
        return {"brokers": KAFKA_BROKERS, "user": user, "password": secret, "group": group}

    cases = {
        "anonymous": case(None, "", None),
        "gateway user, audit's password": case(gateway_user, password, None),
        "audit in the gateway's group": case(audit_user, password, "gateway"),
        "audit user": case(audit_user, password, None),
    }
    done = subprocess.run(
        [
            *(str(KUBECTL), "--kubeconfig", str(kubeconfig), "--namespace", NAMESPACE, "exec"),
            *("-i", audit["metadata"]["name"], "--container", "audit", "--"),
            *("python", "-c", KAFKA_PROBE),
        ],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["audit user"]["ok"] is True, got
    assert {"task-events", "task-events.dlq"} <= set(got["audit user"]["topics"])
    # The same address answered the audit user: these are refusals, not an unreachable broker.
    assert got["anonymous"]["ok"] is False, got
    wrong_password = got["gateway user, audit's password"]
    assert wrong_password["ok"] is False, got
    assert "SaslAuthenticationFailed" in wrong_password["log"], got
    assert "GroupAuthorizationFailed" in got["audit in the gateway's group"]["error"], got


def test_kafka_is_a_statefulset_in_the_cluster_and_survives_its_pod_being_deleted(
    kubeconfig: Path,
) -> None:
    """The chart's pubsub component names the StatefulSet's broker (infra/local/kafka/); its log
    holds the topics the checks above used; a deleted broker pod comes back on the same volume
    with its topics, and the sidecars reconnect: a task made afterwards is audited."""
    for app in sorted(APP_IDS):
        metadata = json.loads(
            kubectl(
                kubeconfig,
                "get",
                "component",
                f"pubsub-{app}",
                "--output",
                "jsonpath={.spec.metadata}",
            ).stdout
        )
        assert {"name": "brokers", "value": KAFKA_BROKERS} in metadata, metadata

    def in_kafka(*args: str) -> subprocess.CompletedProcess[str]:
        return kubectl(kubeconfig, "--namespace", "kafka", *args)

    def topics() -> set[str]:
        listed = in_kafka("exec", "kafka-0", "--", "ls", "/var/lib/kafka/log").stdout.split()
        return {name.rsplit("-", 1)[0] for name in listed if name[-1].isdigit()}

    in_kafka("rollout", "status", "statefulset/kafka", "--timeout=120s")
    before = topics()
    assert {"task-events", "__consumer_offsets"} <= before, before
    uid = in_kafka("get", "pod", "kafka-0", "--output", "jsonpath={.metadata.uid}").stdout
    in_kafka("delete", "pod", "kafka-0", "--wait=true", "--timeout=120s")
    in_kafka("wait", "--for=condition=Ready", "pod/kafka-0", "--timeout=180s")
    assert in_kafka("get", "pod", "kafka-0", "--output", "jsonpath={.metadata.uid}").stdout != uid
    assert topics() >= before

    url = gateway_url(kubeconfig)
    token = sign_up(url, "cluster-kafka-restart")
    task_id = graphql(url, 'mutation { createTask(input: {title: "after"}) { id } }', token)[
        "createTask"
    ]["id"]

    def audited() -> list[dict[str, Any]]:
        log = graphql(url, "{ auditLog { edges { node { action taskId } } } }", token)
        return [e["node"] for e in log["auditLog"]["edges"]]

    assert wait_for("the task's audit entry after the broker's restart", 180, audited) == [
        {"action": "task.created", "taskId": task_id}
    ]
