"""Reminder recipients: a project task's reminders reach its assignee (else its owner).

`schedule.recipient_id` is who the deliveries go to; `user_id` stays the task's owner, under
whom outcomes are reported to the gateway. Existing rows keep reaching their owner.

Revision ID: notifications_0005
Revises: notifications_0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "notifications_0005"
down_revision = "notifications_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column (filled with the owner) and the index erasure looks rows up by."""
    op.execute("ALTER TABLE notifications.schedule ADD COLUMN recipient_id uuid")
    op.execute("UPDATE notifications.schedule SET recipient_id = user_id")
    op.execute("ALTER TABLE notifications.schedule ALTER COLUMN recipient_id SET NOT NULL")
    op.execute(
        "CREATE INDEX schedule_recipient ON notifications.schedule (recipient_id) "
        "WHERE recipient_id <> user_id"
    )


def downgrade() -> None:
    """Drop the column (and its index)."""
    op.execute("ALTER TABLE notifications.schedule DROP COLUMN recipient_id")
