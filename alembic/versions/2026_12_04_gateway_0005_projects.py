"""Gateway: shared projects, their members with roles, and invitations by email.

Revision ID: gateway_0005
Revises: gateway_0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0005"
down_revision = "gateway_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create gateway.projects, gateway.project_members and gateway.project_invitations.

    Existing tasks get a null tasks.project_id: each stays in its owner's personal space, so
    nothing changes for existing data or clients.
    """
    op.execute(
        """
        CREATE TABLE gateway.projects (
            id uuid PRIMARY KEY,
            name text NOT NULL,
            color text,
            archived boolean NOT NULL DEFAULT false,
            created_by uuid NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL
        )
        """
    )
    op.execute(
        """
        CREATE TABLE gateway.project_members (
            project_id uuid NOT NULL REFERENCES gateway.projects (id) ON DELETE CASCADE,
            user_id uuid NOT NULL REFERENCES gateway.users (id) ON DELETE CASCADE,
            role text NOT NULL CHECK (role IN ('OWNER', 'EDITOR', 'VIEWER')),
            added_at timestamptz NOT NULL,
            PRIMARY KEY (project_id, user_id)
        )
        """
    )
    # "The caller's projects" and the membership check at delivery read by user.
    op.execute("CREATE INDEX project_members_user ON gateway.project_members (user_id)")
    op.execute(
        """
        CREATE TABLE gateway.project_invitations (
            id uuid PRIMARY KEY,
            project_id uuid NOT NULL REFERENCES gateway.projects (id) ON DELETE CASCADE,
            email text NOT NULL,
            email_key text NOT NULL,
            role text NOT NULL CHECK (role IN ('OWNER', 'EDITOR', 'VIEWER')),
            state text NOT NULL
                CHECK (state IN ('PENDING', 'ACCEPTED', 'DECLINED', 'REVOKED')),
            invited_by uuid NOT NULL,
            created_at timestamptz NOT NULL,
            answered_at timestamptz
        )
        """
    )
    # One pending invitation per email and project, even under concurrent invites.
    op.execute(
        "CREATE UNIQUE INDEX project_invitations_pending ON gateway.project_invitations "
        "(project_id, email_key) WHERE state = 'PENDING'"
    )
    op.execute(
        "CREATE INDEX project_invitations_email ON gateway.project_invitations (email_key, state)"
    )
    # Null for every existing task: it stays in its owner's personal space (the inbox).
    op.execute(
        "ALTER TABLE gateway.tasks ADD COLUMN project_id uuid REFERENCES gateway.projects (id)"
    )
    op.execute(
        "CREATE INDEX tasks_project_due ON gateway.tasks (project_id, due_at) "
        "WHERE project_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the projects (their memberships and invitations with them)."""
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN project_id")
    op.execute("DROP TABLE gateway.project_invitations")
    op.execute("DROP TABLE gateway.project_members")
    op.execute("DROP TABLE gateway.projects")
