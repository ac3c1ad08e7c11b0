"""Gateway: task assignees, saved filters and project tag sets.

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0007"
# gateway_0006 (sections, subtasks, positions) lands in parallel: the lead rechains at merge.
down_revision = "gateway_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add tasks.assignee_id, gateway.saved_filters and tags.project_id.

    Every existing task gets a null assignee, and every existing tag stays a personal one:
    nothing changes for existing data or clients. Tasks already in a project (since
    gateway_0005) carried their creator's personal tags: they now carry the project's tags of
    the same names (created here), so every member sees the same set.
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
    # A tag belongs to one scope: a user's personal tags or a project's tag set.
    op.execute(
        "ALTER TABLE gateway.tags ADD COLUMN project_id uuid "
        "REFERENCES gateway.projects (id) ON DELETE CASCADE"
    )
    op.execute("ALTER TABLE gateway.tags ALTER COLUMN user_id DROP NOT NULL")
    op.execute(
        "ALTER TABLE gateway.tags ADD CONSTRAINT tags_one_scope "
        "CHECK ((user_id IS NULL) <> (project_id IS NULL))"
    )
    op.execute("ALTER TABLE gateway.tags DROP CONSTRAINT tags_user_name_key")
    op.execute(
        "CREATE UNIQUE INDEX tags_user_name_key ON gateway.tags (user_id, name_key) "
        "WHERE project_id IS NULL"
    )
    op.execute(
        "CREATE UNIQUE INDEX tags_project_name_key ON gateway.tags (project_id, name_key) "
        "WHERE project_id IS NOT NULL"
    )
    op.execute(
        """
        INSERT INTO gateway.tags (id, user_id, project_id, name, name_key, created_at)
        SELECT gen_random_uuid(), NULL, named.project_id, named.name, named.name_key, now()
        FROM (
            SELECT DISTINCT ON (tk.project_id, tg.name_key) tk.project_id, tg.name, tg.name_key
            FROM gateway.task_tags tt
            JOIN gateway.tasks tk ON tk.id = tt.task_id
            JOIN gateway.tags tg ON tg.id = tt.tag_id
            WHERE tk.project_id IS NOT NULL
            ORDER BY tk.project_id, tg.name_key, tg.created_at
        ) AS named
        """
    )
    op.execute(
        """
        UPDATE gateway.task_tags tt SET tag_id = pt.id
        FROM gateway.tasks tk, gateway.tags tg, gateway.tags pt
        WHERE tk.id = tt.task_id AND tg.id = tt.tag_id AND tg.project_id IS NULL
          AND tk.project_id IS NOT NULL
          AND pt.project_id = tk.project_id AND pt.name_key = tg.name_key
        """
    )


def downgrade() -> None:
    """Drop the project tag sets, the saved filters and the assignees.

    A project task's tags go with the project tag sets (its creator's personal tags of the
    same names are not relinked).
    """
    op.execute("DELETE FROM gateway.tags WHERE project_id IS NOT NULL")
    op.execute("DROP INDEX gateway.tags_project_name_key")
    op.execute("DROP INDEX gateway.tags_user_name_key")
    op.execute(
        "ALTER TABLE gateway.tags ADD CONSTRAINT tags_user_name_key UNIQUE (user_id, name_key)"
    )
    op.execute("ALTER TABLE gateway.tags DROP CONSTRAINT tags_one_scope")
    op.execute("ALTER TABLE gateway.tags ALTER COLUMN user_id SET NOT NULL")
    op.execute("ALTER TABLE gateway.tags DROP COLUMN project_id")
    op.execute("DROP TABLE gateway.saved_filters")
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN assignee_id")
