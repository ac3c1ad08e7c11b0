"""The audit trail in PostgreSQL: append, read a page, verify, and apply retention.

Appends for one user are serialised by a row lock on the user's chain head, so any number of
audit replicas and concurrent deliveries extend each chain one entry at a time, in order. A
batch of events is appended with one head read per user and one multi-row insert.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream.domain.audit import (
    GENESIS_HASH,
    AuditRecord,
    ChainCheck,
    Verification,
    canonical_changes_text,
    entry_hash_of_text,
    format_at,
)
from taskstream.persistence.cursors import decode_typed_cursor, encode_cursor
from workers.audit.tables import chain_heads, checkpoints, entries

log = logging.getLogger(__name__)

ORDERING = "audit:seq"
# Entry ids derive from the event id: the same event always names the same entry.
ENTRY_NAMESPACE = uuid.UUID("6f1d3c52-8a8e-4e0b-9a57-5f0b7c3e2a10")
VERIFY_BATCH = 1000
# From this many entries on, an append COPYs them rather than INSERTing them.
COPY_FROM = 16


def entry_id(event_id: str) -> uuid.UUID:
    """The id of the entry recording this event."""
    return uuid.uuid5(ENTRY_NAMESPACE, event_id)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What one event adds to its user's trail, before it is chained."""

    user_id: uuid.UUID
    event_id: str
    at: datetime
    actor: str
    action: str
    task_id: uuid.UUID | None
    changes: Any


# The statements of an append, over arrays so that their number does not grow with the batch
# (the table names are those of workers/audit/tables.py). The columns in COPY order:
_COPIED = (
    "id",
    "user_id",
    "seq",
    "event_id",
    "at",
    "actor",
    "action",
    "task_id",
    "changes",
    "previous_hash",
    "hash",
)
_NEW_HEADS = text(
    "INSERT INTO audit.chain_heads (user_id, last_seq, last_hash) "
    "SELECT unnest(CAST(:users AS uuid[])), 0, :genesis ON CONFLICT DO NOTHING"
)
_LOCK_HEADS = text(
    "SELECT user_id, last_seq, last_hash FROM audit.chain_heads "
    "WHERE user_id = ANY(CAST(:users AS uuid[])) ORDER BY user_id FOR UPDATE"
)
_MOVE_HEADS = text(
    "UPDATE audit.chain_heads AS h SET last_seq = v.seq, last_hash = v.hash "
    "FROM unnest(CAST(:users AS uuid[]), CAST(:seqs AS bigint[]), CAST(:hashes AS text[])) "
    "AS v(user_id, seq, hash) WHERE h.user_id = v.user_id"
)


async def append_many(connection: AsyncConnection, new: Sequence[NewEntry]) -> None:
    """Chain entries to their users' trails, in the given order, in the caller's transaction.

    Four statements whatever the number of entries and users: create missing heads, lock and
    read every head (in user id order, so concurrent batches never wait on each other in a
    cycle), COPY the entries, move the heads. The chain is the same as appending one by one.
    """
    users = sorted({entry.user_id for entry in new})
    await connection.execute(_NEW_HEADS, {"users": users, "genesis": GENESIS_HASH})
    rows = await connection.execute(_LOCK_HEADS, {"users": users})
    heads: dict[uuid.UUID, tuple[int, str]] = {
        row.user_id: (row.last_seq, row.last_hash) for row in rows
    }
    records: list[tuple[Any, ...]] = []
    for entry in new:
        last_seq, previous = heads[entry.user_id]
        record_id = entry_id(entry.event_id)
        # Hash what a reader will see: the changes as their stored text reads back, the
        # time as the API formats it (PostgreSQL keeps microseconds, as does Python).
        changes_text = canonical_changes_text(entry.changes)
        digest = entry_hash_of_text(
            previous,
            id=str(record_id),
            at=format_at(entry.at),
            actor=entry.actor,
            action=entry.action,
            task_id=None if entry.task_id is None else str(entry.task_id),
            changes_text=changes_text,
        )
        heads[entry.user_id] = (last_seq + 1, digest)
        records.append(
            (
                record_id,
                entry.user_id,
                last_seq + 1,
                entry.event_id,
                entry.at,
                entry.actor,
                entry.action,
                entry.task_id,
                changes_text,
                previous,
                digest,
            )
        )
    if len(records) >= COPY_FROM:
        # COPY through the driver, inside the caller's transaction: the cheapest way in per
        # row, once its per-call lookup of the column types is shared by enough rows.
        raw = await connection.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            entries.name, schema_name=entries.schema, columns=_COPIED, records=records
        )
    else:
        await connection.execute(
            insert(entries), [dict(zip(_COPIED, record, strict=True)) for record in records]
        )
    await connection.execute(
        _MOVE_HEADS,
        {
            "users": list(heads),
            "seqs": [seq for seq, _ in heads.values()],
            "hashes": [digest for _, digest in heads.values()],
        },
    )


