"""Project chains: entries name the shared project their change happened in.

A project's chain is kept in the same tables as the personal ones, under a chain id derived
from the project id (`workers.audit.trail.project_chain`), so appends, heads, checkpoints,
retention and the triggers apply to it unchanged. `project_id` is not hashed: it says which
project an entry of a personal chain was about, and is the project itself on a project's chain.

Revision ID: audit_0004
Revises: audit_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "audit_0004"
down_revision = "audit_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column (null for every entry kept before projects)."""
    op.execute("ALTER TABLE audit.entries ADD COLUMN project_id uuid")


def downgrade() -> None:
    """Drop the column."""
    op.execute("ALTER TABLE audit.entries DROP COLUMN project_id")
