"""The audit trail in PostgreSQL: append, read a page, verify, and apply retention.

Appends for one user are serialised by a row lock on the user's chain head, so any number of
audit replicas and concurrent deliveries extend each chain one entry at a time, in order. A
batch of events is appended with one head read per user and one multi-row insert.

Heads and retention checkpoints are signed with the audit key (`signing_key`), which the
database does not hold; the triggers of the audit migrations refuse what the code never does
(moving a head back, deleting entries outside retention, out-of-sequence checkpoints).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from taskstream.persistence.cursors import decode_typed_cursor, encode_cursor
from workers.audit.domain import (
    GENESIS_HASH,
    HEAD_CONTEXT,
    SEAL_CONTEXT,
    AuditRecord,
    ChainCheck,
    ChainStart,
    Checkpoint,
    Head,
    Verification,
    canonical_changes_text,
    check_checkpoints,
    checkpoint_signature,
    entry_hash_of_text,
    format_at,
    head_signature,
    sign,
    signed_by,
)
from workers.audit.tables import chain_heads, checkpoints, entries, seals

log = logging.getLogger(__name__)

ORDERING = "audit:seq"
# Entry ids derive from the event id: the same event always names the same entry.
ENTRY_NAMESPACE = uuid.UUID("6f1d3c52-8a8e-4e0b-9a57-5f0b7c3e2a10")
# A project's chain is kept under an id derived from the project's: every table, trigger,
# signature and retention rule of the personal chains applies to it unchanged, and no user
# id (random) can ever name it.
PROJECT_CHAIN_NAMESPACE = uuid.UUID("0b6f5d2e-3c1a-4f7e-9d84-2a61c5e7b3f9")
# What follows an event id to name the entry of a project's chain recording that event (the
# personal entry of the same event keeps the bare event id).
PROJECT_EVENT_SUFFIX = "#project"
VERIFY_BATCH = 1000
# From this many entries on, an append COPYs them rather than INSERTing them.
COPY_FROM = 16


def entry_id(event_id: str) -> uuid.UUID:
    """The id of the entry recording this event."""
    return uuid.uuid5(ENTRY_NAMESPACE, event_id)


def project_chain(project_id: uuid.UUID) -> uuid.UUID:
    """The chain id under which a project's trail is kept (in the tables' `user_id`)."""
    return uuid.uuid5(PROJECT_CHAIN_NAMESPACE, str(project_id))


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
    # The shared project the change happened in; None in the personal space.
    project_id: uuid.UUID | None = None


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
    "project_id",
)
_NEW_HEADS = text(
    "INSERT INTO audit.chain_heads (user_id, last_seq, last_hash) "
    "SELECT unnest(CAST(:users AS uuid[])), 0, :genesis ON CONFLICT DO NOTHING"
)
_LOCK_HEADS = text(
    "SELECT user_id, last_seq, last_hash, last_checkpoint FROM audit.chain_heads "
    "WHERE user_id = ANY(CAST(:users AS uuid[])) ORDER BY user_id FOR UPDATE"
)
_MOVE_HEADS = text(
    "UPDATE audit.chain_heads AS h SET last_seq = v.seq, last_hash = v.hash, "
    "signature = v.signature "
    "FROM unnest(CAST(:users AS uuid[]), CAST(:seqs AS bigint[]), CAST(:hashes AS text[]), "
    "CAST(:signatures AS text[])) AS v(user_id, seq, hash, signature) "
    "WHERE h.user_id = v.user_id"
)


async def append_many(connection: AsyncConnection, new: Sequence[NewEntry], *, key: bytes) -> None:
    """Chain entries to their users' trails, in the given order, in the caller's transaction.

    Four statements whatever the number of entries and users: create missing heads, lock and
    read every head (in user id order, so concurrent batches never wait on each other in a
    cycle), COPY the entries, move the heads. The chain is the same as appending one by one.
    """
    users = sorted({entry.user_id for entry in new})
    await connection.execute(_NEW_HEADS, {"users": users, "genesis": GENESIS_HASH})
    rows = (await connection.execute(_LOCK_HEADS, {"users": users})).all()
    heads: dict[uuid.UUID, tuple[int, str]] = {
        row.user_id: (row.last_seq, row.last_hash) for row in rows
    }
    last_checkpoints = {row.user_id: str(row.last_checkpoint) for row in rows}
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
                entry.project_id,
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
            # The signature also covers the newest checkpoint, which appends leave as it is.
            "signatures": [
                head_signature(
                    key,
                    user_id=str(user),
                    seq=seq,
                    hash=digest,
                    checkpoint=last_checkpoints[user],
                )
                for user, (seq, digest) in heads.items()
            ],
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
    record = _record(
        str(row.id),
        row.at,
        row.actor,
        row.action,
        row.task_id,
        json.loads(row.changes),
        row.previous_hash,
        row.hash,
    )
    project = getattr(row, "project_id", None)
    return record if project is None else replace(record, project_id=str(project))


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
    entries.c.project_id,
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


def signing_key(*, audit_key: str | None, jwt_secret: str | None) -> bytes:
    """The key heads and checkpoints are signed with: the audit key, else one derived from the
    JWT signing key (both secrets the database never holds)."""
    if audit_key:
        return audit_key.encode("utf-8")
    if jwt_secret:
        # A separate key per purpose: a signature can never pass for a token's, or back.
        return hashlib.sha256(b"taskstream audit signing key\n" + jwt_secret.encode()).digest()
    raise ValueError("no audit signing key: set TASKSTREAM_AUDIT_KEY (or TASKSTREAM_JWT_SECRET)")


def _checkpoint_of(row: Any) -> Checkpoint:
    return Checkpoint(
        number=int(row.number),
        from_seq=int(row.from_seq),
        through_seq=int(row.through_seq),
        hash=str(row.hash),
        removed=int(row.removed),
        newest_at=row.newest_at,
        cutoff=row.oldest_kept_after,
        created_at=row.created_at,
        previous=GENESIS_HASH if row.previous_checkpoint is None else str(row.previous_checkpoint),
        digest=row.digest,
        signature=row.signature,
    )


async def checkpoints_of(connection: AsyncConnection, user_id: uuid.UUID) -> list[Checkpoint]:
    """The user's retention checkpoints, in number order."""
    rows = await connection.execute(
        select(checkpoints)
        .where(checkpoints.c.user_id == user_id)
        .order_by(checkpoints.c.number, checkpoints.c.through_seq)
    )
    return [_checkpoint_of(row) for row in rows]


