"""Gateway: each project's tasks in the default list order (a member's page per project).

Revision ID: gateway_0013
Revises: gateway_0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0013"
down_revision = "gateway_0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index project tasks in the default list order (due date, undated last; created; id).

    A member's list reads the first page of each of their projects (reads.page_statement) and
    merges them; this index gives each project's page in order, so a page stops after its size
    instead of sorting every task of the member's projects (the personal space has had the same
    order since the start: tasks_user_due).
    """
    op.execute(
        "CREATE INDEX tasks_project_page_due ON gateway.tasks "
        "(project_id, coalesce(due_at, 'infinity'::timestamptz), created_at, id) "
        "WHERE project_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the project tasks' default-order index."""
    op.execute("DROP INDEX gateway.tasks_project_page_due")
