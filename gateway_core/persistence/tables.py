"""SQLAlchemy Core tables of the gateway's schema; the migrations in alembic/ create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID

from taskstream.persistence.outbox import outbox_table

GATEWAY_SCHEMA = "gateway"

metadata = MetaData(schema=GATEWAY_SCHEMA)

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", Text, nullable=False),
    Column("email_key", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("session_generation", Integer, nullable=False, server_default=text("0")),
)

# Tokens revoked one by one (logOut) until they would have expired anyway.
revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", Text, primary_key=True),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

tags = Table(
    "tags",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # Exactly one of user_id (a personal tag) and project_id (a project's tag set): gateway_0007.
    Column("user_id", UUID(as_uuid=True), ForeignKey(users.c.id)),
    Column("name", Text, nullable=False),
    Column("name_key", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("project_id", UUID(as_uuid=True)),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), ForeignKey(users.c.id), nullable=False),
    Column("title", Text, nullable=False),
    Column("notes", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("recurrence", JSONB(none_as_null=True)),
    Column("series_id", UUID(as_uuid=True)),
    Column("instance_number", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    # Generated in the database; never written by the application.
    Column("search_vector", TSVECTOR, server_default=text("''::tsvector")),
    # Null: the owner's personal space. (gateway_0004 adds the foreign key to projects.)
    Column("project_id", UUID(as_uuid=True)),
    # Null: unassigned (gateway_0007).
    Column("assignee_id", UUID(as_uuid=True)),
    # Structure (gateway_0006): section of the project, parent task, fractional-index position
    # among siblings (COLLATE "C": keys compare by code point).
    Column("section_id", UUID(as_uuid=True)),
    Column("parent_id", UUID(as_uuid=True)),
    Column(
        "position",
        Text(collation="C"),
        nullable=False,
        server_default=text("gateway.sequence_position()"),
    ),
)

# Each user's search vocabulary (every word of their tasks' search vectors), kept by a trigger.
search_words = Table(
    "search_words",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("word", Text, primary_key=True),
)

# How many tasks each scope holds by status and level (gateway_0015: kept by triggers).
task_counts = Table(
    "task_counts",
    metadata,
    # A project's id, or the owner's id for their personal space (`personal`).
    Column("scope", UUID(as_uuid=True), primary_key=True),
    Column("personal", Boolean, primary_key=True),
    Column("status", Text, primary_key=True),
    Column("top_level", Boolean, primary_key=True),
    # Each key is spread over a few rows, added up when read (writers do not queue on one).
    Column("shard", SmallInteger, primary_key=True),
    Column("tasks", BigInteger, nullable=False),
)

task_tags = Table(
    "task_tags",
    metadata,
    Column(
        "task_id",
        UUID(as_uuid=True),
        ForeignKey(tasks.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "tag_id", UUID(as_uuid=True), ForeignKey(tags.c.id, ondelete="CASCADE"), primary_key=True
    ),
    Column("position", SmallInteger, nullable=False),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "task_id", UUID(as_uuid=True), ForeignKey(tasks.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("before_due", Integer),
    Column("channels", ARRAY(Text), nullable=False),
    Column("state", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True)),
)

outbox = outbox_table(metadata)

projects = Table(
    "projects",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("color", Text),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

project_members = Table(
    "project_members",
    metadata,
    Column(
        "project_id",
        UUID(as_uuid=True),
        ForeignKey(projects.c.id, ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True
    ),
    Column("role", Text, nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
    # The member's own order of their projects (gateway_0011); null until they order them.
    Column("sidebar_position", Text(collation="C")),
)

project_invitations = Table(
    "project_invitations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "project_id",
        UUID(as_uuid=True),
        ForeignKey(projects.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("email", Text, nullable=False),
    Column("email_key", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("invited_by", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
)

# A user's saved task filters, replayed by the client (gateway_0007).
saved_filters = Table(
    "saved_filters",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("name", Text, nullable=False),
    Column("name_key", Text, nullable=False),
    Column("filter", JSONB, nullable=False),
    Column("order_by", JSONB(none_as_null=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A project's sections, in manual order (gateway_0006).
sections = Table(
    "sections",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "project_id",
        UUID(as_uuid=True),
        ForeignKey(projects.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("position", Text(collation="C"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Deleted tasks kept restorable for a window (gateway_0010): the task's last state before its
# deletion, serialised; `root_id` is the task the user deleted (its subtasks share it).
task_tombstones = Table(
    "task_tombstones",
    metadata,
    Column("task_id", UUID(as_uuid=True), primary_key=True),
    Column("root_id", UUID(as_uuid=True), nullable=False),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False
    ),
    Column("project_id", UUID(as_uuid=True)),
    Column("depth", Integer, nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
    Column("snapshot", JSONB, nullable=False),
)
