"""Gateway: each member's own order of their projects (the sidebar).

Revision ID: gateway_0011
Revises: gateway_0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0011"
down_revision = "gateway_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Give memberships a position in their member's project order.

    Null until the member first orders their projects (then `projects` lists them by name,
    as before): existing data needs no rewrite. A membership added later stays null, so a
    new project shows after the ones the member ordered.
    """
    op.execute('ALTER TABLE gateway.project_members ADD COLUMN sidebar_position text COLLATE "C"')
    # One member never has two projects at one position: the guard behind the user's lock
    # that moveProject takes.
    op.execute(
        "CREATE UNIQUE INDEX project_members_sidebar ON gateway.project_members "
        "(user_id, sidebar_position) WHERE sidebar_position IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the members' project order."""
    op.execute("DROP INDEX gateway.project_members_sidebar")
    op.execute("ALTER TABLE gateway.project_members DROP COLUMN sidebar_position")
