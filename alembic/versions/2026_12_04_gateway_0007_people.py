"""Gateway: task assignees and saved filters.

Revision ID: gateway_0007
Revises: gateway_0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0007"
# gateway_0006 (sections, subtasks, positions) lands in parallel: the lead rechains at merge.
down_revision = "gateway_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add tasks.assignee_id and gateway.saved_filters.

    Every existing task gets a null assignee: nothing changes for existing data or clients.
    """
    # ON DELETE SET NULL is a backstop only: deleteAccount unassigns with events first.
    op.execute(
        "ALTER TABLE gateway.tasks ADD COLUMN assignee_id uuid "
        "REFERENCES gateway.users (id) ON DELETE SET NULL"
    )
    # assignedToMe / assigneeId filters, and unassigning a member who leaves a project.
    op.execute(
        "CREATE INDEX tasks_assignee ON gateway.tasks (assignee_id, project_id) "
        "WHERE assignee_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE gateway.saved_filters (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            name text NOT NULL,
            name_key text NOT NULL,
            filter jsonb NOT NULL,
            order_by jsonb,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            CONSTRAINT saved_filters_user_name UNIQUE (user_id, name_key)
        )
        """
    )


def downgrade() -> None:
    """Drop the saved filters and the assignees."""
    op.execute("DROP TABLE gateway.saved_filters")
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN assignee_id")
