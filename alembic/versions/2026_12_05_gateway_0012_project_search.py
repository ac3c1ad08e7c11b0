"""Gateway: the full-text index of project tasks alone (search over a member's projects).

Revision ID: gateway_0012
Revises: gateway_0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0012"
down_revision = "gateway_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index the search vector of the tasks that live in projects.

    A search over everything a member sees reads the member projects apart from the personal
    space (reads.scoped_conditions). Through tasks_search_vector that part visited every task
    in the table carrying the word, personal ones of every user included, to keep the few in
    the member's projects: 137,500 rows for 37,500 at 1M tasks (bench/results/
    issue16-shared-projects.md). This index holds project tasks only.
    """
    op.execute(
        "CREATE INDEX tasks_project_search ON gateway.tasks USING gin (search_vector) "
        "WHERE project_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the project tasks' full-text index."""
    op.execute("DROP INDEX gateway.tasks_project_search")
