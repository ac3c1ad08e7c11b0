"""Real Kafka (KRaft) and a real daprd with a pubsub.kafka component, end to end.

The first run provisions the binaries into ${TASKSTREAM_CACHE:-~/.cache/taskstream} through
infra/local/provision.sh (Kafka jars from Maven Central; daprd built from source with Go, which
takes many minutes cold); later runs reuse the cache.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
)

from devstack import Daprd, KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

PUBSUB = "taskstream-pubsub"


@pytest.fixture(scope="module")
def kafka() -> Iterator[KafkaBroker]:
    """One real single-node KRaft broker for the module."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="module")
def daprd(kafka: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daprd]:
    """A real daprd whose pubsub.kafka component points at the broker."""
    resources = tmp_path_factory.mktemp("dapr-resources")
    (resources / "pubsub.yaml").write_text(
        "apiVersion: dapr.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        f"  name: {PUBSUB}\n"
        "spec:\n"
        "  type: pubsub.kafka\n"
        "  version: v1\n"
        "  metadata:\n"
        "    - name: brokers\n"
        f'      value: "{kafka.bootstrap_servers}"\n'
        "    - name: authType\n"
        '      value: "none"\n'
        "    - name: consumerGroup\n"
        '      value: "localinfra-test"\n'
        "    - name: clientID\n"
        '      value: "localinfra-test"\n'
        "    - name: disableTls\n"
        '      value: "true"\n',
        encoding="utf-8",
    )
    with Daprd("localinfra-test", resources_paths=[resources]) as sidecar:
        yield sidecar


async def _consume_one(bootstrap: str, topic: str) -> bytes:
    """Read the first record of ``topic`` from the earliest offset."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert record.value is not None
    return bytes(record.value)


async def test_kafka_produce_and_consume(kafka: KafkaBroker) -> None:
    """A record produced with aiokafka comes back from the real broker."""
    topic = f"localinfra-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello kafka", key=b"k1")
    finally:
        await producer.stop()
    assert await _consume_one(kafka.bootstrap_servers, topic) == b"hello kafka"


async def test_daprd_is_healthy_and_loaded_the_component(daprd: Daprd) -> None:
    """Both health endpoints answer 204 and the metadata lists the Kafka pub/sub."""
    async with httpx.AsyncClient(base_url=daprd.http_endpoint, timeout=10) as client:
        assert (await client.get("/v1.0/healthz/outbound")).status_code == 204
        assert (await client.get("/v1.0/healthz")).status_code == 204
        metadata = (await client.get("/v1.0/metadata")).json()
    assert metadata["id"] == "localinfra-test"
    components = {c["name"]: c["type"] for c in metadata["components"]}
    assert components[PUBSUB] == "pubsub.kafka"


async def test_daprd_publishes_a_cloudevent_to_kafka(kafka: KafkaBroker, daprd: Daprd) -> None:
    """POST /v1.0/publish answers 204 and a raw Kafka consumer sees the CloudEvent."""
    topic = f"localinfra-events-{uuid.uuid4().hex[:8]}"
    payload = {"task_id": str(uuid.uuid4()), "kind": "task.created"}
    async with httpx.AsyncClient(base_url=daprd.http_endpoint, timeout=30) as client:
        response = await client.post(f"/v1.0/publish/{PUBSUB}/{topic}", json=payload)
    assert response.status_code == 204, response.text
    event = json.loads(await _consume_one(kafka.bootstrap_servers, topic))
    assert event["data"] == payload
    assert event["topic"] == topic
    assert event["pubsubname"] == PUBSUB
    assert event["source"] == "localinfra-test"
    assert event["specversion"] == "1.0"
    assert event["datacontenttype"] == "application/json"


def test_kafka_cluster_of_three_nodes(tmp_path: Path) -> None:
    """Three combined broker+controller nodes form one cluster and stop cleanly."""
    with KafkaBroker(node_count=3, data_dir=tmp_path) as cluster:
        assert len(cluster.bootstrap_servers.split(",")) == 3
        assert cluster.running
    assert not cluster.running


def test_kafka_formats_a_cluster_id_that_starts_with_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 1 id in 64 starts with "-", which the storage tool once took for an option."""
    dashed = base64.urlsafe_b64encode(b"\xf8" + uuid.uuid4().bytes[1:]).rstrip(b"=").decode()
    assert dashed.startswith("-")
    monkeypatch.setattr("devstack.kafka.new_cluster_id", lambda: dashed)
    with KafkaBroker(data_dir=tmp_path) as broker:
        assert broker.running
        assert broker.cluster_id == dashed
