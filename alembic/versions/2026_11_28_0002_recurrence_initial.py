"""Recurrence schema: the consumer's processed-events record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = ("recurrence",)
depends_on = None


def upgrade() -> None:
    """Create the recurrence schema."""
    op.execute("CREATE SCHEMA IF NOT EXISTS recurrence")
    op.execute(
        """
        CREATE TABLE recurrence.processed_events (
            consumer text NOT NULL,
            event_id text NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )
        """
    )


def downgrade() -> None:
    """Drop the recurrence schema."""
    op.execute("DROP SCHEMA recurrence CASCADE")
