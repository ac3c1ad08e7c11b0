"""Keeps the durable reminder schedule in step with the task events.

The task snapshot in every event carries each reminder as the gateway sees it (relative ones
already recomputed from the due date), so one rule set covers created, updated, completed,
reopened and deleted: upsert what is SCHEDULED there, cancel what is cancelled or gone.

A reminder reaches the task's assignee when it has one, else its owner (`recipient`). An event
that changes either (assignment, unassignment, hand-over to a project owner) moves every row of
the task to the new recipient, and a firing's deliveries still pending for the old one are
cancelled: the old recipient receives nothing more. Outcomes stay keyed by the owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import func

from contracts.events import (
    TaskCompleted,
    TaskCreated,
    TaskEvent,
    TaskReopened,
    TaskRestored,
    TaskUpdated,
)
from contracts.task import Task
from taskstream.messaging.bus import Outcome
from taskstream.messaging.cloudevents import CloudEvent
from workers.notifications.assignments import notify_assigned
from workers.notifications.firing import finalize
from workers.notifications.tables import deliveries, schedule, task_versions

# The task events whose reminders are mirrored (deletion has its own handler; a restore
# schedules again the reminders its deletion cancelled).
TASK_CHANGES: tuple[type[TaskEvent], ...] = (
    TaskCreated,
    TaskUpdated,
    TaskCompleted,
    TaskReopened,
    TaskRestored,
)
LIVE = ("SCHEDULED", "FIRING")


class ScheduleHandlers:
    """Task-event handlers of the `notifications` consumer group."""

    def __init__(
        self,
        wake: Callable[[], None] | None = None,
        *,
        email_on: bool = False,
        mail_wake: Callable[[], None] | None = None,
    ) -> None:
        # Called after a commit that may have made a reminder due sooner than the loop expects.
        self.wake = wake or (lambda: None)
        # Whether "assigned to you" notices are emailed too, and how the mailer hears of one.
        self.email_on = email_on
        self.mail_wake = mail_wake or (lambda: None)

    async def task_changed(
        self, event: CloudEvent[TaskEvent], connection: AsyncConnection
    ) -> Outcome:
        """Created/updated/completed/reopened/restored: assignment notice, reminders."""
        if await notify_assigned(event, connection, email_on=self.email_on) and self.email_on:
            self.mail_wake()
        if not touches_reminders(event.data):
            return Outcome.SUCCESS
        if await sync_task(connection, event.data.task, deleted=False):
            self.wake()
        return Outcome.SUCCESS

    async def task_deleted(
        self, event: CloudEvent[TaskEvent], connection: AsyncConnection
    ) -> Outcome:
        """Deleted: every reminder not yet sent is cancelled."""
        await sync_task(connection, event.data.task, deleted=True)
        return Outcome.SUCCESS


def recipient(task: Task) -> uuid.UUID:
    """Who a task's reminders reach: its assignee, else its owner."""
    return task.assignee_id or task.user_id


def touches_reminders(event: TaskEvent) -> bool:
    """Whether a created/updated/completed/reopened task had reminders before or has some after.

    Most tasks have none: their events need no version record, no row locks and no wake-up.
    Skipping one is safe because only an update removes reminders (and says so in its
    `changes`): the previous version had none either, so applying this one would change
    nothing, and late older events are still refused by the versions of those applied.
    """
    if event.task.reminders:
        return True
    if not isinstance(event, TaskUpdated):
        return False
    change = event.changes.reminders
    return change is not None and bool(change.before)


async def _newer(connection: AsyncConnection, task_id: uuid.UUID, version: int) -> bool:
    """Record `version` as the task's newest; False when we already applied a newer one."""
    stored = await connection.scalar(
        pg_insert(task_versions)
        .values(task_id=task_id, version=version)
        .on_conflict_do_update(
            index_elements=[task_versions.c.task_id],
            set_={"version": version},
            where=task_versions.c.version < version,
        )
        .returning(task_versions.c.version)
    )
    # No row returned: the stored version is at least this one (a late or repeated event).
    return stored is not None


async def cancel_deliveries(connection: AsyncConnection, reminder_ids: list[uuid.UUID]) -> None:
    """Stop the pending deliveries of these reminders (their retries included)."""
    if reminder_ids:
        await connection.execute(
            update(deliveries)
            .where(
                deliveries.c.reminder_id.in_(reminder_ids),
                deliveries.c.state.in_(("PENDING", "SENDING")),
            )
            .values(state="CANCELLED", last_error="reminder cancelled")
        )


