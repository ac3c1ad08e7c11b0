"""Index audit.processed_events by processed_at, to prune old ids quickly.

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the index (see docs/operations.md, "Pruning of processed events")."""
    op.create_index(
        "processed_events_processed_at", "processed_events", ["processed_at"], schema="audit"
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("processed_events_processed_at", "processed_events", schema="audit")
