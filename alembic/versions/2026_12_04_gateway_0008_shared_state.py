"""Gateway: shared state (rate-limit buckets, persisted documents, idempotency keys).

Revision ID: gateway_0008
Revises: gateway_0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0008"
down_revision = "gateway_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create gateway.shared_state: what every replica must see alike when no Dapr state store
    is configured (taskstream/sharedstate.py, PostgresState)."""
    op.execute(
        """
        CREATE TABLE gateway.shared_state (
            key text PRIMARY KEY,
            value jsonb NOT NULL,
            etag uuid NOT NULL,
            expires_at timestamptz
        )
        """
    )
    # The writer's pruning finds expired rows without reading the live ones.
    op.execute(
        "CREATE INDEX shared_state_expires ON gateway.shared_state (expires_at) "
        "WHERE expires_at IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the shared state (limits, persisted documents and idempotency keys start afresh)."""
    op.execute("DROP TABLE gateway.shared_state")
