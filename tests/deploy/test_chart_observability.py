"""The chart's tracing and Kafka security wiring, read from real `helm template` output.

Each check follows a name from where it is used to where it is defined: a service's pub/sub
component to its KafkaUser and that user's Secret, the components' CA to the Secret Strimzi
publishes (and the reflection that brings it here), the services' and sidecars' OTLP endpoints
to the collector's Service, port and receiver, the collector's exporter to Jaeger, and the
PodMonitors to the Strimzi pods and ports that serve metrics.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.deploy.conftest import (
    APP_IDS,
    CHART,
    ENVIRONMENTS,
    NAMESPACE,
    STRIMZI,
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
from tests.deploy.test_chart_wiring import app_deployments, container_env, settings_of

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

TRACING_ON = ("--set", "tracing.collector.enabled=true", "--set", "tracing.jaeger.enabled=true")


def render(tools: Tools, environment: str, *extra: str) -> list[Manifest]:
    """The chart rendered for `environment` with `extra` helm arguments, parsed."""
    return tools.yaml_docs(text=helm_template(tools, environment, *extra))


def valid(tools: Tools, text: str) -> None:
    """kubeconform strict: every kind has a schema (KafkaUser, PodMonitor included)."""
    done = tools.kubeconform("-", stdin=text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Skipped: 0" in done.stdout


def strimzi_kafka(tools: Tools, environment: str) -> tuple[Manifest, list[Manifest]]:
    """The Kafka resource of infra/strimzi/<environment> and all that directory's documents."""
    docs = tools.yaml_docs(*sorted((STRIMZI / environment).glob("*.yaml")))
    (kafka,) = of_kind(docs, "Kafka")
    return kafka, docs


def service_named(docs: list[Manifest], host: str) -> Manifest:
    """The rendered Service a cluster DNS name <service>.<namespace>.svc resolves to."""
    name, namespace, svc = host.split(".")[:3]
    assert (namespace, svc) == (NAMESPACE, "svc"), host
    return named(docs, "Service", name)