async def sync_task(connection: AsyncConnection, task: Task, *, deleted: bool) -> bool:
    """Apply one task, as an event carries it, to the schedule (in the consumer's transaction).

    True when a reminder was scheduled at a new time (the firing loop may need to run sooner).
    """
    task_id = task.id
    version = task.version
    if not await _newer(connection, task_id, version):
        return False
    rescheduled = False
    user_id = task.user_id
    to_whom = recipient(task)
    common = {
        "user_id": user_id,
        "recipient_id": to_whom,
        "task_title": task.title,
        "task_due_at": task.due_at,
        "task_version": version,
        "updated_at": func.now(),
    }
    rows = {
        row.reminder_id: row
        for row in await connection.execute(
            select(
                schedule.c.reminder_id,
                schedule.c.state,
                schedule.c.remind_at,
                schedule.c.generation,
            )
            .where(schedule.c.task_id == task_id)
            # Row locks in one order everywhere (by reminder id), so lockers never deadlock.
            .order_by(schedule.c.reminder_id)
            .with_for_update()
        )
    }
    to_cancel: list[uuid.UUID] = []
    seen: set[uuid.UUID] = set()
    for reminder in [] if deleted else task.reminders:
        reminder_id = reminder.id
        seen.add(reminder_id)
        theirs: str = reminder.state
        remind_at = reminder.remind_at
        channels = list(reminder.channels)
        row = rows.get(reminder_id)
        if theirs == "SCHEDULED" and (row is None or remind_at != row.remind_at):
            rescheduled = True
        if row is None:
            await connection.execute(
                pg_insert(schedule)
                .values(
                    reminder_id=reminder_id,
                    task_id=task_id,
                    remind_at=remind_at,
                    channels=channels,
                    state=theirs,
                    sent_at=reminder.sent_at,
                    **common,
                )
                .on_conflict_do_nothing()
            )
            continue
        values: dict[str, Any] = {**common, "channels": channels}
        if theirs == "SCHEDULED":
            if row.state == "SCHEDULED":
                values["remind_at"] = remind_at
            elif remind_at != row.remind_at or row.state == "CANCELLED":
                # Snoozed (or revived) after it fired or was cancelled, or cancelled by a
                # deletion and scheduled again by the restore (a newer version: older events
                # were refused above): a new firing.
                values.update(
                    remind_at=remind_at,
                    state="SCHEDULED",
                    fired_at=None,
                    outcome_sent=None,
                    outcome_at=None,
                    report_attempts=0,
                    report_after=None,
                    last_error=None,
                    sent_at=None,
                )
                to_cancel.append(reminder_id)
            # Same time while FIRING/SENT: an event from before our outcome was recorded.
        elif theirs == "CANCELLED" and row.state in LIVE:
            values["state"] = "CANCELLED"
            to_cancel.append(reminder_id)
        elif row.state == "SCHEDULED":
            # SENT/FAILED already on the task (e.g. recorded before a crash here): agree.
            values["state"] = theirs
        await connection.execute(
            update(schedule).where(schedule.c.reminder_id == reminder_id).values(**values)
        )
    gone = [rid for rid, row in rows.items() if rid not in seen and row.state in LIVE]
    if gone:
        await connection.execute(
            update(schedule)
            .where(schedule.c.reminder_id.in_(gone))
            .values(state="CANCELLED", **common)
        )
        to_cancel.extend(gone)
    await cancel_deliveries(connection, to_cancel)
    if rows and await cancel_others(connection, list(rows), to_whom):
        # A firing whose last open deliveries were the old recipient's gets its outcome now.
        for row in rows.values():
            if row.state == "FIRING":
                await finalize(connection, row.reminder_id, row.generation)
    return rescheduled


async def cancel_others(
    connection: AsyncConnection, reminder_ids: list[uuid.UUID], to_whom: uuid.UUID
) -> bool:
    """Stop the pending deliveries of these reminders to anyone but their recipient now;
    whether there were any."""
    result = await connection.execute(
        update(deliveries)
        .where(
            deliveries.c.reminder_id.in_(reminder_ids),
            deliveries.c.user_id != to_whom,
            deliveries.c.state.in_(("PENDING", "SENDING")),
        )
        .values(state="CANCELLED", last_error="the task has another recipient now")
    )
    return bool(result.rowcount)