def _record(
    record_id: str,
    at: datetime,
    actor: str,
    action: str,
    task_id: uuid.UUID | None,
    changes: Any,
    previous_hash: str,
    digest: str,
) -> AuditRecord:
    return AuditRecord(
        id=record_id,
        at=format_at(at),
        actor=actor,
        action=action,
        task_id=None if task_id is None else str(task_id),
        changes=changes,
        previous_hash=previous_hash,
        hash=digest,
    )


def _from_row(row: Any) -> AuditRecord:
    return _record(
        str(row.id),
        row.at,
        row.actor,
        row.action,
        row.task_id,
        json.loads(row.changes),
        row.previous_hash,
        row.hash,
    )


_COLUMNS = (
    entries.c.seq,
    entries.c.id,
    entries.c.at,
    entries.c.actor,
    entries.c.action,
    entries.c.task_id,
    entries.c.changes,
    entries.c.previous_hash,
    entries.c.hash,
)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a user's entries in chain order."""

    records: list[tuple[str, AuditRecord]]
    has_next_page: bool
    total_count: int

    def to_json(self) -> dict[str, Any]:
        """As the internal API carries it."""
        return {
            "edges": [{"cursor": c, "node": r.to_json()} for c, r in self.records],
            "hasNextPage": self.has_next_page,
            "endCursor": self.records[-1][0] if self.records else None,
            "totalCount": self.total_count,
        }


async def page(
    connection: AsyncConnection,
    *,
    user_id: uuid.UUID,
    task_id: uuid.UUID | None = None,
    from_: datetime | None = None,
    to: datetime | None = None,
    first: int = 100,
    after: str | None = None,
) -> Page:
    """The user's entries matching the filters, oldest (first chained) first."""
    conditions = [entries.c.user_id == user_id]
    if task_id is not None:
        conditions.append(entries.c.task_id == task_id)
    if from_ is not None:
        conditions.append(entries.c.at >= from_)
    if to is not None:
        conditions.append(entries.c.at <= to)
    total = await connection.scalar(select(func.count()).select_from(entries).where(*conditions))
    query = select(*_COLUMNS).where(*conditions)
    if after is not None:
        [seq] = decode_typed_cursor(after, ORDERING, [("bigint", False)])
        query = query.where(entries.c.seq > seq)
    rows = (await connection.execute(query.order_by(entries.c.seq).limit(first + 1))).all()
    records = [(encode_cursor(ORDERING, [row.seq]), _from_row(row)) for row in rows[:first]]
    return Page(records=records, has_next_page=len(rows) > first, total_count=int(total or 0))


async def _start(connection: AsyncConnection, user_id: uuid.UUID) -> tuple[int, str]:
    """The position and hash the user's remaining chain follows (newest checkpoint, or 0)."""
    found = (
        await connection.execute(
            select(checkpoints.c.through_seq, checkpoints.c.hash)
            .where(checkpoints.c.user_id == user_id)
            .order_by(checkpoints.c.through_seq.desc())
            .limit(1)
        )
    ).first()
    return (0, GENESIS_HASH) if found is None else (int(found.through_seq), str(found.hash))


