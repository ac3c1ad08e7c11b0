"""Gateway: sections of projects, subtasks and the manual order of tasks.

Revision ID: gateway_0006
Revises: gateway_0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0006"
down_revision = "gateway_0005"
branch_labels = None
depends_on = None

NIL = "'00000000-0000-0000-0000-000000000000'::uuid"
BASE62 = "'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'::text"


def _digit(expression: str) -> str:
    return f"substr({BASE62}, (({expression}) % 62 + 1)::int, 1)"


def upgrade() -> None:
    """Create gateway.sections; give tasks a section, a parent and a position.

    Existing tasks stay where they are (top level, no section) and get positions in the order
    they were created, within their list (the owner's inbox or their project): 'd' followed by
    four base-62 digits of their rank, valid fractional-index keys (gateway_core/domain/
    positions.py) with room before and after. Positions compare by code point (COLLATE "C").
    """
    op.execute(
        """
        CREATE TABLE gateway.sections (
            id uuid PRIMARY KEY,
            project_id uuid NOT NULL REFERENCES gateway.projects (id) ON DELETE CASCADE,
            name text NOT NULL,
            position text COLLATE "C" NOT NULL,
            created_at timestamptz NOT NULL,
            UNIQUE (project_id, position)
        )
        """
    )
    op.execute(
        "ALTER TABLE gateway.tasks "
        "ADD COLUMN section_id uuid REFERENCES gateway.sections (id), "
        "ADD COLUMN parent_id uuid REFERENCES gateway.tasks (id), "
        'ADD COLUMN position text COLLATE "C"'
    )
    rank = "ranked.n"
    digits = [_digit(f"{rank} / {62**power}") for power in (3, 2, 1, 0)]
    key = " || ".join(["'d'", *digits])
    # Built from this file's constants only: no input reaches the statement.
    op.execute(
        f"""
        UPDATE gateway.tasks SET position = {key}
        FROM (
            SELECT id, row_number() OVER (
                PARTITION BY coalesce(project_id, user_id) ORDER BY created_at, id
            ) AS n
            FROM gateway.tasks
        ) AS ranked
        WHERE ranked.id = gateway.tasks.id
        """  # noqa: S608
    )
    op.execute("ALTER TABLE gateway.tasks ALTER COLUMN position SET NOT NULL")
    # A row inserted without a position (bulk loads such as the benchmarks' datasets) gets a
    # unique one from a sequence: 'a0', eight base-62 digits of the sequence value and 'V' (a
    # valid key whose fraction does not end in zero). The gateway always writes its own.
    op.execute("CREATE SEQUENCE gateway.task_position_seq")
    op.execute(
        f"""
        CREATE FUNCTION gateway.sequence_position() RETURNS text LANGUAGE sql VOLATILE AS $$
            SELECT 'a0' || string_agg(
                substr({BASE62}, (floor(s.n / power(62::numeric, i)) % 62)::int + 1, 1),
                '' ORDER BY i DESC
            ) || 'V'
            FROM (SELECT nextval('gateway.task_position_seq') AS n) AS s,
                 generate_series(0, 7) AS i
        $$
        """  # noqa: S608
    )
    op.execute(
        "ALTER TABLE gateway.tasks ALTER COLUMN position SET DEFAULT gateway.sequence_position()"
    )
    # Siblings (same inbox or project, section and parent) never share a position, whatever
    # the concurrency: the last guard behind the list lock moveTask takes.
    op.execute(
        "CREATE UNIQUE INDEX tasks_sibling_position ON gateway.tasks "
        f"(coalesce(project_id, user_id), coalesce(section_id, {NIL}), "
        f"coalesce(parent_id, {NIL}), position)"
    )
    # Task.subtasks (batched by parent, in manual order) and the child count of a parent.
    op.execute(
        "CREATE INDEX tasks_parent_position ON gateway.tasks (parent_id, position, id) "
        "WHERE parent_id IS NOT NULL"
    )
    # A project's top-level tasks in manual order, read without a sort (a client groups them
    # by section: positions order each section's list, so the grouping keeps that order).
    op.execute(
        "CREATE INDEX tasks_project_manual ON gateway.tasks (project_id, position, id) "
        "WHERE project_id IS NOT NULL AND parent_id IS NULL"
    )
    # The same for a user's inbox.
    op.execute(
        "CREATE INDEX tasks_inbox_manual ON gateway.tasks (user_id, position, id) "
        "WHERE project_id IS NULL AND parent_id IS NULL"
    )
    # Tasks of a section (deleteSection moves them; the sectionId filter).
    op.execute(
        "CREATE INDEX tasks_section ON gateway.tasks (section_id) WHERE section_id IS NOT NULL"
    )


def downgrade() -> None:
    """Drop sections, parents and positions (subtasks become top-level tasks)."""
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN position")
    op.execute("DROP FUNCTION gateway.sequence_position()")
    op.execute("DROP SEQUENCE gateway.task_position_seq")
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN parent_id")
    op.execute("ALTER TABLE gateway.tasks DROP COLUMN section_id")
    op.execute("DROP TABLE gateway.sections")
