"""The chart against what the code and Dapr do with it: what a first real install would hit.

Each check reads the rendered manifests and asks the question the running system would: does the
sidecar start without an API token, does the service find its secrets, do live updates reach
every gateway replica, does Dapr's access control let each service make the calls it makes (with
a port of Dapr's own operation matcher), what the ingress publishes, where pods may connect, and
whether the Resiliency is the one `stack up` and the fault tests run.
"""

from __future__ import annotations

import ast
import os
import re
import socket
import string
from dataclasses import dataclass, field
from typing import Any

import pytest

from devstack.dapr_resources import DAPR_DIR, PubsubRetries
from taskstream.secrets import SECRET_KEYS, load_secrets, reads_secret_store
from taskstream.settings import Settings
from tests.deploy.conftest import (
    APP_IDS,
    CHART,
    NAMESPACE,
    REPO,
    Manifest,
    Tools,
    helm_template,
    named,
    of_kind,
    pod_labels,
    pod_spec,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]


def app_deployments(docs: list[Manifest]) -> list[Manifest]:
    """The Deployments of the four services (not the tracing collector's or Jaeger's)."""
    found = [
        d
        for d in of_kind(docs, "Deployment")
        if pod_labels(d).get("app.kubernetes.io/component") in ("gateway", "worker")
    ]
    assert {pod_labels(d)["app.kubernetes.io/name"] for d in found} == APP_IDS
    return found


def container_env(deployment: Manifest) -> dict[str, Manifest]:
    """The app container's env entries by name."""
    (container,) = pod_spec(deployment)["containers"]
    return {e["name"]: e for e in container["env"]}


# -- Secrets: the sidecar has no API token, the services take the injected env.


