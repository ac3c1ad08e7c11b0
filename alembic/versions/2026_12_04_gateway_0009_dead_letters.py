"""Gateway: `up`'s dead letters kept in PostgreSQL (the in-process bus has no topic to keep them).

Revision ID: gateway_0009
Revises: gateway_0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0009"
down_revision = "gateway_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create gateway.dead_letters (taskstream/persistence/dead_letters.py)."""
    op.execute(
        """
        CREATE TABLE gateway.dead_letters (
            position bigserial PRIMARY KEY,
            topic text NOT NULL,
            key text NOT NULL,
            event_id text,
            dead_group text,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            replayed_at timestamptz
        )
        """
    )
    # One row per event, topic and group that gave up: a redelivered failure is not doubled
    # (one that fails again after a replay is pending again).
    op.execute(
        "CREATE UNIQUE INDEX dead_letters_once "
        "ON gateway.dead_letters (topic, dead_group, event_id)"
    )


def downgrade() -> None:
    """Drop it (its dead letters with it: replay or export them first)."""
    op.execute("DROP TABLE gateway.dead_letters")
