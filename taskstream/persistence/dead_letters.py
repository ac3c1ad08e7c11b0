"""Dead letters of the in-process bus (`taskstream up`) kept in PostgreSQL, for `taskstream dlq`.

memory:// has no broker to hold a `<topic>.dlq`; without this, dead letters lived in a list of
the process and vanished on restart. MemoryTransport hands each one to `keep` before the
delivery counts as settled (so a failed write is retried, never dropped), and `taskstream dlq`
reads and replays them through the same table from another process.

A replay writes the event, unchanged, to the gateway's outbox: the running `up` publishes it to
its original topic like any other event (or the next `up` does, when none runs), and the
consumers' processed events keep it from acting twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.messaging.bus import DEAD_LETTER_GROUP, Message
from taskstream.messaging.cloudevents import Envelope
from taskstream.messaging.deadletters import (
    MAX_LISTED,
    DeadLetter,
    DeadLetterNotFound,
    dlq_topic_of,
    from_record,
    one_per_event,
    replayable,
)
from taskstream.persistence.outbox import outbox_table, write_outbox

# The gateway's schema: `up` runs the gateway, whose outbox relay publishes the replays.
metadata = MetaData(schema="gateway")
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("event_id", Text),
    Column("dead_group", Text),
    Column("body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("replayed_at", DateTime(timezone=True)),
)
outbox = outbox_table(metadata)


class PostgresDeadLetters:
    """The dead letters of `up`, in gateway.dead_letters: kept, listed, shown and replayed."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def keep(self, message: Message) -> None:
        """Store one dead-lettered message (`<topic>.dlq`, the event with why it failed)."""
        event_id = message.body.get("id")
        group = message.body.get(DEAD_LETTER_GROUP)
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(dead_letters)
                .values(
                    topic=message.topic,
                    key=message.key,
                    event_id=None if event_id is None else str(event_id),
                    dead_group=None if group is None else str(group),
                    body=message.body,
                )
                # The same event failing again in the same group (redelivered, or replayed and
                # still failing): one row, pending again, with the latest reason.
                .on_conflict_do_update(
                    index_elements=["topic", "dead_group", "event_id"],
                    set_={"body": message.body, "replayed_at": None, "created_at": func.now()},
                )
            )

    async def topics(self, topic: str | None = None) -> list[str]:
        """The dead-letter topics that hold something (only the one `topic` names, if given)."""
        query = select(dead_letters.c.topic).distinct().order_by(dead_letters.c.topic)
        if topic is not None:
            query = query.where(dead_letters.c.topic == dlq_topic_of(topic))
        async with self.engine.connect() as connection:
            return list((await connection.scalars(query)).all())

    async def read(
        self, topic: str | None = None, *, pending_only: bool = False
    ) -> list[DeadLetter]:
        """The dead letters (of one topic, when given), oldest first, each with its reason."""
        query = select(dead_letters).order_by(dead_letters.c.position).limit(MAX_LISTED)
        if topic is not None:
            query = query.where(dead_letters.c.topic == dlq_topic_of(topic))
        if pending_only:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            replace(
                from_record(
                    row.topic,
                    0,
                    row.position,
                    row.key.encode(),
                    json.dumps(row.body).encode(),
                ),
                replayed=row.replayed_at is not None,
            )
            for row in rows
        ]

    async def find(self, event_id: str, topic: str | None = None) -> list[DeadLetter]:
        """The dead letters with this CloudEvent id (or position); DeadLetterNotFound if none."""
        found = [
            letter for letter in await self.read(topic) if event_id in (letter.id, letter.position)
        ]
        if not found:
            raise DeadLetterNotFound(event_id)
        return found

    async def replay(self, letters: Sequence[DeadLetter]) -> int:
        """Write each event once to the gateway's outbox for its original topic and mark every
        letter of it replayed, in one transaction (recorded exactly when it will be published)."""
        chosen = replayable(letters)
        if not chosen:
            return 0
        envelopes = [
            Envelope(
                # The outbox row's own id; the CloudEvent keeps its id, by which consumers
                # recognise an event they already applied.
                id=uuid.uuid4(),
                topic=letter.original_topic,
                partition_key=letter.key,
                type=str(letter.body.get("type", "")),
                body=letter.body,
            )
            for letter in one_per_event(chosen)
        ]
        async with self.engine.begin() as connection:
            await write_outbox(connection, outbox, envelopes)
            await connection.execute(
                update(dead_letters)
                .where(dead_letters.c.position.in_([letter.offset for letter in chosen]))
                .values(replayed_at=func.now())
            )
        return len(chosen)
