"""Web Push: the browsers' push subscriptions, and the PUSH channel's deliveries.

`push_subscriptions`: one row per browser an account subscribed (RFC 8030 endpoint, RFC 8291
p256dh and auth keys), unique by endpoint: a browser that subscribes again replaces its keys.
`deliveries.subscription_id`: a PUSH delivery's subscription, as `webhook_id` is a WEBHOOK
delivery's; the uniqueness of a firing's deliveries covers it.

Revision ID: notifications_0006
Revises: notifications_0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "notifications_0006"
down_revision = "notifications_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the table, the column, and PUSH to the channels a delivery may have."""
    op.execute(
        """
        CREATE TABLE notifications.push_subscriptions (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL,
            endpoint text NOT NULL UNIQUE,
            p256dh text NOT NULL,
            auth text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        "CREATE INDEX push_subscriptions_user ON notifications.push_subscriptions "
        "(user_id, created_at)"
    )
    op.execute("ALTER TABLE notifications.deliveries ADD COLUMN subscription_id uuid")
    op.execute("ALTER TABLE notifications.deliveries DROP CONSTRAINT deliveries_channel_check")
    op.execute(
        "ALTER TABLE notifications.deliveries ADD CONSTRAINT deliveries_channel_check "
        "CHECK (channel IN ('IN_APP', 'EMAIL', 'WEBHOOK', 'PUSH'))"
    )
    op.execute(
        "ALTER TABLE notifications.deliveries "
        "DROP CONSTRAINT deliveries_reminder_id_generation_channel_webhook_id_key"
    )
    op.execute(
        "ALTER TABLE notifications.deliveries ADD CONSTRAINT deliveries_one_per_target "
        "UNIQUE NULLS NOT DISTINCT (reminder_id, generation, channel, webhook_id, subscription_id)"
    )


def downgrade() -> None:
    """Drop PUSH deliveries (they cannot be told apart without the column), then the rest."""
    op.execute("DELETE FROM notifications.deliveries WHERE channel = 'PUSH'")
    op.execute("ALTER TABLE notifications.deliveries DROP CONSTRAINT deliveries_one_per_target")
    op.execute(
        "ALTER TABLE notifications.deliveries ADD CONSTRAINT "
        "deliveries_reminder_id_generation_channel_webhook_id_key "
        "UNIQUE NULLS NOT DISTINCT (reminder_id, generation, channel, webhook_id)"
    )
    op.execute("ALTER TABLE notifications.deliveries DROP CONSTRAINT deliveries_channel_check")
    op.execute(
        "ALTER TABLE notifications.deliveries ADD CONSTRAINT deliveries_channel_check "
        "CHECK (channel IN ('IN_APP', 'EMAIL', 'WEBHOOK'))"
    )
    op.execute("ALTER TABLE notifications.deliveries DROP COLUMN subscription_id")
    op.execute("DROP TABLE notifications.push_subscriptions")
