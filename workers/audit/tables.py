"""The audit service's own tables (schema `audit`); see the audit migration for the triggers."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from taskstream.messaging.consumer import processed_events_table

metadata = MetaData(schema="audit")
processed_events = processed_events_table(metadata)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("last_hash", Text, nullable=False),
    # The digest of the user's newest checkpoint (64 zeros before any), and the audit key's
    # signature of the head (null only for heads kept before signatures, until sealed).
    Column("last_checkpoint", Text, nullable=False),
    Column("signature", Text),
)

entries = Table(
    "entries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", Text, nullable=False, unique=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("task_id", UUID(as_uuid=True)),
    # The canonical JSON text, kept verbatim so the hashed bytes can always be reproduced.
    Column("changes", Text, nullable=False),
    Column("previous_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The shared project the change happened in (not hashed); see the audit_0004 migration.
    Column("project_id", UUID(as_uuid=True)),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("through_seq", BigInteger, primary_key=True),
    Column("hash", Text, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("oldest_kept_after", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The checkpoint chain (see workers.audit.domain.Checkpoint).
    Column("number", Integer, nullable=False),
    Column("from_seq", BigInteger, nullable=False),
    Column("newest_at", DateTime(timezone=True)),
    Column("previous_checkpoint", Text),
    Column("digest", Text),
    Column("signature", Text),
)

# One row once the chains kept before signatures were signed (see trail.seal_legacy).
seals = Table(
    "seals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("signature", Text, nullable=False),
    Column("sealed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