async def head_of(connection: AsyncConnection, user_id: uuid.UUID) -> Head | None:
    """The user's stored chain head, None before their first entry."""
    found = (
        await connection.execute(select(chain_heads).where(chain_heads.c.user_id == user_id))
    ).first()
    if found is None:
        return None
    return Head(
        seq=int(found.last_seq),
        hash=str(found.last_hash),
        checkpoint=str(found.last_checkpoint),
        signature=found.signature,
    )


async def chain_start(connection: AsyncConnection, user_id: uuid.UUID) -> str:
    """The hash the user's remaining chain follows: the newest checkpoint's, or 64 zeros."""
    found = await connection.scalar(
        select(checkpoints.c.hash)
        .where(checkpoints.c.user_id == user_id)
        .order_by(checkpoints.c.through_seq.desc())
        .limit(1)
    )
    return GENESIS_HASH if found is None else str(found)


async def records_of(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    *,
    after_seq: int = 0,
    through_seq: int | None = None,
) -> AsyncIterator[AuditRecord]:
    """The user's remaining entries in chain order (after and through the seqs), in batches."""
    last_seq = after_seq
    while True:
        query = select(*_COLUMNS).where(entries.c.user_id == user_id, entries.c.seq > last_seq)
        if through_seq is not None:
            query = query.where(entries.c.seq <= through_seq)
        rows = (await connection.execute(query.order_by(entries.c.seq).limit(VERIFY_BATCH))).all()
        for row in rows:
            yield _from_row(row)
        if len(rows) < VERIFY_BATCH:
            return
        last_seq = rows[-1].seq


def _check_head(
    check: ChainCheck, head: Head | None, start: ChainStart, user_id: str, key: bytes
) -> None:
    """Compare the recomputed chain with the signed head it must end at."""
    if head is None:
        if start.seq > 0 or check.result.checked > 0:
            check.fail("the chain has no head (it was removed)")
        else:
            check.end_at(GENESIS_HASH, head_seq=0, start_seq=0)
        return
    if not signed_by(key, head.signature, HEAD_CONTEXT, head.fields(user_id)):
        check.fail("the chain's head is not signed with the audit key (the head was altered)")
        return
    if head.checkpoint != start.checkpoint:
        check.fail(
            "the newest checkpoint is not the one the head names (checkpoints removed or added)"
        )
        return
    check.end_at(head.hash, head_seq=head.seq, start_seq=start.seq)