async def chain_start(connection: AsyncConnection, user_id: uuid.UUID) -> str:
    """The hash the user's remaining chain follows: the newest checkpoint's, or 64 zeros."""
    return (await _start(connection, user_id))[1]


async def _head(connection: AsyncConnection, user_id: uuid.UUID) -> tuple[int, str]:
    """Where the user's chain ends as appends left it: (0, zeros) before any append."""
    found = (
        await connection.execute(
            select(chain_heads.c.last_seq, chain_heads.c.last_hash).where(
                chain_heads.c.user_id == user_id
            )
        )
    ).first()
    return (0, GENESIS_HASH) if found is None else (int(found.last_seq), str(found.last_hash))


async def records_of(connection: AsyncConnection, user_id: uuid.UUID) -> AsyncIterator[AuditRecord]:
    """Every remaining entry of the user in chain order, read in batches."""
    last_seq = 0
    while True:
        rows = (
            await connection.execute(
                select(*_COLUMNS)
                .where(entries.c.user_id == user_id, entries.c.seq > last_seq)
                .order_by(entries.c.seq)
                .limit(VERIFY_BATCH)
            )
        ).all()
        for row in rows:
            yield _from_row(row)
        if len(rows) < VERIFY_BATCH:
            return
        last_seq = rows[-1].seq


async def verify(engine: AsyncEngine, user_id: uuid.UUID) -> Verification:
    """Recompute the user's whole remaining chain from its checkpoint (or from zeros).

    The recomputed chain must also end at the user's chain head (last seq and hash, moved by
    every append and never by retention): the chain alone cannot show that its newest entries
    were removed. One snapshot for the head, the checkpoint and every batch, so appends and
    retention running meanwhile cannot make a sound chain look broken.
    """
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            head_seq, head_hash = await _head(connection, user_id)
            start_seq, start_hash = await _start(connection, user_id)
            check = ChainCheck(start_hash)
            async for record in records_of(connection, user_id):
                if not check.feed(record):
                    break
            check.end_at(head_hash, head_seq=head_seq, start_seq=start_seq)
    return check.result


async def apply_retention(engine: AsyncEngine, *, now: datetime, keep: timedelta) -> int:
    """Remove, per user, the longest prefix of entries older than `keep`; record checkpoints.

    Returns how many entries were removed. A prefix stops at the first entry that is still
    within the period, so a chain is never cut in the middle.
    """
    cutoff = now - keep
    async with engine.connect() as connection:
        users = (
            await connection.scalars(
                select(entries.c.user_id).where(entries.c.at < cutoff).distinct()
            )
        ).all()
    removed = 0
    for user_id in users:
        removed += await _retain_user(engine, user_id, cutoff)
    if removed:
        log.info("audit retention removed entries", extra={"removed": removed})
    return removed


async def _retain_user(engine: AsyncEngine, user_id: uuid.UUID, cutoff: datetime) -> int:
    async with engine.begin() as connection:
        # The head's lock keeps appends and other replicas' retention out meanwhile.
        await connection.execute(
            select(chain_heads.c.user_id).where(chain_heads.c.user_id == user_id).with_for_update()
        )
        boundary = await connection.scalar(
            select(func.min(entries.c.seq)).where(
                entries.c.user_id == user_id, entries.c.at >= cutoff
            )
        )
        last_query = select(entries.c.seq, entries.c.hash).where(entries.c.user_id == user_id)
        if boundary is not None:
            last_query = last_query.where(entries.c.seq < boundary)
        last = (
            await connection.execute(last_query.order_by(entries.c.seq.desc()).limit(1))
        ).first()
        if last is None:
            return 0
        await connection.execute(text("SET LOCAL taskstream.audit_retention = 'on'"))
        result = await connection.execute(
            entries.delete().where(entries.c.user_id == user_id, entries.c.seq <= last.seq)
        )
        await connection.execute(
            insert(checkpoints).values(
                user_id=user_id,
                through_seq=last.seq,
                hash=last.hash,
                removed=result.rowcount,
                oldest_kept_after=cutoff,
            )
        )
        return int(result.rowcount)
