"""Notifications: the outbox keeps the W3C trace context of the change that wrote each row.

Revision ID: notifications_0003
Revises: notifications_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "notifications_0003"
down_revision = "notifications_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add outbox.traceparent (null: written without tracing, or before this migration)."""
    op.execute("ALTER TABLE notifications.outbox ADD COLUMN traceparent text")


def downgrade() -> None:
    """Drop it (published events lose nothing: the column is only read by the relay)."""
    op.execute("ALTER TABLE notifications.outbox DROP COLUMN traceparent")
