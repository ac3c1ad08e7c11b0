"""Kafka on Strimzi: CRD-valid resources, the replication the issue asks for, and the topics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    CHART,
    ENVIRONMENTS,
    STRIMZI,
    SUBSCRIBERS,
    Manifest,
    Tools,
    of_kind,
)

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

TOPICS = {"task-events", "reminders", "notifications"}


def strimzi_docs(tools: Tools, environment: str) -> list[Manifest]:
    """The Strimzi resources of one environment."""
    return tools.yaml_docs(*sorted((STRIMZI / environment).glob("*.yaml")))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_strimzi_resources_are_valid_against_the_strimzi_crds(
    tools: Tools, environment: str
) -> None:
    files = [str(p) for p in sorted((STRIMZI / environment).glob("*.yaml"))]
    done = tools.kubeconform("-output", "json", *files)
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report["resources"], indent=1)
    assert report["summary"]["valid"] >= 8
    assert report["summary"]["skipped"] == 0


def test_minikube_runs_one_kraft_node(tools: Tools) -> None:
    docs = strimzi_docs(tools, "minikube")
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert pool["spec"]["replicas"] == 1
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    (kafka,) = of_kind(docs, "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == config["min.insync.replicas"] == 1
    assert "zookeeper" not in kafka["spec"]
    plain = [lsn for lsn in kafka["spec"]["kafka"]["listeners"] if lsn["port"] == 9092]
    assert plain and plain[0]["tls"] is False  # what values-minikube.yaml connects to


def test_cloud_runs_three_brokers_with_rf3_and_min_isr2(tools: Tools) -> None:
    docs = strimzi_docs(tools, "cloud")
    pools = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "KafkaNodePool")}
    brokers = [p for p in pools.values() if "broker" in p["roles"]]
    controllers = [p for p in pools.values() if "controller" in p["roles"]]
    assert sum(p["replicas"] for p in brokers) == 3
    assert sum(p["replicas"] for p in controllers) == 3
    (kafka,) = of_kind(docs, "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["offsets.topic.replication.factor"] == 3
    assert config["unclean.leader.election.enable"] is False
    assert [lsn["port"] for lsn in kafka["spec"]["kafka"]["listeners"]] == [9093]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_topics_and_dead_letter_topics(tools: Tools, environment: str) -> None:
    docs = strimzi_docs(tools, environment)
    (kafka,) = of_kind(docs, "Kafka")
    topics = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    assert set(topics) == TOPICS | {f"{t}.dlq" for t in TOPICS}
    replicas = 3 if environment == "cloud" else 1
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9-]+", topic["metadata"]["name"]), name
        assert topic["spec"]["replicas"] == replicas
        assert topic["spec"]["config"]["min.insync.replicas"] == (2 if replicas == 3 else 1)
        assert topic["spec"]["partitions"] >= 1
        assert topic["spec"]["config"]["retention.ms"] >= 86_400_000
    for name in TOPICS:  # dead letters are kept longer than the events themselves
        dlq = topics[f"{name}.dlq"]["spec"]["config"]["retention.ms"]
        assert dlq > topics[name]["spec"]["config"]["retention.ms"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_topic_explains_its_partitions_and_retention(environment: str) -> None:
    text = (STRIMZI / environment / "topics.yaml").read_text()
    for chunk in text.split("\n---\n")[1:]:
        comment = " ".join(line for line in chunk.splitlines() if line.startswith("#"))
        assert comment, chunk
    cloud = (STRIMZI / "cloud" / "topics.yaml").read_text()
    assert "partitions" in cloud and "days" in cloud


def test_partitions_cover_the_consumers_autoscaling(tools: Tools) -> None:
    """A consumer group cannot use more replicas than a topic has partitions."""
    topics = {
        t["spec"]["topicName"]: t["spec"]["partitions"]
        for t in of_kind(strimzi_docs(tools, "cloud"), "KafkaTopic")
    }
    values = tools.yaml_docs(CHART / "values.yaml", CHART / "values-cloud.yaml")
    defaults, cloud = values[0], values[1]
    for topic, apps in SUBSCRIBERS.items():
        for app in apps:
            scaling = {
                **defaults["services"][app]["autoscaling"],
                **cloud["services"][app]["autoscaling"],
            }
            assert topics[topic] >= scaling["maxReplicas"], (topic, app)


def test_chart_and_strimzi_agree(tools: Tools) -> None:
    assert set(SUBSCRIBERS) == TOPICS
    for environment in ENVIRONMENTS:
        (kafka,) = of_kind(strimzi_docs(tools, environment), "Kafka")
        env_values = tools.yaml_docs(Path(CHART / f"values-{environment}.yaml"))[0]
        brokers = env_values["dapr"]["pubsub"]["brokers"]
        host, port = brokers.split(":")
        assert host == f"{kafka['metadata']['name']}-kafka-bootstrap.kafka.svc"
        assert int(port) in [lsn["port"] for lsn in kafka["spec"]["kafka"]["listeners"]]
