"""The Helm chart: lint, render, schema validation, and what the rendered manifests promise."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.conftest import (
    APP_IDS,
    CHART,
    ENVIRONMENTS,
    NAMESPACE,
    REPO,
    SUBSCRIBERS,
    Manifest,
    Tools,
    helm_template,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    selects,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]


def app_deployments(docs: list[Manifest]) -> list[Manifest]:
    """The Deployments of the four services."""
    deployments = of_kind(docs, "Deployment")
    assert {pod_labels(d)["app.kubernetes.io/name"] for d in deployments} == APP_IDS
    return deployments


def workloads(docs: list[Manifest]) -> list[Manifest]:
    """Everything that makes pods."""
    kinds = ("Deployment", "StatefulSet", "Job")
    return [d for d in docs if d.get("kind") in kinds]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_helm_lint_is_clean(tools: Tools, environment: str) -> None:
    out = tools.ok(
        "helm",
        "lint",
        "--strict",
        str(CHART),
        "--kube-version",
        tools.k8s_version,
        "--values",
        str(CHART / f"values-{environment}.yaml"),
    )
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rendered_manifest_is_valid_against_its_schema(
    tools: Tools, rendered_text: dict[str, str], environment: str
) -> None:
    """Kubernetes kinds against the API's schemas, Dapr and Prometheus kinds against their CRDs;
    strict (unknown fields fail), and a kind without a schema is an error, not a skip."""
    done = tools.kubeconform("-output", "json", "-", stdin=rendered_text[environment])
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report["resources"], indent=1)
    summary = report["summary"]
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0
    assert summary["valid"] >= 30


def test_the_validator_rejects_what_a_cluster_would(tools: Tools) -> None:
    """The schemas are not vacuous: a typo, a wrong type and a misspelt CRD field all fail."""
    broken = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicas: "two"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: a, image: b, securityContex: {}}]}
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: {name: x}
spec: {pubsubname: p, topic: t, routes: {default: /x}, deadLetterTopik: t.dlq}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x}
spec: {selector: {}, endpoint: [{port: http}]}
"""
    done = tools.kubeconform("-output", "json", "-", stdin=broken)
    assert done.returncode != 0
    assert json.loads(done.stdout)["summary"]["invalid"] == 3


