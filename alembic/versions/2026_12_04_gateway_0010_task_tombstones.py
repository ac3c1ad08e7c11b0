"""Gateway: tombstones of deleted tasks, restorable for a bounded window (restoreTask).

Revision ID: gateway_0010
Revises: gateway_0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0010"
down_revision = "gateway_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create gateway.task_tombstones (gateway_core/persistence/tombstones.py)."""
    # A table of its own rather than a deleted_at column on tasks: no read of tasks has to
    # learn to skip deleted rows, so none can forget to. One row per deleted task; `root_id`
    # is the task the user deleted (its subtasks went with it and come back with it).
    op.execute(
        """
        CREATE TABLE gateway.task_tombstones (
            task_id uuid PRIMARY KEY,
            root_id uuid NOT NULL,
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            project_id uuid,
            depth integer NOT NULL,
            deleted_at timestamptz NOT NULL,
            snapshot jsonb NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX task_tombstones_root ON gateway.task_tombstones (root_id)")
    op.execute("CREATE INDEX task_tombstones_deleted_at ON gateway.task_tombstones (deleted_at)")


def downgrade() -> None:
    """Drop it (deleted tasks are no longer restorable)."""
    op.execute("DROP TABLE gateway.task_tombstones")
