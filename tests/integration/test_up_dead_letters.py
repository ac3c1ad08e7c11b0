"""`up`'s dead letters are kept in PostgreSQL: `taskstream dlq list|show|replay` work on them
from another process, as against `stack up`'s broker, and a replay is applied once."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cli.composition import local_system
from devstack.postgres import EmbeddedPostgres
from taskstream.messaging.bus import Message, Outcome
from taskstream.messaging.cloudevents import CloudEvent, EventModel, envelope
from taskstream.messaging.consumer import Consumer
from taskstream.messaging.memory import MemoryTransport
from taskstream.persistence.db import create_engine, migrate
from taskstream.persistence.dead_letters import PostgresDeadLetters, outbox
from taskstream.settings import Settings
from tests.conftest import taskstream_cli
from tests.integration.conftest import FAST_RETRIES, AppliedEffects, eventually

pytestmark = pytest.mark.integration


class Numbered(EventModel):
    """The test event."""

    TYPE: ClassVar[str] = "test.numbered.v1"
    TOPIC: ClassVar[str] = "test-numbered"

    n: int

    def subject(self) -> str:
        """The number."""
        return str(self.n)

    def partition_key(self) -> str:
        """One key."""
        return "k"


def on(database_url: str) -> dict[str, str]:
    """The command line's environment against this database (and `up`'s bus, not the tests')."""
    env = {k: v for k, v in os.environ.items() if k != "TASKSTREAM_BUS_URL"}
    return {**env, "DATABASE_URL": database_url}


async def test_up_keeps_dead_letters_in_postgres_and_dlq_lists_shows_and_replays_them(
    settings: Settings, engine: AsyncEngine, applied_effects: AppliedEffects, database_url: str
) -> None:
    topic = f"up-dlq-{uuid.uuid4().hex[:8]}"
    group = f"up-dlq-group-{uuid.uuid4().hex[:6]}"
    broken = {"yes"}

    async def apply(event: CloudEvent[Numbered], connection: AsyncConnection) -> Outcome:
        if broken:
            raise RuntimeError("poison: no rule for this number")
        await applied_effects.apply(connection, event.id)
        return Outcome.SUCCESS

    event = envelope(
        topic=topic,
        type_=Numbered.TYPE,
        source="tests",
        subject="1",
        partition_key="k",
        time=datetime.now(UTC),
        data={"n": 1},
    )
    event_id = str(event.id)
    consumer = Consumer(
        name=group, engine=applied_effects.engine, processed=applied_effects.processed
    )
    consumer.on(Numbered, apply, topic=topic)
    transport = MemoryTransport(policy=FAST_RETRIES)
    # `up`'s composition root: the gateway and the workers on one in-process bus.
    async with local_system(settings, engine=engine, transport=transport):
        await transport.subscribe(consumer.subscriptions())
        # Returns once every group settled it: this one gave up and dead-lettered it.
        await transport.publish([Message(topic, "k", event.body)])
        assert await applied_effects.times_applied(event_id) == 0

    # `up` has stopped: the dead letter is in PostgreSQL, read by another process.
    code, out, err = await taskstream_cli(
        "dlq", "list", "--bus", "memory://", "--topic", topic, "--json", env=on(database_url)
    )
    assert code == 0, err
    (listed,) = [json.loads(line) for line in out.splitlines()]
    assert listed["id"] == event_id
    assert listed["topic"] == topic
    assert listed["type"] == Numbered.TYPE
    assert listed["group"] == group
    assert listed["reason"] == (
        f"still failing after {FAST_RETRIES.attempts} attempts: "
        "RuntimeError: poison: no rule for this number"
    )
    assert listed["replayed"] is False
    code, out, err = await taskstream_cli(
        "dlq", "show", "--bus", "memory://", "--id", event_id, env=on(database_url)
    )
    assert code == 0, err
    (shown,) = json.loads(out)
    assert shown["event"]["data"] == {"n": 1}

    broken.clear()  # the fix
    transport = MemoryTransport(policy=FAST_RETRIES)
    async with local_system(settings, engine=engine, transport=transport):
        await transport.subscribe(consumer.subscriptions())
        code, out, err = await taskstream_cli(
            *("dlq", "replay", "--bus", "memory://", "--topic", topic, "--id", event_id),
            env=on(database_url),
        )
        assert code == 0, err
        assert out.strip() == "replayed 1 dead letters"

        async def applied_once() -> bool:
            return await applied_effects.times_applied(event_id) == 1

        # The running `up` publishes the replay from its outbox, as any event.
        await eventually(applied_once)

    (after,) = await PostgresDeadLetters(engine).read(topic)
    assert after.replayed
    code, out, _ = await taskstream_cli(
        "dlq",
        "list",
        "--bus",
        "memory://",
        "--topic",
        topic,
        "--pending",
        env=on(database_url),
    )
    assert (code, out) == (0, "")
    assert await applied_effects.times_applied(event_id) == 1


