"""Benchmark: the event backbone through Dapr vs directly through aiokafka, same machine, same run.

Run: ``.venv/bin/python bench/dapr_vs_kafka.py [--messages N] [--rows N]``. Starts a real Kafka
broker, a real daprd (pubsub.kafka from infra/dapr) and an embedded PostgreSQL, then measures
 - publish -> consume latency (p50/p99), one message in flight at a time, through the
   transports the services use (KafkaTransport; DaprTransport + daprd pushing to the app);
 - the outbox relay's throughput (events/s) from committed outbox rows to acknowledged
   publishes, with each transport; through Dapr also the way it published before issue 19
   (one event per request, each acknowledged before the next: `OneEventPerRequest`), and the
   worst case, every event of one key, and the relay with other bulk request sizes.
Writes ``bench/results/backbone.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench.common import percentile, write_result
from devstack import KafkaBroker
from devstack.dapr_app import SidecarOnSubscribe
from devstack.dapr_resources import DaprResources, render_dapr_resources
from devstack.postgres import EmbeddedPostgres
from gateway_core.persistence import tables as t
from taskstream.messaging import dapr as dapr_transport
from taskstream.messaging.bus import Message, Outcome, Subscription, Transport
from taskstream.messaging.cloudevents import envelope
from taskstream.messaging.dapr import DaprTransport
from taskstream.messaging.kafka import KafkaOptions, KafkaTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.persistence.outbox import OutboxRelay, write_outbox

# Bulk request sizes tried beside the chosen one (dapr.BULK_ENTRIES).
BULK_SIZES = (50, 125, 250, 500)


def _message(topic: str, n: int) -> Message:
    built = envelope(
        topic=topic,
        type_="bench.ping.v1",
        source="bench",
        subject=str(n),
        partition_key=f"user-{n % 8}",
        time=datetime.now(UTC),
        data={"n": n, "sentAt": time.perf_counter()},
    )
    return Message(topic, built.partition_key, built.body)


async def latency(transport: Transport, messages: int) -> dict[str, float]:
    """p50/p99 (ms) of publish -> handler, one message at a time after a warm-up."""
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def handler(message: Message) -> Outcome:
        arrived.put_nowait(time.perf_counter())
        return Outcome.SUCCESS

    await transport.subscribe([Subscription(topic, f"bench-{uuid.uuid4().hex[:6]}", handler)])
    samples: list[float] = []
    for n in range(messages + 20):
        started = time.perf_counter()
        await transport.publish([_message(topic, n)])
        done = await asyncio.wait_for(arrived.get(), 30)
        if n >= 20:  # warm-up: consumer group join, connections, JIT in the broker
            samples.append((done - started) * 1000)
    return {
        "p50_ms": round(percentile(samples, 0.50), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "mean_ms": round(sum(samples) / len(samples), 2),
        "messages": len(samples),
    }


class OneEventPerRequest(Transport):
    """Dapr as the relay published before issue 19: one event per request, strictly in turn."""

    def __init__(self, dapr: DaprTransport) -> None:
        self.dapr = dapr

    async def start(self) -> None:
        """Started with the transport it wraps."""

    async def close(self) -> None:
        """Closed with the transport it wraps."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Each event by the single-event API, acknowledged before the next."""
        assert self.dapr._sidecar is not None
        for message in messages:
            await self.dapr._publish_one(self.dapr._sidecar, message)

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Not used: the relay only publishes."""
        raise NotImplementedError


async def relay_throughput(
    engine: Any, transport: Transport, brokers: str, rows: int, keys: int = 50
) -> dict[str, float]:
    """Events/s from `rows` committed outbox rows to acknowledged publishes.

    The topic exists before the clock starts (as in a deployment): its creation on a first
    publish (hundreds of ms) is not the relay's pace.
    """
    async with engine.begin() as connection:
        await connection.execute(
            update(t.outbox)
            .where(t.outbox.c.published_at.is_(None))
            .values(published_at=func.now())
        )
    topic = f"bench-relay-{uuid.uuid4().hex[:8]}"
    await KafkaTransport(KafkaOptions(brokers, partitions=3), app_id="bench").ensure_topics({topic})
    now = datetime.now(UTC)
    for start in range(0, rows, 500):
        async with engine.begin() as connection:
            await write_outbox(
                connection,
                t.outbox,
                [
                    envelope(
                        topic=topic,
                        type_="bench.relayed.v1",
                        source="bench",
                        subject=str(n),
                        partition_key=f"user-{n % keys}",
                        time=now,
                        data={"n": n},
                    )
                    for n in range(start, min(rows, start + 500))
                ],
            )
    relay = OutboxRelay(engine, transport, outbox=t.outbox, poll_seconds=0.05)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    try:
        while True:
            async with engine.connect() as connection:
                left = await connection.scalar(
                    select(func.count())
                    .select_from(t.outbox)
                    .where(t.outbox.c.published_at.is_(None))
                )
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    seconds = time.perf_counter() - started
    return {"events": rows, "seconds": round(seconds, 2), "events_per_s": round(rows / seconds)}


async def bulk_sizes(engine: Any, dapr: DaprTransport, brokers: str, rows: int) -> dict[str, float]:
    """The relay through Dapr with other bulk request sizes (entries a request): how
    `BULK_ENTRIES` was chosen. Smaller requests go several at once (disjoint keys)."""
    chosen = getattr(dapr_transport, "BULK_ENTRIES", None)
    figures: dict[str, float] = {}
    if chosen is None:
        return figures  # a tree from before bulk requests had a size in entries
    try:
        for entries in BULK_SIZES:
            dapr_transport.BULK_ENTRIES = entries
            measured = await relay_throughput(engine, dapr, brokers, rows)
            figures[str(entries)] = measured["events_per_s"]
    finally:
        dapr_transport.BULK_ENTRIES = chosen
    return figures


async def main(messages: int, rows: int) -> dict[str, Any]:
    """Run every measurement once; returns the result record."""
    with tempfile.TemporaryDirectory(prefix="taskstream-bench-") as folder:
        root = Path(folder)
        server = EmbeddedPostgres(root / "pg", durable=False)
        url = server.start()
        try:
            with KafkaBroker(data_dir=root / "kafka") as broker:
                resources: DaprResources = render_dapr_resources(
                    root / "dapr",
                    kafka_brokers=broker.bootstrap_servers,
                    name_resolution_db=root / "nr.db",
                    components=["pubsub"],
                )
                engine = create_engine(url, pool_size=4)
                await migrate(engine)
                results: dict[str, Any] = {"latency": {}, "relay": {}}
                kafka = KafkaTransport(
                    KafkaOptions(broker.bootstrap_servers, partitions=3), app_id="bench"
                )
                await kafka.start()
                try:
                    results["latency"]["kafka"] = await latency(kafka, messages)
                    results["relay"]["kafka"] = await relay_throughput(
                        engine, kafka, broker.bootstrap_servers, rows
                    )
                finally:
                    await kafka.close()
                dapr = SidecarOnSubscribe(broker.bootstrap_servers, resources, app_id="bench")
                await dapr.start()
                try:
                    results["latency"]["dapr"] = await latency(dapr, messages)
                    # Side by side in one run: before (one event per request), after, and
                    # after with a single key (rounds of one event: the old pace at worst).
                    brokers = broker.bootstrap_servers
                    results["relay"]["dapr_one_per_request"] = await relay_throughput(
                        engine, OneEventPerRequest(dapr), brokers, rows
                    )
                    results["relay"]["dapr"] = await relay_throughput(engine, dapr, brokers, rows)
                    results["relay"]["dapr_one_key"] = await relay_throughput(
                        engine, dapr, brokers, max(rows // 10, 100), keys=1
                    )
                    results["relay"]["dapr_bulk_entries"] = await bulk_sizes(
                        engine, dapr, brokers, rows
                    )
                finally:
                    await dapr.close()
                await engine.dispose()
        finally:
            server.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = asyncio.run(main(args.messages, args.rows))
    # The machine is shared: the load says how far the figures are from a quiet machine's.
    figures["load_average_1m"] = {"start": load_before, "end": os.getloadavg()[0]}
    figures["setup"] = {
        "kafka": "1 KRaft node, 3 partitions",
        "dapr": "daprd 1.16.5, pubsub.kafka, HTTP publish (relay: bulk, a key's run in one request)"
        " + HTTP push",
        "messages": args.messages,
        "rows": args.rows,
    }
    path = write_result("backbone", figures)
    for kind in ("kafka", "dapr"):
        lat, rel = figures["latency"][kind], figures["relay"][kind]
        print(
            f"{kind:6} publish->consume p50 {lat['p50_ms']:7.2f} ms  p99 {lat['p99_ms']:7.2f} ms"
            f"   relay {rel['events_per_s']:6} events/s"
        )
    for kind in ("dapr_one_per_request", "dapr_one_key"):
        print(f"relay {kind}: {figures['relay'][kind]['events_per_s']} events/s")
    print(f"relay dapr by bulk entries: {figures['relay']['dapr_bulk_entries']} events/s")
    print(f"wrote {path}")
