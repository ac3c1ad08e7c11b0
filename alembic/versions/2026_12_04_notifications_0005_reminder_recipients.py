"""Reminder recipients: a project task's reminders reach its assignee (else its owner).

`schedule.recipient_id` is who the deliveries go to; `user_id` stays the task's owner, under
whom outcomes are reported to the gateway. Existing rows keep reaching their owner.

`assignment_notices`: the email of an "assigned to you" notice (when email is on), one row per
(event, recipient), sent and retried like a reminder's deliveries; its id is the in-app
notification's. The address is not kept: it is asked of the gateway when the email is sent.

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
    op.execute(
        """
        CREATE TABLE notifications.assignment_notices (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL,
            task_id uuid NOT NULL,
            task_title text NOT NULL,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_error text,
            sent_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX assignment_notices_due ON notifications.assignment_notices "
        "(next_attempt_at) WHERE state IN ('PENDING', 'SENDING')"
    )
    op.execute("CREATE INDEX assignment_notices_user ON notifications.assignment_notices (user_id)")


def downgrade() -> None:
    """Drop the table, the column (and its index)."""
    op.execute("DROP TABLE notifications.assignment_notices")
    op.execute("ALTER TABLE notifications.schedule DROP COLUMN recipient_id")
