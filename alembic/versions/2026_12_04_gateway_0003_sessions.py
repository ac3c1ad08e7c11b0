"""Gateway: revocable sessions (a per-user token generation and revoked token ids).

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add users.session_generation and gateway.revoked_tokens."""
    # Tokens carry the generation they were issued in (tokens without one are generation 0, so
    # tokens issued before this migration stay valid); logOutEverywhere bumps it.
    op.execute("ALTER TABLE gateway.users ADD COLUMN session_generation integer NOT NULL DEFAULT 0")
    # One row per token revoked by logOut, kept until the token would have expired anyway.
    op.execute(
        """
        CREATE TABLE gateway.revoked_tokens (
            jti text PRIMARY KEY,
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX revoked_tokens_user ON gateway.revoked_tokens (user_id, expires_at)")
    op.execute("CREATE INDEX revoked_tokens_expiry ON gateway.revoked_tokens (expires_at)")


def downgrade() -> None:
    """Drop the revocation state (every revoked token becomes valid again until it expires)."""
    op.execute("DROP TABLE gateway.revoked_tokens")
    op.execute("ALTER TABLE gateway.users DROP COLUMN session_generation")
