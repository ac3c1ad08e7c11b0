"""Gateway: how many tasks each scope holds, by status and level, kept by the database.

`totalCount` of a list counted every matching task: the web app's default list (open tasks)
of a member of 91 projects counted 734,000 rows on every load, 280-487 ms p95 against the
200 ms goal of the shared-projects benchmark. A list filtered only by status, scope (personal
space, projects, one project) and level (top-level tasks or subtasks) now adds up a few rows of
this table instead, kept per scope, status and level.

The rows are kept by statement triggers on `gateway.tasks`, in the transaction of the write,
whatever writes the task (the gateway, the recurrence worker, a cascade, a bulk load): each
statement adds up the changes of its rows per key. A row written stays locked until the commit,
so a key may have several rows, added up when read: a writer adds to a row of the key that no
other transaction holds (`FOR UPDATE SKIP LOCKED`), or inserts one, and never waits for another
writer. With one row a key, concurrent writers to one space took turns from their insert to the
end of their commit (bare INSERTs of the create_task benchmark, 16 connections: 1,658 → 673 a
second), and two transactions writing two keys in opposite orders could deadlock. A key has
about as many rows as it ever had writers at once.

`gateway.recount_tasks()` rebuilds the table from the tasks (this migration uses it; so do bulk
loads that skip triggers, such as the benchmarks' with `session_replication_role = replica`).
A scope's rows stay, at zero, when its tasks are gone.

Revision ID: gateway_0015
Revises: gateway_0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "gateway_0015"
down_revision = "gateway_0014"
branch_labels = None
depends_on = None

# A task's key: its scope (its project, or its owner's personal space), its status, its level.
KEY = "coalesce(project_id, user_id), project_id IS NULL, status, parent_id IS NULL"


def _deltas(changes: str) -> str:
    """The changes (rows of key columns and a delta) added up per key, keys in order."""
    return f"""
        SELECT scope, personal, status, top_level, sum(delta) AS delta
        FROM ({changes}) AS changes (scope, personal, status, top_level, delta)
        GROUP BY 1, 2, 3, 4
        HAVING sum(delta) <> 0
        ORDER BY 1, 2, 3, 4
    """  # noqa: S608


def upgrade() -> None:
    """Create the counts, the triggers that keep them and the recount, and fill them."""
    op.execute(
        """
        CREATE TABLE gateway.task_counts (
            scope uuid NOT NULL,
            personal boolean NOT NULL,
            status text NOT NULL,
            top_level boolean NOT NULL,
            shard smallint NOT NULL,
            tasks bigint NOT NULL,
            PRIMARY KEY (scope, personal, status, top_level, shard)
        )
        """
    )
    added = f"SELECT {KEY}, 1 FROM added"  # noqa: S608
    removed = f"SELECT {KEY}, -1 FROM removed"  # noqa: S608
    key = "scope = _scope AND personal = _personal AND status = _status AND top_level = _top_level"
    op.execute(
        f"""
        CREATE FUNCTION gateway.add_task_count(
            _scope uuid, _personal boolean, _status text, _top_level boolean, _delta bigint
        ) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            taken smallint;
        BEGIN
            -- A row of the key that no other transaction holds, or a new one: a writer never
            -- waits here.
            SELECT shard INTO taken FROM gateway.task_counts
            WHERE {key} LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                UPDATE gateway.task_counts SET tasks = tasks + _delta
                WHERE {key} AND shard = taken;
            ELSE
                INSERT INTO gateway.task_counts AS c
                    (scope, personal, status, top_level, shard, tasks)
                VALUES (_scope, _personal, _status, _top_level,
                        floor(random() * 32768)::smallint, _delta)
                ON CONFLICT (scope, personal, status, top_level, shard)
                DO UPDATE SET tasks = c.tasks + excluded.tasks;
            END IF;
        END
        $$
        """  # noqa: S608
    )
    add = (
        "PERFORM gateway.add_task_count("
        "change.scope, change.personal, change.status, change.top_level, change.delta)"
    )
    # Static queries, planned once per session. An update's unchanged keys cancel out
    # (HAVING): a title edit writes no count.
    op.execute(
        f"""
        CREATE FUNCTION gateway.count_task_changes() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            change record;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                FOR change IN {_deltas(added)} LOOP {add}; END LOOP;
            ELSIF TG_OP = 'DELETE' THEN
                FOR change IN {_deltas(removed)} LOOP {add}; END LOOP;
            ELSE
                FOR change IN {_deltas(f"{added} UNION ALL {removed}")} LOOP {add}; END LOOP;
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS added"),
        ("DELETE", "OLD TABLE AS removed"),
        ("UPDATE", "OLD TABLE AS removed NEW TABLE AS added"),
    ):
        op.execute(
            f"""
            CREATE TRIGGER tasks_counted_{event.lower()} AFTER {event} ON gateway.tasks
            REFERENCING {tables}
            FOR EACH STATEMENT EXECUTE FUNCTION gateway.count_task_changes()
            """
        )
    op.execute(
        """
        CREATE FUNCTION gateway.forget_task_counts() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM gateway.task_counts;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER tasks_counted_truncate AFTER TRUNCATE ON gateway.tasks
        FOR EACH STATEMENT EXECUTE FUNCTION gateway.forget_task_counts()
        """
    )
    # Writers wait while the recount reads (SHARE), so no change falls between the two.
    op.execute(
        f"""
        CREATE FUNCTION gateway.recount_tasks() RETURNS void
        LANGUAGE sql AS $$
            LOCK TABLE gateway.tasks IN SHARE MODE;
            DELETE FROM gateway.task_counts;
            INSERT INTO gateway.task_counts (scope, personal, status, top_level, shard, tasks)
            SELECT {KEY}, 0, count(*) FROM gateway.tasks GROUP BY 1, 2, 3, 4;
        $$
        """  # noqa: S608
    )
    op.execute("SELECT gateway.recount_tasks()")


def downgrade() -> None:
    """Drop the counts; `totalCount` counts the tasks again."""
    op.execute("DROP FUNCTION gateway.recount_tasks()")
    op.execute("DROP TRIGGER tasks_counted_truncate ON gateway.tasks")
    op.execute("DROP FUNCTION gateway.forget_task_counts()")
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER tasks_counted_{event} ON gateway.tasks")
    op.execute("DROP FUNCTION gateway.count_task_changes()")
    op.execute("DROP FUNCTION gateway.add_task_count(uuid, boolean, text, boolean, bigint)")
    op.execute("DROP TABLE gateway.task_counts")