async def test_a_dead_letter_failing_again_after_replay_is_pending_again(
    engine: AsyncEngine,
) -> None:
    letters = PostgresDeadLetters(engine)
    topic = f"up-dlq-again-{uuid.uuid4().hex[:8]}"
    body = {
        "id": str(uuid.uuid4()),
        "type": "t",
        "deadletterreason": "first",
        "deadlettergroup": "g",
    }
    await letters.keep(Message(f"{topic}.dlq", "k", body))
    await letters.keep(Message(f"{topic}.dlq", "k", body))
    (letter,) = await letters.read(topic)
    assert await letters.replay([letter]) == 1
    assert (await letters.read(topic, pending_only=True)) == []
    await letters.keep(Message(f"{topic}.dlq", "k", {**body, "deadletterreason": "second"}))
    (again,) = await letters.read(topic, pending_only=True)
    assert again.reason == "second" and not again.replayed


async def test_an_event_given_up_by_two_groups_is_replayed_once(engine: AsyncEngine) -> None:
    letters = PostgresDeadLetters(engine)
    topic = f"up-dlq-twice-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    for group in ("audit", "notifications"):
        body = {"id": event_id, "type": "t", "deadletterreason": "r", "deadlettergroup": group}
        await letters.keep(Message(f"{topic}.dlq", "k", body))
    both = await letters.find(event_id, topic)
    assert len(both) == 2
    assert await letters.replay(both) == 2
    assert await letters.read(topic, pending_only=True) == []
    async with engine.connect() as connection:
        published = await connection.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.topic == topic, outbox.c.payload["id"].astext == event_id)
        )
    assert published == 1


async def test_dlq_finds_up_s_database_in_its_data_directory_running_or_not() -> None:
    # Not tmp_path alone: PostgreSQL runs as another account, which must reach the directory.
    data_dir = Path(tempfile.mkdtemp(prefix="taskstream-up-dlq-"))
    server = EmbeddedPostgres(data_dir / "postgres", durable=False)
    try:
        url = await asyncio.to_thread(server.start)
        engine = create_engine(url, pool_size=2)
        try:
            await migrate(engine)
            event_id = str(uuid.uuid4())
            body = {"id": event_id, "type": "t", "deadletterreason": "why", "deadlettergroup": "g"}
            await PostgresDeadLetters(engine).keep(Message("task-events.dlq", "k", body))
        finally:
            await engine.dispose()
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TASKSTREAM_BUS_URL")
        }
        command = [sys.executable, "-m", "cli", "dlq", "list", "--bus", "memory://"]
        command += ["--data-dir", str(data_dir), "--json"]
        # `up` running: its server is used as it is.
        running = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, check=False
        )
        assert running.returncode == 0, running.stderr
        assert [json.loads(line)["id"] for line in running.stdout.splitlines()] == [event_id]
        assert server.postmaster_pid() is not None
        # `up` stopped: the command starts the server for itself, then stops it again.
        await asyncio.to_thread(server.stop)
        stopped = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, check=False
        )
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout)["reason"] == "why"
        assert server.postmaster_pid() is None
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