async def verify(
    engine: AsyncEngine, user_id: uuid.UUID, *, key: bytes, retention: timedelta
) -> Verification:
    """Recompute the user's whole remaining chain from its checkpoints (or from zeros).

    The checkpoints must form their own signed chain, each having removed only entries past
    the `retention` period at its time; the entries must chain from the newest one; and the
    recomputed chain must end at the user's signed chain head (last seq and hash, moved by
    every append, and the newest checkpoint): the chain alone cannot show that its newest
    entries were removed. One snapshot for all of it, so appends and retention running
    meanwhile cannot make a sound chain look broken.
    """
    name = str(user_id)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            head = await head_of(connection, user_id)
            start = check_checkpoints(
                name, await checkpoints_of(connection, user_id), key=key, retention=retention
            )
            if isinstance(start, str):
                check = ChainCheck()
                check.fail(start)
                return check.result
            check = ChainCheck(start.hash)
            async for record in records_of(connection, user_id, after_seq=start.seq):
                if not check.feed(record):
                    break
            _check_head(check, head, start, name, key)
    return check.result


async def apply_retention(
    engine: AsyncEngine, *, now: datetime, keep: timedelta, key: bytes
) -> int:
    """Remove, per user, the longest prefix of entries older than `keep`; record checkpoints.

    Returns how many entries were removed. A prefix stops at the first entry that is still
    within the period, so a chain is never cut in the middle. A user whose prefix, checkpoints
    or head do not verify keeps everything (logged): retention must not launder tampering.
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
        removed += await _retain_user(engine, user_id, now=now, cutoff=cutoff, key=key)
    if removed:
        log.info("audit retention removed entries", extra={"removed": removed})
    return removed


async def _retain_user(
    engine: AsyncEngine, user_id: uuid.UUID, *, now: datetime, cutoff: datetime, key: bytes
) -> int:
    name = str(user_id)
    async with engine.begin() as connection:
        # The head's lock keeps appends and other replicas' retention out meanwhile.
        await connection.execute(
            select(chain_heads.c.user_id).where(chain_heads.c.user_id == user_id).with_for_update()
        )
        head = await head_of(connection, user_id)
        # Retention checks what it is about to vouch for with the key, as verification would
        # with any period (the period of these checkpoints is checked when verifying).
        kept = await checkpoints_of(connection, user_id)
        start = check_checkpoints(name, kept, key=key, retention=timedelta(0))
        if head is None or isinstance(start, str) or head.checkpoint != start.checkpoint:
            log.error(
                "audit retention skipped a user whose checkpoints or head do not verify",
                extra={"user_id": name, "reason": start if isinstance(start, str) else "head"},
            )
            return 0
        if not signed_by(key, head.signature, HEAD_CONTEXT, head.fields(name)):
            log.error(
                "audit retention skipped a user whose head is not signed", extra={"user_id": name}
            )
            return 0
        boundary = await connection.scalar(
            select(func.min(entries.c.seq)).where(
                entries.c.user_id == user_id, entries.c.at >= cutoff
            )
        )
        last_query = select(entries.c.seq).where(entries.c.user_id == user_id)
        if boundary is not None:
            last_query = last_query.where(entries.c.seq < boundary)
        last_seq = await connection.scalar(last_query.order_by(entries.c.seq.desc()).limit(1))
        if last_seq is None:
            return 0
        check = ChainCheck(start.hash)
        newest: datetime | None = None
        async for record in records_of(
            connection, user_id, after_seq=start.seq, through_seq=int(last_seq)
        ):
            if not check.feed(record):
                break
            at = datetime.fromisoformat(record.at)
            newest = at if newest is None or at > newest else newest
        result = check.result
        if not result.ok or result.checked != int(last_seq) - start.seq or newest is None:
            log.error(
                "audit retention skipped a user whose chain does not verify",
                extra={"user_id": name, "reason": result.reason or "entries missing"},
            )
            return 0
        checkpoint = Checkpoint(
            number=len(kept) + 1,
            from_seq=start.seq + 1,
            through_seq=int(last_seq),
            hash=check.last_hash,
            removed=result.checked,
            newest_at=newest,
            cutoff=cutoff,
            created_at=now,
            previous=start.checkpoint,
            digest=None,
            signature=None,
        )
        digest = checkpoint.expected_digest(name)
        # The checkpoint goes in first: the entries' trigger deletes only what one covers.
        await connection.execute(
            insert(checkpoints).values(
                user_id=user_id,
                number=checkpoint.number,
                from_seq=checkpoint.from_seq,
                through_seq=checkpoint.through_seq,
                hash=checkpoint.hash,
                removed=checkpoint.removed,
                newest_at=checkpoint.newest_at,
                oldest_kept_after=cutoff,
                created_at=now,
                previous_checkpoint=checkpoint.previous,
                digest=digest,
                signature=checkpoint_signature(key, user_id=name, digest=digest),
            )
        )
        deleted = await connection.execute(
            entries.delete().where(entries.c.user_id == user_id, entries.c.seq <= last_seq)
        )
        await connection.execute(
            chain_heads.update()
            .where(chain_heads.c.user_id == user_id)
            .values(
                last_checkpoint=digest,
                signature=head_signature(
                    key, user_id=name, seq=head.seq, hash=head.hash, checkpoint=digest
                ),
            )
        )
        return int(deleted.rowcount)


async def erase_user(connection: AsyncConnection, user_id: uuid.UUID) -> None:
    """Remove a user's whole trail (entries, checkpoints, head), for the deletion of the account.

    The one other way past the triggers: the transaction names the user it erases.
    """
    await connection.execute(
        text("SELECT set_config('taskstream.audit_erase', :user, true)"), {"user": str(user_id)}
    )
    await connection.execute(entries.delete().where(entries.c.user_id == user_id))
    await connection.execute(checkpoints.delete().where(checkpoints.c.user_id == user_id))
    await connection.execute(chain_heads.delete().where(chain_heads.c.user_id == user_id))


_SEAL = {"sealed": True}


async def seal_legacy(engine: AsyncEngine, *, key: bytes) -> int:
    """Sign the heads and checkpoints kept before signatures existed; once per database.

    The audit migration that added signatures leaves them unsigned; the first audit service to
    start with a key signs them as found and records the seal, after which an unsigned head or
    checkpoint is never signed again (it can only be a forgery). Returns how many were signed.
    """
    async with engine.begin() as connection:
        await connection.execute(text("LOCK TABLE audit.seals IN EXCLUSIVE MODE"))
        sealed = await connection.scalar(select(seals.c.signature).where(seals.c.id == 1))
        if sealed is not None:
            if not signed_by(key, sealed, SEAL_CONTEXT, _SEAL):
                log.error("the audit seal is not signed with this audit key (another key?)")
            return 0
        rows = (
            await connection.execute(
                select(checkpoints)
                .where(checkpoints.c.signature.is_(None))
                .order_by(checkpoints.c.user_id, checkpoints.c.number)
            )
        ).all()
        newest: dict[uuid.UUID, str] = {}
        for row in rows:
            user_id = row.user_id
            previous = newest.get(user_id)
            if previous is None:
                previous = (
                    await connection.scalar(
                        select(checkpoints.c.digest)
                        .where(checkpoints.c.user_id == user_id, checkpoints.c.number < row.number)
                        .order_by(checkpoints.c.number.desc())
                        .limit(1)
                    )
                    or GENESIS_HASH
                )
            found = _checkpoint_of(row)
            checkpoint = replace(found, previous=previous, digest=None, signature=None)
            digest = checkpoint.expected_digest(str(user_id))
            await connection.execute(
                checkpoints.update()
                .where(checkpoints.c.user_id == user_id, checkpoints.c.number == row.number)
                .values(
                    previous_checkpoint=previous,
                    digest=digest,
                    signature=checkpoint_signature(key, user_id=str(user_id), digest=digest),
                )
            )
            newest[user_id] = digest
        heads = (
            await connection.execute(select(chain_heads).where(chain_heads.c.signature.is_(None)))
        ).all()
        for row in heads:
            name = str(row.user_id)
            last = (
                await connection.scalar(
                    select(checkpoints.c.digest)
                    .where(checkpoints.c.user_id == row.user_id)
                    .order_by(checkpoints.c.number.desc())
                    .limit(1)
                )
                or GENESIS_HASH
            )
            await connection.execute(
                chain_heads.update()
                .where(chain_heads.c.user_id == row.user_id)
                .values(
                    last_checkpoint=last,
                    signature=head_signature(
                        key,
                        user_id=name,
                        seq=int(row.last_seq),
                        hash=row.last_hash,
                        checkpoint=last,
                    ),
                )
            )
        await connection.execute(
            insert(seals).values(id=1, signature=sign(key, SEAL_CONTEXT, _SEAL))
        )
    if rows or heads:
        # Expected once, right after the upgrade that added signatures; at any other time it
        # signed rows someone left unsigned after removing the seal.
        log.warning("audit chains sealed", extra={"checkpoints": len(rows), "heads": len(heads)})
    return len(rows) + len(heads)