def test_each_service_is_a_dapr_app_with_tokens_and_its_configuration(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    docs = rendered[environment]
    configurations = {c["metadata"]["name"] for c in of_kind(docs, "Configuration")}
    for deployment in app_deployments(docs):
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        name = pod_labels(deployment)["app.kubernetes.io/name"]
        assert notes["dapr.io/enabled"] == "true"
        assert notes["dapr.io/app-id"] == name
        port = pod_spec(deployment)["containers"][0]["ports"][0]["containerPort"]
        assert notes["dapr.io/app-port"] == str(port)
        assert notes["dapr.io/config"] in configurations
        assert notes["dapr.io/app-token-secret"]
        assert notes["dapr.io/api-token-secret"]
        assert notes["dapr.io/sidecar-seccomp-profile-type"] == "RuntimeDefault"


def test_probes_resources_and_the_command_of_each_service(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    for deployment in app_deployments(rendered[environment]):
        name = pod_labels(deployment)["app.kubernetes.io/name"]
        (container,) = pod_spec(deployment)["containers"]
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        expected = ["gateway"] if name == "gateway" else ["worker", name]
        assert container["command"] == ["taskstream"]
        assert container["args"] == expected
        assert container["image"].endswith(
            f"taskstream-{name}:" + container["image"].split(":")[-1]
        )


def test_every_pod_meets_pod_security_restricted(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    for workload in workloads(rendered[environment]):
        spec = pod_spec(workload)
        where = f"{workload['kind']} {workload['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        assert all("hostPath" not in v for v in spec.get("volumes", [])), where
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert not ctx.get("privileged"), where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, where


def test_dev_mode_keeps_the_code_writable_for_live_update(tools: Tools) -> None:
    """What the Tiltfile deploys: still schema-valid, the code writable, no command override."""
    text = helm_template(tools, "minikube", "--set", "devMode=true")
    assert tools.kubeconform("-", stdin=text).returncode == 0
    docs = tools.yaml_docs(text=text)
    for deployment in app_deployments(docs):
        (container,) = pod_spec(deployment)["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is False
        assert "command" not in container  # Tilt's restart wrapper is the image entrypoint
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_dapr_components_are_scoped_to_app_ids(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    docs = rendered[environment]
    # One shared component (no Kafka auth), or one per app id with its KafkaUser
    # (test_chart_observability.py): every app id in exactly one, nothing else in any.
    pubsubs = [c for c in of_kind(docs, "Component") if c["spec"]["type"] == "pubsub.kafka"]
    scopes = [app for c in pubsubs for app in c["scopes"]]
    assert sorted(scopes) == sorted(APP_IDS)
    for pubsub in pubsubs:
        meta = {m["name"]: m for m in pubsub["spec"]["metadata"]}
        assert meta["consumerGroup"]["value"] == "{appID}"
        assert meta["brokers"]["value"].startswith("taskstream-kafka-bootstrap.kafka.svc:")
    state = named(docs, "Component", "statestore")
    assert state["spec"]["type"] == "state.postgresql"
    # Only the gateway uses it (its replicas' shared limits, documents and keys).
    assert state["scopes"] == ["gateway"]
    assert {m["name"] for m in state["spec"]["metadata"]} >= {"connectionString"}
    assert "secretKeyRef" in state["spec"]["metadata"][0]
    # No secret store component: see test_chart_wiring.py.
    names = {c["metadata"]["name"] for c in of_kind(docs, "Component")}
    assert names == {"statestore"} | {c["metadata"]["name"] for c in pubsubs}


def test_every_subscriber_of_the_contract_may_use_the_pubsub(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """The apps declare their subscriptions themselves (GET /dapr/subscribe, with dead-letter
    topics); the chart's part is the component they need, scoped to them."""
    pubsubs = [
        c
        for c in of_kind(rendered[environment], "Component")
        if c["spec"]["type"] == "pubsub.kafka"
    ]
    scoped = {app for c in pubsubs for app in c["scopes"]}
    assert set().union(*SUBSCRIBERS.values()) <= scoped


def test_resiliency_retries_inbound_events_before_dead_lettering(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    (resiliency,) = of_kind(rendered[environment], "Resiliency")
    assert set(resiliency["scopes"]) == APP_IDS
    spec = resiliency["spec"]
    # Every pub/sub component the apps use (one shared, or one per app id) has the retries.
    pubsubs = [
        c["metadata"]["name"]
        for c in of_kind(rendered[environment], "Component")
        if c["spec"]["type"] == "pubsub.kafka"
    ]
    assert pubsubs
    for name in pubsubs:
        inbound = spec["targets"]["components"][name]["inbound"]["retry"]
        assert spec["policies"]["retries"][inbound]["maxRetries"] > 0
    assert "gateway" in spec["targets"]["apps"]


def test_configurations_scope_secrets_trace_and_guard_invocation(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    configurations = of_kind(rendered[environment], "Configuration")
    assert len(configurations) == len(APP_IDS)
    for config in configurations:
        spec = config["spec"]
        assert float(spec["tracing"]["samplingRate"]) >= 0
        scopes = spec["secrets"]["scopes"]
        assert all(scope["defaultAccess"] == "deny" for scope in scopes)
        assert not any(scope.get("allowedSecrets") for scope in scopes)  # env, not a store
        assert spec["accessControl"]["defaultAction"] == "deny"
    gateway = named(rendered[environment], "Configuration", "taskstream-gateway")
    callers = {p["appId"] for p in gateway["spec"]["accessControl"]["policies"]}
    assert callers == APP_IDS - {"gateway"}
    for callee in ("audit", "notifications"):
        config = named(rendered[environment], "Configuration", f"taskstream-{callee}")
        assert {p["appId"] for p in config["spec"]["accessControl"]["policies"]} == {"gateway"}


def test_tracing_endpoint_is_a_value(tools: Tools, rendered: dict[str, list[Manifest]]) -> None:
    cloud = named(rendered["cloud"], "Configuration", "taskstream-audit")
    assert cloud["spec"]["tracing"]["otel"]["endpointAddress"]
    zipkin = "http://zipkin.observability.svc:9411/api/v2/spans"
    docs = tools.yaml_docs(
        text=helm_template(
            tools, "minikube", "--set", f"dapr.tracing.zipkin.endpointAddress={zipkin}"
        )
    )
    audit = named(docs, "Configuration", "taskstream-audit")
    assert audit["spec"]["tracing"]["zipkin"]["endpointAddress"] == zipkin


def policies_for(docs: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    """The NetworkPolicies that select pods with `labels`."""
    return [p for p in of_kind(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]


def allowed_ports(policies: list[Manifest], direction: str) -> set[int]:
    """Every port some rule of `policies` allows in `direction` (ingress or egress)."""
    return {
        port["port"]
        for policy in policies
        for rule in policy["spec"].get(direction, [])
        for port in rule.get("ports", [])
    }


def test_network_policies_deny_by_default_and_allow_the_needed_flows(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    docs = rendered[environment]
    deny = named(docs, "NetworkPolicy", "taskstream-default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    database_port = 5432 if environment == "minikube" else 25060
    for workload in workloads(docs):
        labels = pod_labels(workload)
        egress = allowed_ports(policies_for(docs, labels), "egress")
        assert 53 in egress, workload["metadata"]["name"]
        if labels["app.kubernetes.io/component"] in ("gateway", "worker", "migration"):
            assert database_port in egress, workload["metadata"]["name"]
        if labels["app.kubernetes.io/component"] in ("gateway", "worker"):
            applied = policies_for(docs, labels)
            assert {50002, 9092, 9093, 50001} <= egress
            assert 50002 in allowed_ports(applied, "ingress")
    gateway = named(docs, "Deployment", "taskstream-gateway")
    ingress_rules = [
        rule
        for policy in policies_for(docs, pod_labels(gateway))
        for rule in policy["spec"].get("ingress", [])
    ]
    from_ingress = [
        rule
        for rule in ingress_rules
        if any(
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "ingress-nginx"
            for peer in rule["from"]
        )
    ]
    assert from_ingress and from_ingress[0]["ports"] == [{"protocol": "TCP", "port": 8000}]
    # Prometheus reaches the metrics ports only, not the app port.
    from_monitoring = named(docs, "NetworkPolicy", "taskstream-metrics-from-monitoring")
    (rule,) = from_monitoring["spec"]["ingress"]
    assert {p["port"] for p in rule["ports"]} == {9464, 9090}
    # Only notifications reaches the internet (SMTP, webhooks), and never private ranges.
    internet = [
        p
        for p in of_kind(docs, "NetworkPolicy")
        for rule in p["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0" and "except" in peer["ipBlock"]
    ]
    assert {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in internet
    } == {"notifications"}


def test_migration_job(rendered: dict[str, list[Manifest]], environment: str) -> None:
    (job,) = of_kind(rendered[environment], "Job")
    (container,) = pod_spec(job)["containers"]
    assert container["command"] == ["taskstream"] and container["args"] == ["migrate"]
    assert job["spec"]["template"]["metadata"]["annotations"]["dapr.io/enabled"] == "false"
    env = {e["name"]: e for e in container["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    notes: dict[str, Any] = job["metadata"].get("annotations") or {}
    if environment == "cloud":
        assert notes["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert "before-hook-creation" in notes["helm.sh/hook-delete-policy"]
        assert "envFrom" not in container  # hooks run before the release's ConfigMap exists
    else:
        assert "helm.sh/hook" not in notes  # the same release installs PostgreSQL


def test_services_ingress_hpa_pdb_and_service_monitors(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["cloud"]
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    pdbs = of_kind(docs, "PodDisruptionBudget")
    monitors = of_kind(docs, "ServiceMonitor")
    for deployment in app_deployments(docs):
        name, labels = deployment["metadata"]["name"], pod_labels(deployment)
        assert selects({"matchLabels": services[name]["spec"]["selector"]}, labels)
        assert hpas[name]["spec"]["minReplicas"] >= 2
        assert [p for p in pdbs if selects(p["spec"]["selector"], labels)], name
        (monitor,) = [
            m
            for m in monitors
            if selects(m["spec"]["selector"], services[name]["metadata"]["labels"])
        ]
        assert {"port": "metrics", "path": "/metrics"}.items() <= monitor["spec"]["endpoints"][
            0
        ].items()
        # /metrics has a port of its own (the app port, behind the ingress, has none).
        ports = {p["name"]: p for p in services[name]["spec"]["ports"]}
        assert ports["metrics"]["port"] != ports["http"]["port"]
        (container,) = [
            c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] != "daprd"
        ]
        assert "metrics" in {p["name"] for p in container["ports"]}
        assert "replicas" not in deployment["spec"]  # the HPA owns it
    ingress = named(docs, "Ingress", "taskstream-gateway")
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    for path in ingress["spec"]["rules"][0]["http"]["paths"]:
        assert path["backend"]["service"] == {
            "name": "taskstream-gateway",
            "port": {"name": "http"},
        }
    assert ingress["spec"]["tls"]


def test_minikube_runs_one_replica_and_can_still_be_drained(
    rendered: dict[str, list[Manifest]],
) -> None:
    docs = rendered["minikube"]
    assert not of_kind(docs, "HorizontalPodAutoscaler")
    assert not of_kind(docs, "ServiceMonitor")
    for deployment in app_deployments(docs):
        assert deployment["spec"]["replicas"] == 1
        assert pod_spec(deployment)["containers"][0]["imagePullPolicy"] == "Never"
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        assert pdb["spec"].get("maxUnavailable") == 1
    assert named(docs, "StatefulSet", "taskstream-postgresql")


def test_grafana_dashboard_covers_the_service_signals(rendered: dict[str, list[Manifest]]) -> None:
    dashboard_map = named(rendered["cloud"], "ConfigMap", "taskstream-dashboard")
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["taskstream.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "taskstream.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for signal in (
        "taskstream_http_requests_total",
        "taskstream_http_request_seconds_bucket",
        "taskstream_outbox_lag_seconds",
        "kafka_consumergroup_lag",
        "dlq",
        "taskstream_reminder_lateness_seconds_bucket",
    ):
        assert signal in exprs, signal


def test_dead_letters_alert_and_show_on_the_dashboard(
    rendered: dict[str, list[Manifest]],
) -> None:
    rule = named(rendered["cloud"], "PrometheusRule", "taskstream")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert "kafka_topic_partition_current_offset" in alerts["TaskstreamDeadLetters"]["expr"]
    # PromQL unescapes the string: the regex is `.*\.dlq`.
    assert r'topic=~".*\\.dlq"' in alerts["TaskstreamDeadLetters"]["expr"]
    waiting = alerts["TaskstreamDeadLettersWaiting"]
    assert waiting["expr"].startswith("max by (topic) (taskstream_dlq_depth{")
    assert waiting["for"] == "1h"
    assert "taskstream dlq list" in alerts["TaskstreamDeadLetters"]["annotations"]["description"]
    assert not of_kind(rendered["minikube"], "PrometheusRule")
    dashboard = json.loads(
        named(rendered["cloud"], "ConfigMap", "taskstream-dashboard")["data"]["taskstream.json"]
    )
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert "taskstream_dlq_depth" in exprs


def test_values_schema_rejects_a_misspelt_value(tools: Tools) -> None:
    done = tools.run(
        "helm",
        "template",
        "taskstream",
        str(CHART),
        "--values",
        str(CHART / "values-minikube.yaml"),
        "--set",
        "servics.gateway.replicas=3",
    )
    assert done.returncode != 0
    assert "additional properties 'servics' not allowed" in done.stderr


def test_services_get_the_settings_taskstream_reads(
    rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """Names from taskstream/settings.py: the Dapr bus, both API tokens, the secrets."""
    docs = rendered[environment]
    config = named(docs, "ConfigMap", "taskstream-config")["data"]
    assert config["TASKSTREAM_BUS_URL"] == "dapr://127.0.0.1:3500?pubsub=pubsub"
    assert config["TASKSTREAM_HOST"] == "0.0.0.0"
    assert config["TASKSTREAM_ENV"] == "production"
    for deployment in app_deployments(docs):
        (container,) = pod_spec(deployment)["containers"]
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        assert refs["DAPR_API_TOKEN"] == notes["dapr.io/api-token-secret"]
        assert refs["APP_API_TOKEN"] == notes["dapr.io/app-token-secret"]
        assert {"DATABASE_URL", "TASKSTREAM_JWT_SECRET"} <= set(refs)


# -- The Secrets from the secret manager (External Secrets Operator).

EXTERNAL_SECRETS = REPO / "infra" / "external-secrets"
SYNCED = {"taskstream-secrets", "taskstream-dapr-app-token", "taskstream-dapr-api-token"}


def required_secret_keys(docs: list[Manifest]) -> dict[str, set[str]]:
    """Secret name -> the keys the rendered pods and Dapr components cannot start without: every
    non-optional secretKeyRef, and the `token` of each Dapr token Secret a pod names."""
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict) and not ref.get("optional"):
                found.setdefault(ref["name"], set()).add(ref["key"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for doc in docs:
        walk(doc)
    for deployment in app_deployments(docs):
        notes = deployment["spec"]["template"]["metadata"]["annotations"]
        for annotation in ("dapr.io/app-token-secret", "dapr.io/api-token-secret"):
            found.setdefault(notes[annotation], set()).add("token")
    return found


def test_external_secrets_are_off_unless_asked(rendered: dict[str, list[Manifest]]) -> None:
    """Minikube (and the default) make their Secrets another way (dev-secrets.sh)."""
    assert not of_kind(rendered["minikube"], "ExternalSecret")
    assert of_kind(rendered["cloud"], "ExternalSecret")


def test_the_cloud_syncs_every_secret_the_pods_read_before_the_migration_runs(
    tools: Tools, rendered: dict[str, list[Manifest]]
) -> None:
    """One ExternalSecret per Secret of the chart, from the ClusterSecretStore that
    infra/external-secrets makes (which admits the release's namespace), with every key a pod or
    component needs; a hook that runs before the migration Job, and whose Secret survives the
    ExternalSecret's replacement at the next upgrade (Orphan, Retain)."""
    docs = rendered["cloud"]
    (store,) = of_kind(
        tools.yaml_docs(*sorted(EXTERNAL_SECRETS.glob("*.yaml"))),
        "ClusterSecretStore",
    )
    assert any(NAMESPACE in c.get("namespaces", []) for c in store["spec"]["conditions"])
    needed = required_secret_keys(docs)
    synced = {e["spec"]["target"]["name"]: e for e in of_kind(docs, "ExternalSecret")}
    assert set(synced) == SYNCED
    (migration,) = of_kind(docs, "Job")
    migration_weight = int(migration["metadata"]["annotations"]["helm.sh/hook-weight"])
    for name, external in synced.items():
        spec = external["spec"]
        assert spec["secretStoreRef"] == {
            "kind": "ClusterSecretStore",
            "name": store["metadata"]["name"],
        }
        keys = {entry["secretKey"] for entry in spec["data"]}
        assert needed[name] <= keys, (name, needed[name] - keys)
        assert all(entry["remoteRef"]["key"] for entry in spec["data"])
        assert (spec["target"]["creationPolicy"], spec["target"]["deletionPolicy"]) == (
            "Orphan",
            "Retain",
        )
        notes = external["metadata"]["annotations"]
        assert {"pre-install", "pre-upgrade"} <= set(notes["helm.sh/hook"].split(","))
        assert int(notes["helm.sh/hook-weight"]) < migration_weight
        assert "hook-succeeded" not in notes["helm.sh/hook-delete-policy"]
    assert needed["taskstream-secrets"] >= {"database-url", "jwt-secret"}


def test_the_secret_store_is_valid_against_the_external_secrets_crds(tools: Tools) -> None:
    files = [str(p) for p in sorted(EXTERNAL_SECRETS.glob("*.yaml"))]
    done = tools.kubeconform("-output", "json", *files)
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report["resources"], indent=1)
    assert report["summary"]["valid"] >= 1
    assert report["summary"]["skipped"] == 0


def test_the_external_secrets_schema_refuses_a_misspelt_field(tools: Tools) -> None:
    """The ExternalSecret schema is strict: what the operator would ignore fails here."""
    text = helm_template(tools, "cloud", "--show-only", "templates/externalsecrets.yaml")
    done = tools.kubeconform("-", stdin=text.replace("creationPolicy:", "creationPolicie:", 1))
    assert done.returncode != 0 and "creationPolicie" in done.stdout, done.stdout
