"""Invitation notices: the email (and the in-app notification for an invitee with an account)
each invitation to a shared project gets, sent and retried like a reminder's deliveries.

One row per invitation and channel, so a redelivered event never makes a second one. The
invited address is not kept: it is asked of the gateway when the email is sent.

Revision ID: notifications_0004
Revises: notifications_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "notifications_0004"
down_revision = "notifications_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the table and the index the sender claims by."""
    op.execute(
        """
        CREATE TABLE notifications.invitation_notices (
            invitation_id uuid NOT NULL,
            channel text NOT NULL,
            event_id text NOT NULL,
            project_id uuid NOT NULL,
            user_id uuid,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_error text,
            notification_id uuid,
            sent_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (invitation_id, channel)
        )
        """
    )
    op.execute(
        "CREATE INDEX invitation_notices_due ON notifications.invitation_notices "
        "(next_attempt_at) WHERE state IN ('PENDING', 'SENDING')"
    )


def downgrade() -> None:
    """Drop the table."""
    op.execute("DROP TABLE notifications.invitation_notices")