def backing_pod(docs: list[Manifest], service: Manifest, port: int) -> tuple[Manifest, int]:
    """The one Deployment behind `service` and the container port its `port` targets."""
    (entry,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    found = [
        d
        for d in of_kind(docs, "Deployment")
        if selects({"matchLabels": service["spec"]["selector"]}, pod_labels(d))
    ]
    assert len(found) == 1, service["metadata"]["name"]
    (container,) = pod_spec(found[0])["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    target = entry["targetPort"]
    return found[0], ports[target] if isinstance(target, str) else target


# -- Kafka: one KafkaUser per service, its Secret in its own component, the CA.


@pytest.mark.parametrize(
    ("environment", "extra", "auth"),
    [
        ("cloud", (), "scram-sha-512"),
        ("cloud", ("--set", "dapr.pubsub.authType=mtls"), "tls"),
        ("minikube", (), "scram-sha-512"),
    ],
)
def test_each_service_publishes_and_consumes_as_its_own_kafka_user(
    tools: Tools,
    environment: str,
    extra: tuple[str, ...],
    auth: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The component a service's code uses (its Settings, built from the pod's env) is scoped to
    that service alone, and every credential in it is the Secret of a KafkaUser rendered for
    that service, with its own consumer group and the topics it reads and writes."""
    text = helm_template(tools, environment, *extra)
    valid(tools, text)
    docs = tools.yaml_docs(text=text)
    components = {c["metadata"]["name"]: c for c in of_kind(docs, "Component")}
    users = {u["metadata"]["name"]: u for u in of_kind(docs, "KafkaUser")}
    assert len(users) == len(APP_IDS)
    seen_secrets = set()
    for deployment in app_deployments(docs):
        app_id = deployment["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"]
        settings = settings_of(docs, deployment, monkeypatch)
        assert f"pubsub={settings.pubsub_name}" in settings.bus_url
        component = components[settings.pubsub_name]
        assert component["spec"]["type"] == "pubsub.kafka"
        assert component["scopes"] == [app_id]
        meta = {m["name"]: m for m in component["spec"]["metadata"]}
        assert meta["consumerGroup"]["value"] == "{appID}"
        # A service that takes bulks lets its fetches wait; the gateway's pushes must not.
        fetch_min = "65536" if settings.dapr_bulk_subscribe else "1"
        assert meta["consumerFetchMin"]["value"] == fetch_min
        refs = {
            m["secretKeyRef"]["name"]
            for n, m in meta.items()
            if n != "caCert" and "secretKeyRef" in m
        }
        (secret,) = refs  # Strimzi names a KafkaUser's Secret after the user
        user = users[secret]
        seen_secrets.add(secret)
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "taskstream"
        assert user["spec"]["authentication"]["type"] == auth
        if auth == "scram-sha-512":
            assert meta["authType"]["value"] == "password"
            assert meta["saslMechanism"]["value"] == "SHA-512"
            assert meta["saslUsername"]["value"] == secret
            assert meta["saslPassword"]["secretKeyRef"]["key"] == "password"
        else:
            assert meta["authType"]["value"] == "mtls"
            assert meta["clientCert"]["secretKeyRef"] == {"name": secret, "key": "user.crt"}
            assert meta["clientKey"]["secretKeyRef"] == {"name": secret, "key": "user.key"}
        acls = user["spec"]["authorization"]["acls"]
        groups = [a["resource"]["name"] for a in acls if a["resource"]["type"] == "group"]
        assert groups == [app_id]  # consumerGroup {appID}: no other service's group
        topics = {
            a["resource"]["name"]: set(a["operations"])
            for a in acls
            if a["resource"]["type"] == "topic"
        }
        for topic, subscribers in SUBSCRIBERS.items():
            if app_id in subscribers:
                assert {"Read", "Describe"} <= topics[topic]
                assert "Write" in topics[f"{topic}.dlq"]  # Dapr dead-letters as the consumer
    assert seen_secrets == set(users)


def test_without_kafka_auth_one_shared_component_and_no_users(tools: Tools) -> None:
    """authType none (a broker without authentication): one component for every app, no
    KafkaUser."""
    docs = tools.yaml_docs(
        text=helm_template(tools, "minikube", "--set", "dapr.pubsub.authType=none")
    )
    assert not of_kind(docs, "KafkaUser")
    (component,) = [c for c in of_kind(docs, "Component") if c["spec"]["type"] == "pubsub.kafka"]
    assert set(component["scopes"]) == APP_IDS
    for deployment in app_deployments(docs):
        assert "TASKSTREAM_PUBSUB_NAME" not in container_env(deployment)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_brokers_demand_what_the_users_present(
    tools: Tools, rendered: dict[str, list[Manifest]], environment: str
) -> None:
    """The listener the components dial authenticates with the users' mechanism (no listener
    is open: every one authenticates) and enforces ACLs; the User Operator watches the release's
    namespace (where the KafkaUsers and their Secrets are). TLS where the values ask for it."""
    kafka, _ = strimzi_kafka(tools, environment)
    docs = rendered[environment]
    spec = kafka["spec"]
    users = of_kind(docs, "KafkaUser")
    assert users
    for component in (c for c in of_kind(docs, "Component") if c["spec"]["type"] == "pubsub.kafka"):
        meta = {m["name"]: m for m in component["spec"]["metadata"]}
        port = int(meta["brokers"]["value"].rsplit(":", 1)[1])
        (listener,) = [x for x in spec["kafka"]["listeners"] if x["port"] == port]
        assert listener["tls"] is (meta["disableTls"]["value"] == "false")
        assert listener["authentication"]["type"] == users[0]["spec"]["authentication"]["type"]
    assert all(x.get("authentication") for x in spec["kafka"]["listeners"])
    assert spec["kafka"]["authorization"]["type"] == "simple"
    assert spec["entityOperator"]["userOperator"]["watchedNamespace"] == NAMESPACE


def test_cloud_components_trust_strimzis_ca(
    tools: Tools, rendered: dict[str, list[Manifest]]
) -> None:
    """Every component trusts the cluster CA Secret Strimzi publishes, which is reflected into
    the release's namespace under its own name (renewals follow)."""
    kafka, _ = strimzi_kafka(tools, "cloud")
    docs = rendered["cloud"]
    spec = kafka["spec"]
    for component in (c for c in of_kind(docs, "Component") if c["spec"]["type"] == "pubsub.kafka"):
        meta = {m["name"]: m for m in component["spec"]["metadata"]}
        assert meta["disableTls"]["value"] == "false"
        ca = meta["caCert"]["secretKeyRef"]
        assert ca == {"name": f"{kafka['metadata']['name']}-cluster-ca-cert", "key": "ca.crt"}
    notes = spec["kafka"]["template"]["clusterCaCert"]["metadata"]["annotations"]
    prefix = "reflector.v1.k8s.emberstack.com/"
    assert (
        notes[prefix + "reflection-allowed"] == notes[prefix + "reflection-auto-enabled"] == "true"
    )
    assert NAMESPACE in notes[prefix + "reflection-auto-namespaces"].split(",")
    assert NAMESPACE in notes[prefix + "reflection-allowed-namespaces"].split(",")


# -- Tracing: the collector, the services' and sidecars' endpoints, Jaeger.


@pytest.mark.parametrize("environment", ["cloud", "minikube"])
def test_services_and_sidecars_send_spans_to_the_collector_which_exports_to_jaeger(
    tools: Tools, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tracing.collector.enabled, each service's Settings (OTEL_EXPORTER_OTLP_ENDPOINT)
    and each Dapr Configuration (spec.tracing.otel) reach a port of the collector's pod whose
    OTLP receiver listens there with the matching protocol; the traces pipeline takes OTLP and
    exports to the Jaeger Service's OTLP/gRPC port; the NetworkPolicies let those flows pass."""
    text = helm_template(tools, environment, *TRACING_ON)
    valid(tools, text)
    docs = tools.yaml_docs(text=text)
    (config_map,) = [
        c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"].endswith("-otel-collector")
    ]
    (collector_config,) = tools.yaml_docs(text=config_map["data"]["config.yaml"])
    protocols = collector_config["receivers"]["otlp"]["protocols"]
    listens = {int(protocols[p]["endpoint"].rsplit(":", 1)[1]): p for p in ("grpc", "http")}
    pipeline = collector_config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert set(pipeline["processors"]) <= set(collector_config["processors"])

    # The services (OTLP/HTTP: the app appends /v1/traces).
    for deployment in app_deployments(docs):
        settings = settings_of(docs, deployment, monkeypatch)
        assert settings.otel_exporter_otlp_endpoint
        url = urlsplit(settings.otel_exporter_otlp_endpoint)
        assert url.scheme == "http" and url.hostname and url.port
        pod, port = backing_pod(docs, service_named(docs, url.hostname), url.port)
        assert pod_labels(pod)["app.kubernetes.io/name"] == "otel-collector"
        assert listens[port] == "http"
        assert (
            settings.otel_service_name
            == f"taskstream-{pod_labels(deployment)['app.kubernetes.io/name']}"
        )
        assert allowed(docs, deployment, pod, port)

    # The sidecars (OTLP/gRPC), one Configuration per app id.
    configurations = of_kind(docs, "Configuration")
    assert len(configurations) == len(APP_IDS)
    for configuration in configurations:
        otel = configuration["spec"]["tracing"]["otel"]
        assert otel["protocol"] == "grpc" and otel["isSecure"] is False
        host, port_text = otel["endpointAddress"].rsplit(":", 1)
        pod, port = backing_pod(docs, service_named(docs, host), int(port_text))
        assert pod_labels(pod)["app.kubernetes.io/name"] == "otel-collector"
        assert listens[port] == "grpc"

    # The collector's exporter: Jaeger's OTLP/gRPC receiver, reachable from the collector.
    (exporter,) = pipeline["exporters"]
    host, port_text = collector_config["exporters"][exporter]["endpoint"].rsplit(":", 1)
    jaeger = named(docs, "Service", host)
    jaeger_pod, jaeger_port = backing_pod(docs, jaeger, int(port_text))
    assert pod_labels(jaeger_pod)["app.kubernetes.io/name"] == "jaeger"
    assert jaeger_port == 4317
    (collector,) = [
        d
        for d in of_kind(docs, "Deployment")
        if pod_labels(d)["app.kubernetes.io/name"] == "otel-collector"
    ]
    assert allowed(docs, collector, jaeger_pod, jaeger_port)


def test_tracing_stays_off_by_default(rendered: dict[str, list[Manifest]]) -> None:
    """Without tracing.collector.enabled nothing is rendered for it and Minikube's services get
    no OTLP endpoint (telemetry.py keeps tracing off)."""
    for docs in rendered.values():
        names = {d["metadata"]["name"] for d in docs}
        assert not any("otel-collector" in n or "jaeger" in n for n in names)
    for deployment in app_deployments(rendered["minikube"]):
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in container_env(deployment)


def allowed(docs: list[Manifest], source: Manifest, target: Manifest, port: int) -> bool:
    """Whether the NetworkPolicies let pods of `source` open TCP `port` on pods of `target`
    (same namespace): an egress rule of a policy selecting the source and an ingress rule of
    one selecting the target, or no policy of that direction selecting it."""
    src, dst = pod_labels(source), pod_labels(target)
    policies = of_kind(docs, "NetworkPolicy")

    def opens(rule: Manifest, peer_key: str, peer: dict[str, str]) -> bool:
        ports = rule.get("ports")
        if ports and not any(p.get("port") == port for p in ports):
            return False
        peers = rule.get(peer_key)
        if not peers:
            return True
        return any(
            "namespaceSelector" not in p and "podSelector" in p and selects(p["podSelector"], peer)
            for p in peers
        )

    def direction(
        kind: str, labels: dict[str, str], rules: str, peer_key: str, peer: dict[str, str]
    ) -> bool:
        mine = [
            p
            for p in policies
            if kind in p["spec"].get("policyTypes", [])
            and selects(p["spec"]["podSelector"], labels)
        ]
        if not mine:
            return True
        return any(opens(r, peer_key, peer) for p in mine for r in p["spec"].get(rules) or [])

    return direction("Egress", src, "egress", "to", dst) and direction(
        "Ingress", dst, "ingress", "from", src
    )


# -- Kafka metrics: the PodMonitor finds Strimzi's metrics ports.


def test_kafka_metrics_are_scraped_from_the_strimzi_pods(
    tools: Tools, rendered: dict[str, list[Manifest]]
) -> None:
    """The cloud Kafka serves broker metrics (metricsConfig from a ConfigMap that exists with
    that key) and consumer lag (kafkaExporter), and the chart's PodMonitor selects the pods
    Strimzi labels for that cluster, in its namespace, on Strimzi's metrics port name."""
    kafka, strimzi = strimzi_kafka(tools, "cloud")
    ref = kafka["spec"]["kafka"]["metricsConfig"]["valueFrom"]["configMapKeyRef"]
    assert kafka["spec"]["kafka"]["metricsConfig"]["type"] == "jmxPrometheusExporter"
    rules = named(strimzi, "ConfigMap", ref["name"])["data"][ref["key"]]
    assert tools.yaml_docs(text=rules)[0]["rules"]
    assert "kafkaExporter" in kafka["spec"]
    docs = rendered["cloud"]
    (monitor,) = [
        m for m in of_kind(docs, "PodMonitor") if m["metadata"]["name"].endswith("-kafka")
    ]
    values_ns = monitor["metadata"]["namespace"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [values_ns]
    # The labels Strimzi puts on the broker and Kafka Exporter pods of cluster `taskstream`.
    cluster = kafka["metadata"]["name"]
    for strimzi_pod in (
        {
            "strimzi.io/cluster": cluster,
            "strimzi.io/kind": "Kafka",
            "strimzi.io/name": f"{cluster}-kafka",
        },
        {
            "strimzi.io/cluster": cluster,
            "strimzi.io/kind": "Kafka",
            "strimzi.io/name": f"{cluster}-kafka-exporter",
        },
    ):
        assert selects(monitor["spec"]["selector"], strimzi_pod)
    assert {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"tcp-prometheus"}
    # The namespace the components dial: <cluster>-kafka-bootstrap.<namespace>.svc:<port>.
    component = next(c for c in of_kind(docs, "Component") if c["spec"]["type"] == "pubsub.kafka")
    brokers = next(m["value"] for m in component["spec"]["metadata"] if m["name"] == "brokers")
    assert brokers.split(".")[:2] == [f"{cluster}-kafka-bootstrap", values_ns]


@pytest.mark.parametrize(
    ("setting", "named_in_error"),
    [
        ("dapr.pubsub.authType=scram-sha-256", "authType"),
        ("tracing.collector.exporterEndpoint=http://jaeger:4317", "exporterEndpoint"),
        ("tracing.otlpEndpoint=collector:4318", "otlpEndpoint"),
        ("tracing.collector.replicas=0", "replicas"),
    ],
)
def test_the_values_schema_refuses_wiring_that_would_not_connect(
    tools: Tools, setting: str, named_in_error: str
) -> None:
    """An auth type Strimzi and Dapr do not share, an exporter endpoint with a scheme (the
    collector's OTLP/gRPC exporter takes host:port), an app endpoint without one (the SDK needs
    a URL): helm refuses them, naming the value, before anything reaches a cluster."""
    done = tools.run(
        "helm",
        "template",
        "t",
        str(CHART),
        "--values",
        str(CHART / "values-cloud.yaml"),
        "--set",
        setting,
    )
    assert done.returncode != 0
    assert named_in_error in done.stderr, done.stderr
