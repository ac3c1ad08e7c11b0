"""The notifications service's own tables (schema `notifications`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from taskstream.messaging.consumer import processed_events_table
from taskstream.persistence.outbox import outbox_table

metadata = MetaData(schema="notifications")
processed_events = processed_events_table(metadata)
outbox = outbox_table(metadata)

schedule = Table(
    "schedule",
    metadata,
    Column("reminder_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    # Who the deliveries go to: the task's assignee, else its owner (`user_id`, under whom
    # outcomes are reported to the gateway). See the notifications_0005 migration.
    Column("recipient_id", UUID(as_uuid=True), nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False),
    Column("task_title", Text, nullable=False),
    Column("task_due_at", DateTime(timezone=True)),
    Column("task_version", Integer, nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("channels", ARRAY(Text), nullable=False),
    Column("state", Text, nullable=False),
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("fired_at", DateTime(timezone=True)),
    Column("outcome_sent", Boolean),
    Column("outcome_at", DateTime(timezone=True)),
    Column("report_attempts", Integer, nullable=False, server_default="0"),
    Column("report_after", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The browsers an account subscribed to Web Push (see the notifications_0006 migration).
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("endpoint", Text, nullable=False, unique=True),
    Column("p256dh", Text, nullable=False),
    Column("auth", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("reminder_id", UUID(as_uuid=True), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("webhook_id", UUID(as_uuid=True)),
    # A PUSH delivery's browser subscription (see the notifications_0006 migration).
    Column("subscription_id", UUID(as_uuid=True)),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("notification_id", UUID(as_uuid=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("task_id", UUID(as_uuid=True)),
    Column("reminder_id", UUID(as_uuid=True)),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
)

# The email and in-app notice of each invitation to a shared project (see the
# notifications_0004 migration); `user_id` is the invitee's account, when there is one.
invitation_notices = Table(
    "invitation_notices",
    metadata,
    Column("invitation_id", UUID(as_uuid=True), primary_key=True),
    Column("channel", Text, primary_key=True),
    Column("event_id", Text, nullable=False),
    Column("project_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True)),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("notification_id", UUID(as_uuid=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The email of each "assigned to you" notice (see the notifications_0005 migration); `id` is
# the in-app notification's, derived from the event and the recipient (`user_id`).
assignment_notices = Table(
    "assignment_notices",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("task_id", UUID(as_uuid=True), nullable=False),
    Column("task_title", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

task_versions = Table(
    "task_versions",
    metadata,
    Column("task_id", UUID(as_uuid=True), primary_key=True),
    Column("version", Integer, nullable=False),
)


async def db_now(connection: AsyncConnection) -> datetime:
    """The database's transaction time: one clock for every replica."""
    now = await connection.scalar(select(func.now()))
    assert isinstance(now, datetime)
    return now
