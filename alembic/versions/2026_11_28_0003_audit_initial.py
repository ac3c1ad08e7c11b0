"""Audit schema: the append-only trail, chain heads, retention checkpoints, processed events.

Entries cannot be updated at all, and deleted only by the retention policy, which says so with
`SET LOCAL taskstream.audit_retention = 'on'` in its own transaction: the database itself
keeps the trail append-only, whatever code or person connects to it.

Revision ID: audit_0001
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "audit_0001"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    """Create the audit schema."""
    op.execute("CREATE SCHEMA IF NOT EXISTS audit")
    op.execute(
        """
        CREATE TABLE audit.processed_events (
            consumer text NOT NULL,
            event_id text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE audit.chain_heads (
            user_id uuid PRIMARY KEY,
            last_seq bigint NOT NULL DEFAULT 0,
            last_hash text NOT NULL DEFAULT repeat('0', 64)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE audit.entries (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL,
            seq bigint NOT NULL,
            event_id text NOT NULL UNIQUE,
            at timestamptz NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            task_id uuid,
            changes text NOT NULL,
            previous_hash text NOT NULL,
            hash text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (user_id, seq)
        )
        """
    )
    op.execute("CREATE INDEX entries_user_at ON audit.entries (user_id, at)")
    op.execute("CREATE INDEX entries_user_task ON audit.entries (user_id, task_id, seq)")
    op.execute(
        """
        CREATE TABLE audit.checkpoints (
            user_id uuid NOT NULL,
            through_seq bigint NOT NULL,
            hash text NOT NULL,
            removed integer NOT NULL,
            oldest_kept_after timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, through_seq)
        )
        """
    )
    op.execute(
        """
        CREATE FUNCTION audit.refuse_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE'
               AND coalesce(current_setting('taskstream.audit_retention', true), '') = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
        FOR EACH ROW EXECUTE FUNCTION audit.refuse_changes()
        """
    )
    op.execute(
        """
        CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
        FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_changes()
        """
    )


def downgrade() -> None:
    """Drop the audit schema."""
    op.execute("DROP SCHEMA audit CASCADE")
