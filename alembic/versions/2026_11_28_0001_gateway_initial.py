"""Gateway schema: users, tags, tasks with search columns, reminders, the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the gateway schema and its indexes."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.execute("CREATE SCHEMA IF NOT EXISTS gateway")
    op.execute(
        """
        CREATE TABLE gateway.users (
            id uuid PRIMARY KEY,
            email text NOT NULL,
            email_key text NOT NULL UNIQUE,
            password_hash text NOT NULL,
            timezone text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE gateway.tags (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL REFERENCES gateway.users (id),
            name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
            name_key text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT tags_user_name_key UNIQUE (user_id, name_key)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE gateway.tasks (
            id uuid PRIMARY KEY,
            user_id uuid NOT NULL REFERENCES gateway.users (id),
            title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 500),
            notes text NOT NULL CHECK (char_length(notes) <= 20000),
            status text NOT NULL CHECK (status IN ('OPEN', 'DONE')),
            priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 4),
            due_at timestamptz,
            completed_at timestamptz,
            recurrence jsonb,
            series_id uuid,
            instance_number integer NOT NULL DEFAULT 1,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            search_vector tsvector GENERATED ALWAYS AS
                (to_tsvector('simple', title || ' ' || notes)) STORED
        )
        """
    )
    # Keyset paging: each supported order has an index ending in the id tie-breaker.
    op.execute(
        "CREATE INDEX tasks_user_due ON gateway.tasks "
        "(user_id, (coalesce(due_at, 'infinity'::timestamptz)), created_at, id)"
    )
    op.execute("CREATE INDEX tasks_user_created ON gateway.tasks (user_id, created_at, id)")
    op.execute("CREATE INDEX tasks_user_updated ON gateway.tasks (user_id, updated_at, id)")
    op.execute("CREATE INDEX tasks_user_priority ON gateway.tasks (user_id, priority, id)")
    op.execute("CREATE INDEX tasks_user_title ON gateway.tasks (user_id, lower(title), id)")
    op.execute(
        "CREATE INDEX tasks_open_due ON gateway.tasks (user_id, due_at) WHERE status = 'OPEN'"
    )
    # One instance per series and due date: the guarantee that makes "create the next
    # instance" idempotent however often the completion event is delivered.
    op.execute(
        "CREATE UNIQUE INDEX tasks_series_due ON gateway.tasks (series_id, due_at) "
        "WHERE series_id IS NOT NULL"
    )
    op.execute("CREATE INDEX tasks_search_vector ON gateway.tasks USING gin (search_vector)")
    op.execute(
        "CREATE INDEX tasks_search_trgm ON gateway.tasks "
        "USING gin ((title || ' ' || notes) gin_trgm_ops)"
    )
    op.execute(
        """
        CREATE TABLE gateway.task_tags (
            task_id uuid NOT NULL REFERENCES gateway.tasks (id) ON DELETE CASCADE,
            tag_id uuid NOT NULL REFERENCES gateway.tags (id) ON DELETE CASCADE,
            position smallint NOT NULL,
            PRIMARY KEY (task_id, tag_id)
        )
        """
    )
    op.execute("CREATE INDEX task_tags_tag ON gateway.task_tags (tag_id, task_id)")
    op.execute(
        """
        CREATE TABLE gateway.reminders (
            id uuid PRIMARY KEY,
            task_id uuid NOT NULL REFERENCES gateway.tasks (id) ON DELETE CASCADE,
            user_id uuid NOT NULL,
            position smallint NOT NULL,
            remind_at timestamptz NOT NULL,
            before_due integer CHECK (before_due >= 0),
            channels text[] NOT NULL CHECK (cardinality(channels) >= 1),
            state text NOT NULL CHECK (state IN ('SCHEDULED', 'SENT', 'FAILED', 'CANCELLED')),
            sent_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX reminders_task ON gateway.reminders (task_id, position)")
    op.execute(
        "CREATE INDEX reminders_due ON gateway.reminders (remind_at) WHERE state = 'SCHEDULED'"
    )
    op.execute(
        """
        CREATE TABLE gateway.outbox (
            position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            topic text NOT NULL,
            partition_key text NOT NULL,
            type text NOT NULL,
            payload jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX outbox_unpublished ON gateway.outbox (position) WHERE published_at IS NULL"
    )


def downgrade() -> None:
    """Drop the gateway schema (extensions stay: other schemas may use them)."""
    op.execute("DROP SCHEMA gateway CASCADE")
