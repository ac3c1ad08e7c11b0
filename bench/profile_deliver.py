"""What an event a worker ignores costs the worker under Dapr single delivery: a profile.

Run: ``.venv/bin/python -m bench.profile_deliver [--events N]``. Serves the Dapr delivery route
in-process (httpx's ASGI transport: no daprd, no sockets) to a consumer that has no handler for
the event's type, then profiles N deliveries. Writes bench/results/profiles/deliver_ignored.txt.
The app's share is what the worker spends; the rest of the profile is the test client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import MetaData
from starlette.applications import Starlette

from bench.common import RESULTS
from taskstream.messaging.bus import Subscription
from taskstream.messaging.cloudevents import envelope
from taskstream.messaging.consumer import Consumer, processed_events_table
from taskstream.messaging.dapr import DaprTransport
from taskstream.persistence.db import create_engine


async def main(events: int) -> float:
    """CPU per delivery in this process (app and client), and the profile written."""
    from pyinstrument import Profiler

    # Never connected: an ignored event must not reach the database.
    engine = create_engine("postgresql+asyncpg://nobody:none@127.0.0.1:9/none")
    processed = processed_events_table(MetaData(schema="bench"))
    consumer = Consumer(name="ignoring", engine=engine, processed=processed)
    transport = DaprTransport(app_id="bench", dapr_http="http://127.0.0.1:9")
    await transport.subscribe([Subscription("task-events", "ignoring", consumer.handle)])
    app = Starlette(routes=transport.routes())
    body = envelope(
        topic="task-events",
        type_="taskstream.task.updated.v1",
        source="bench",
        subject="1",
        partition_key="u",
        time=datetime.now(UTC),
        data={"n": 1},
    ).body
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")
    async with client as http:
        for _ in range(200):
            await http.post("/dapr/events/task-events", json=body)
        started = time.process_time()
        for _ in range(events):
            await http.post("/dapr/events/task-events", json=body)
        cpu_ms = (time.process_time() - started) / events * 1000
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in range(events):
            await http.post("/dapr/events/task-events", json=body)
        profiler.stop()
    await engine.dispose()
    out = RESULTS / "profiles" / "deliver_ignored.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# pyinstrument: {events} Dapr single deliveries of an ignored event type, in-process "
        f"(bench/profile_deliver.py); unprofiled {cpu_ms:.3f} ms CPU per delivery, app and "
        f"client together; load average {os.getloadavg()[0]:.1f}\n"
    )
    out.write_text(header + profiler.output_text(unicode=True))
    return cpu_ms


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    print(f"{asyncio.run(main(args.events)):.3f} ms CPU per delivery (app + client)")