def test_sidecars_start_without_a_kubernetes_api_token(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """daprd's built-in kubernetes secret store (and a secretstores.kubernetes component) need
    the pod's API token; the pods mount none, so both are off and the operator resolves the
    components' secretKeyRefs from the namespace's Secrets."""
    docs = rendered[environment]
    for deployment in app_deployments(docs):
        spec = pod_spec(deployment)
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        assert spec["automountServiceAccountToken"] is False
        assert notes["dapr.io/disable-builtin-k8s-secret-store"] == "true"
    components = of_kind(docs, "Component")
    assert components
    for component in components:
        assert not component["spec"]["type"].startswith("secretstores."), component["metadata"]
        assert "auth" not in component  # no secretStore: the operator resolves the refs
    refs = [
        item["secretKeyRef"]["name"]
        for component in components
        for item in component["spec"]["metadata"]
        if "secretKeyRef" in item
    ]
    # The app Secret, Strimzi's cluster CA (reflected) and the KafkaUsers' Secrets.
    kafka_users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    assert refs and set(refs) <= {"taskstream-secrets", "taskstream-cluster-ca-cert"} | kafka_users
    for config in of_kind(docs, "Configuration"):
        for scope in config["spec"]["secrets"]["scopes"]:
            assert scope["defaultAccess"] == "deny" and not scope.get("allowedSecrets")


def test_the_injected_sidecar_keeps_its_own_user_and_time_to_start(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """Two things a real install showed: a pod-wide runAsUser also binds the injected daprd,
    which exits unless it runs as 65532 (so each app container names its own uid and the pod
    none), and daprd's default 3 s liveness delay kills it before sentry has signed its
    identity (so the chart gives it time)."""
    for deployment in app_deployments(rendered[environment]):
        spec = pod_spec(deployment)
        pod_security = spec.get("securityContext", {})
        assert "runAsUser" not in pod_security and "runAsGroup" not in pod_security
        assert pod_security.get("runAsNonRoot") is True
        for container in spec["containers"]:
            assert container["securityContext"]["runAsUser"] == 10001, container["name"]
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(notes["dapr.io/sidecar-liveness-probe-delay-seconds"]) >= 30


def settings_of(
    docs: list[Manifest], deployment: Manifest, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The Settings a service builds in its pod: the ConfigMap, its env, Secrets filled in."""
    secret_values = {
        "database-url": "postgresql://taskstream:pw@db.internal:5432/taskstream?sslmode=require",
        "jwt-secret": "k" * 48,
        "token": "t" * 32,
    }
    config = named(docs, "ConfigMap", "taskstream-config")["data"]
    (container,) = pod_spec(deployment)["containers"]
    assert [e["configMapRef"]["name"] for e in container["envFrom"]] == ["taskstream-config"]
    for key in list(os.environ):
        if key.startswith(("TASKSTREAM_", "DAPR_")) or key in ("DATABASE_URL", "APP_API_TOKEN"):
            monkeypatch.delenv(key)
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    for entry in container["env"]:
        if "value" in entry:
            monkeypatch.setenv(entry["name"], entry["value"])
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref and ref["key"] in secret_values:
            monkeypatch.setenv(entry["name"], secret_values[ref["key"]])
        elif ref:
            assert ref.get("optional") is True, entry  # a Secret key the guides do not create
    return Settings()


def closed_port() -> int:
    """A loopback port nothing listens on (so a request to a 'sidecar' there fails at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_services_take_their_secrets_from_the_env_the_chart_injects(
    rendered: dict[str, list[Manifest]], environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What taskstream/secrets.py does in each pod: with the chart's settings it asks no secret
    store (whose keys, on Kubernetes, would be Secret names the Configuration denies) and keeps
    the values injected by secretKeyRef. Without TASKSTREAM_SECRET_STORE="" it would ask the
    sidecar for `jwt-signing-key` and `database-url` and the service would exit."""
    docs = rendered[environment]
    for deployment in app_deployments(docs):
        settings = settings_of(docs, deployment, monkeypatch)
        assert settings.bus_url.startswith("dapr://")
        assert not reads_secret_store(settings)
        # No sidecar listens: a request to the store would fail (SecretsUnavailable).
        monkeypatch.setenv("DAPR_HTTP_PORT", str(closed_port()))
        loaded = load_secrets(Settings(), wait_seconds=0)
        assert loaded.database_url == settings.database_url
        assert loaded.jwt_secret is not None and loaded.jwt_secret.get_secret_value() == "k" * 48
        assert loaded.dapr_api_token is not None and loaded.app_api_token is not None
        env = container_env(deployment)
        keys = {
            name: env[name]["valueFrom"]["secretKeyRef"]["key"]
            for name in ("DATABASE_URL", "TASKSTREAM_JWT_SECRET", "TASKSTREAM_AUDIT_KEY")
        }
        assert keys == {
            "DATABASE_URL": "database-url",
            "TASKSTREAM_JWT_SECRET": "jwt-secret",
            "TASKSTREAM_AUDIT_KEY": "audit-signing-key",
        }
    # The keys of `stack up`'s local-file store are another matter (its own secrets file).
    assert set(SECRET_KEYS.values()) == {"jwt-signing-key", "database-url"}


def test_live_updates_reach_every_gateway_replica(
    rendered: dict[str, list[Manifest]], environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several gateway replicas (the cloud HPA starts at 3) share live updates through
    PostgreSQL LISTEN/NOTIFY; memory:// would keep each replica's to itself."""
    docs = rendered[environment]
    gateway = named(docs, "Deployment", "taskstream-gateway")
    settings = settings_of(docs, gateway, monkeypatch)
    assert settings.broadcast_url == "database"
    assert settings.database_url is not None
    assert settings.live_broadcast_url == "postgresql://" + settings.database_url.split("://")[1]


# -- Service invocation: a port of Dapr's access-control matcher (pkg/config trie and
# pkg/acl isOperationAllowedByAccessControlPolicy, Dapr 1.16).


@dataclass
class Node:
    """A node of Dapr's operation trie: one path segment ("/name", "/*", "/**")."""

    char: str
    data: dict[str, str] | None = None
    subs: list[Node] = field(default_factory=list)


def glob_match(target: str, pattern: str) -> bool:
    """Dapr's isMatch: `*` matches any run of characters, nothing else is special."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), target) is not None


def find_with_wildcard(char: str, nodes: list[Node], is_end: bool) -> Node | None:
    """Dapr's findNodeWithWildcard."""
    for node in nodes:
        if node.char == char:
            return node
        if node.char == "/*":
            if is_end:
                return node
            continue
        if node.char == "/**":
            return node
        if glob_match(char, node.char):
            return node
    return None


def trie_put(root: Node, operation: str, data: dict[str, str]) -> None:
    """Dapr's PutOperationAction."""
    node = root
    parts = operation.split("/")
    for index, part in enumerate(parts):
        if index == 0:
            continue
        char = "/" + part
        sub = next((n for n in node.subs if n.char == char), None)
        if sub is None:
            new = Node(char, data if index == len(parts) - 1 else None)
            node.subs.append(new)
            node = new
        elif index == len(parts) - 1:
            if sub.data is None:
                sub.data = data
        else:
            node = sub


def trie_search(root: Node, operation: str) -> dict[str, str] | None:
    """Dapr's Trie.Search."""
    node: Node | None = root
    parts = operation.split("/")
    for index, part in enumerate(parts):
        if index == 0:
            continue
        assert node is not None
        is_end = index == len(parts) - 1
        node = find_with_wildcard("/" + part, node.subs, is_end)
        if node is None:
            return None
        if node.data is not None:
            if not is_end and node.char.endswith("/*") and not node.char.endswith("/**"):
                continue
            return node.data
        if is_end:
            end = find_with_wildcard("/*", node.subs, is_end)
            if end is not None and end.data is not None:
                return end.data
    return None


def invocation_allowed(config: Manifest, caller: str, verb: str, path: str) -> bool:
    """Whether the callee's Configuration lets `caller` (same namespace) call `verb path`."""
    acl: dict[str, Any] = config["spec"]["accessControl"]
    action: str = acl["defaultAction"]
    policies = [
        p
        for p in acl.get("policies", [])
        if p["appId"] == caller and p.get("namespace") == NAMESPACE
    ]
    assert len(policies) <= 1, f"Dapr keeps one policy per app id and namespace: {policies}"
    if not policies or policies[0].get("trustDomain", "public") != "public":
        return action == "allow"
    policy = policies[0]
    action = policy.get("defaultAction") or action
    root = Node("/")
    for operation in policy.get("operations", []):
        name = operation["name"] if operation["name"].startswith("/") else "/" + operation["name"]
        verbs = {v: operation.get("action", "allow") for v in operation.get("httpVerb", [])}
        trie_put(root, name.lower(), verbs)
    found = trie_search(root, path.lower())
    if found is not None:
        action = found.get(verb, found.get("*", action))
    return action.lower() == "allow"


ID = "0b9f3c1e-4d7a-4a55-9a61-8f1c2b3d4e5f"
# Every call a service makes to another (the callers' invoker.call sites), with a real path.
CALLS = [
    ("recurrence", "gateway", "POST", f"/internal/tasks/{ID}/next-instance"),
    ("notifications", "gateway", "GET", f"/internal/users/{ID}"),
    ("notifications", "gateway", "POST", f"/internal/reminders/{ID}/outcome"),
    ("notifications", "gateway", "GET", f"/internal/invitations/{ID}"),
    ("audit", "gateway", "GET", "/internal/users"),
    ("gateway", "audit", "GET", f"/internal/audit/{ID}/entries"),
    ("gateway", "audit", "GET", f"/internal/audit/{ID}/verification"),
    ("gateway", "audit", "GET", f"/internal/audit/projects/{ID}/entries"),
    ("gateway", "audit", "GET", f"/internal/audit/projects/{ID}/verification"),
    ("gateway", "notifications", "GET", "/internal/notifications"),
    ("gateway", "notifications", "POST", f"/internal/notifications/{ID}/read"),
    ("gateway", "notifications", "GET", "/internal/webhooks"),
    ("gateway", "notifications", "POST", "/internal/webhooks"),
    ("gateway", "notifications", "DELETE", f"/internal/webhooks/{ID}"),
]
# Calls nobody makes, which access control must refuse.
REFUSED = [
    ("recurrence", "audit", "GET", f"/internal/audit/{ID}/entries"),
    ("audit", "notifications", "GET", "/internal/webhooks"),
    ("recurrence", "gateway", "GET", "/internal/users"),
    ("audit", "gateway", "GET", f"/internal/invitations/{ID}"),
    ("notifications", "gateway", "POST", f"/internal/tasks/{ID}/next-instance"),
    ("audit", "gateway", "POST", f"/internal/reminders/{ID}/outcome"),
    ("gateway", "recurrence", "GET", "/internal/anything"),
    ("gateway", "notifications", "DELETE", "/internal/notifications"),
    ("gateway", "gateway", "GET", "/internal/users"),
]


def test_invocation_access_lets_each_service_make_exactly_its_calls(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """The gateway reads audit trails, notifications and webhooks; the workers reach the
    gateway's internal API. Everything else is denied, by Dapr's own matching rules."""
    docs = rendered[environment]
    configs = {
        c["metadata"]["name"].removeprefix("taskstream-"): c for c in of_kind(docs, "Configuration")
    }
    assert set(configs) == APP_IDS
    for caller, callee, verb, path in CALLS:
        assert invocation_allowed(configs[callee], caller, verb, path), (caller, verb, path)
    for caller, callee, verb, path in REFUSED:
        assert not invocation_allowed(configs[callee], caller, verb, path), (caller, verb, path)


def test_the_matcher_port_follows_dapr() -> None:
    """The port on the cases the chart relies on, as Dapr's trie.go decides them."""
    root = Node("/")
    trie_put(root, "/a/**", {"GET": "allow"})
    trie_put(root, "/b/*", {"GET": "allow"})
    trie_put(root, "/c/*/d", {"GET": "allow"})
    assert trie_search(root, "/a") is not None
    assert trie_search(root, "/a/x/y") is not None
    assert trie_search(root, "/b/x") is not None
    assert trie_search(root, "/b/x/y") is None
    assert trie_search(root, "/c/x/d") is None  # a `*` mid-path matches nothing in Dapr 1.16
    assert trie_search(root, "/e") is None


# -- What leaves the cluster and what the ingress publishes.


def ingress_matches(paths: list[Manifest], request_path: str) -> bool:
    """Whether an Ingress path (Kubernetes Exact/Prefix semantics) routes `request_path`."""
    for entry in paths:
        path, kind = entry["path"], entry["pathType"]
        if kind == "Exact" and request_path == path:
            return True
        if kind == "Prefix":
            prefix = path.rstrip("/").split("/")
            if request_path.split("/")[: len(prefix)] == prefix:
                return True
    return False


def test_ingress_publishes_the_app_and_nothing_internal(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    ingress = named(rendered[environment], "Ingress", "taskstream-gateway")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    for public in ("/", "/graphql", "/assets/index-3f2a.js", "/assets/index-9c1b.css"):
        assert ingress_matches(paths, public), public
    for private in (
        "/metrics",
        "/internal/users",
        f"/internal/tasks/{ID}/next-instance",
        "/dapr/subscribe",
        "/dapr/events/task-events",
        "/dapr/bulk/task-events",
        "/healthz",
        "/readyz",
    ):
        assert not ingress_matches(paths, private), private


def test_values_schema_refuses_a_catch_all_ingress(tools: Tools) -> None:
    done = tools.run(
        "helm",
        "template",
        "taskstream",
        str(CHART),
        "--set",
        "ingress.paths[0].path=/",
        "--set",
        "ingress.paths[0].pathType=Prefix",
    )
    assert done.returncode != 0 and "paths" in done.stderr


def egress_peers(docs: list[Manifest]) -> list[tuple[str, Manifest, list[int]]]:
    """Every (policy name, ipBlock peer, ports) an egress rule of the chart allows."""
    return [
        (policy["metadata"]["name"], peer["ipBlock"], [p["port"] for p in rule.get("ports", [])])
        for policy in of_kind(docs, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]


def test_only_notifications_leaves_the_cluster_and_only_for_smtp_and_webhooks(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """No app pod may reach any host on 443 (the Kubernetes API rule is gone with the secret
    store); the notifications senders reach public addresses on the SMTP and webhook ports."""
    docs = rendered[environment]
    database = "10.110.0.0/20" if environment == "cloud" else None
    for name, block, ports in egress_peers(docs):
        if name == "taskstream-database-egress":
            assert block["cidr"] == database and ports == [25060]
            continue
        assert name == "taskstream-notifications-internet-egress", (name, block, ports)
        assert block["cidr"] == "0.0.0.0/0"
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
            block["except"]
        )
        assert set(ports) <= {80, 443, 465, 587}
    policy = named(docs, "NetworkPolicy", "taskstream-notifications-internet-egress")
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "notifications"


def test_smtp_egress_narrows_to_a_relay(tools: Tools) -> None:
    """An operator with a fixed relay gives its address; webhooks keep theirs."""
    docs = tools.yaml_docs(
        text=helm_template(
            tools,
            "cloud",
            "--set-json",
            'networkPolicy.notificationsEgress.smtp={"cidrs":["203.0.113.7/32"],"ports":[587]}',
        )
    )
    rules = named(docs, "NetworkPolicy", "taskstream-notifications-internet-egress")["spec"]
    by_port = {
        tuple(p["port"] for p in rule["ports"]): [peer["ipBlock"]["cidr"] for peer in rule["to"]]
        for rule in rules["egress"]
    }
    assert by_port == {(587,): ["203.0.113.7/32"], (80, 443): ["0.0.0.0/0"]}


# -- Dapr resources: the Resiliency of `stack up`, fields Dapr 1.16 knows, no declarative
# subscriptions.

RETRY_FIELDS = {"policy", "duration", "maxInterval", "maxRetries", "matching"}
BREAKER_FIELDS = {"maxRequests", "interval", "timeout", "trip"}


def infra_dapr_resiliency_text() -> str:
    """infra/dapr/resiliency.yaml as `stack up` renders it (its default retry settings)."""
    retries = PubsubRetries()
    return string.Template((DAPR_DIR / "resiliency.yaml").read_text()).substitute(
        PUBSUB_MAX_RETRIES=str(retries.max_retries),
        PUBSUB_RETRY_MAX_INTERVAL=retries.max_interval,
        PUBSUB_RETRY_INTERVAL=retries.initial_interval,
    )


def infra_dapr_resiliency(tools: Tools) -> Manifest:
    """infra/dapr/resiliency.yaml as `stack up` renders it, parsed."""
    (doc,) = tools.yaml_docs(text=infra_dapr_resiliency_text())
    return doc


def test_resiliency_uses_only_fields_dapr_reads(
    tools: Tools, rendered: dict[str, list[Manifest]]
) -> None:
    """Dapr decodes retries and breakers leniently: a field it does not know (initialInterval)
    is ignored without a word, so the schema check cannot catch it; this does."""
    docs = [infra_dapr_resiliency(tools)] + [
        r for env in rendered.values() for r in of_kind(env, "Resiliency")
    ]
    for doc in docs:
        policies = doc["spec"]["policies"]
        for name, retry in policies["retries"].items():
            assert set(retry) <= RETRY_FIELDS, (name, set(retry) - RETRY_FIELDS)
            assert retry["policy"] in ("constant", "exponential")
        for name, breaker in policies["circuitBreakers"].items():
            assert set(breaker) <= BREAKER_FIELDS, (name, set(breaker) - BREAKER_FIELDS)


def test_chart_resiliency_is_the_one_stack_up_runs(
    tools: Tools, rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """The retry budget docs/reliability.md gives (and the fault tests measure) holds on
    Kubernetes: same policies, same targets."""
    (chart,) = of_kind(rendered[environment], "Resiliency")
    stack = infra_dapr_resiliency(tools)["spec"]
    # `stack up` has one pub/sub component; with Kafka auth on, each app id has its own, and
    # each gets the one's policies.
    pubsubs = [
        c["metadata"]["name"]
        for c in of_kind(rendered[environment], "Component")
        if c["spec"]["type"] == "pubsub.kafka"
    ]
    components = dict(chart["spec"]["targets"]["components"])
    for name in pubsubs:
        assert components.pop(name) == stack["targets"]["components"]["pubsub"], name
    components["pubsub"] = stack["targets"]["components"]["pubsub"]
    spec = {**chart["spec"], "targets": {**chart["spec"]["targets"], "components": components}}
    assert spec == stack
    assert set(chart["scopes"]) == APP_IDS


def test_infra_dapr_resources_are_valid_dapr_kinds(tools: Tools) -> None:
    """The self-hosted resources against the Dapr CRDs, strict."""
    done = tools.kubeconform("-", stdin=infra_dapr_resiliency_text())
    assert done.returncode == 0, done.stdout + done.stderr


def test_subscriptions_are_declared_by_the_apps_only(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """The apps declare their subscriptions (routes, bulk, dead-letter topics) at
    GET /dapr/subscribe; a declarative Subscription would override that for its topic."""
    assert not of_kind(rendered[environment], "Subscription")


def test_a_digest_pins_the_image_a_service_runs(tools: Tools) -> None:
    digest = "sha256:" + "ab" * 32
    docs = tools.yaml_docs(
        text=helm_template(
            tools, "cloud", "--set", "image.tag=1.2.3", "--set", f"image.digests.gateway={digest}"
        )
    )
    images = {
        d["metadata"]["name"]: pod_spec(d)["containers"][0]["image"]
        for d in of_kind(docs, "Deployment")
    }
    assert images["taskstream-gateway"] == f"ghcr.io/taskstream/taskstream-gateway@{digest}"
    assert images["taskstream-audit"] == "ghcr.io/taskstream/taskstream-audit:1.2.3"
    refused = tools.run(
        "helm", "template", "t", str(CHART), "--set", "image.digests.gateway=latest"
    )
    assert refused.returncode != 0 and "digests" in refused.stderr


def client_methods() -> dict[str, tuple[str, str, str]]:
    """Client method name → (callee, verb, path) of each typed client in contracts/.

    A client method calls `self._invoker.invoke(ENDPOINT, …)` with one of its module's
    `Endpoint`s; path fields become an id.
    """
    import importlib

    from taskstream.invocation import Endpoint

    methods: dict[str, tuple[str, str, str]] = {}
    for path in sorted((REPO / "contracts").glob("*.py")):
        module = importlib.import_module(f"contracts.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ClassDef) and node.name.endswith("Client")):
                continue
            for method in node.body:
                if not isinstance(method, ast.AsyncFunctionDef):
                    continue
                for call in ast.walk(method):
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "invoke"
                        and call.args
                        and isinstance(call.args[0], ast.Name)
                    ):
                        endpoint = getattr(module, call.args[0].id)
                        assert isinstance(endpoint, Endpoint)
                        target = re.sub(r"\{[^}]+\}", ID, endpoint.path)
                        methods[method.name] = (endpoint.service, endpoint.method, target)
    return methods


def invoker_calls() -> list[tuple[str, str, str, str]]:
    """(caller, callee, verb, path) of every internal API method a service's code calls.

    Each service's API is declared once, as `Endpoint`s behind a typed client in contracts/; a
    service calls an endpoint when its code calls the client method that invokes it.
    """
    roots = {"graphql_schema": "gateway", "gateway": "gateway", "gateway_core": "gateway"}
    roots |= {f"workers/{name}": name for name in APP_IDS - {"gateway"}}
    found: set[tuple[str, str, str, str]] = set()
    methods = client_methods()
    for root, caller in roots.items():
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in methods
                ):
                    callee, verb, target = methods[node.func.attr]
                    if callee != caller:
                        found.add((caller, callee, verb, target))
    return sorted(found)


def test_every_call_in_the_code_is_allowed(rendered: dict[str, list[Manifest]]) -> None:
    """A new service call must be allowed by the chart, or it would fail on Kubernetes only."""
    configs = {
        c["metadata"]["name"].removeprefix("taskstream-"): c
        for c in of_kind(rendered["cloud"], "Configuration")
    }
    calls = invoker_calls()
    assert len(calls) >= 10  # the scan sees the services' calls (11 today)
    for caller, callee, verb, path in calls:
        assert invocation_allowed(configs[callee], caller, verb, path), (caller, callee, verb, path)
