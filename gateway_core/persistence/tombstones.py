"""Tombstones of deleted tasks: each deleted task's last state, restorable for a window.

A table of its own (gateway_0010) rather than a `deleted_at` column on `tasks`: every read of
tasks (lists, search, counts, subtasks, projects' open counts, the internal API, the checks of
who may see what) keeps reading only live tasks, so none can forget to skip a deleted one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.task import Task as WireTask
from contracts.task import recurrence_from_json, recurrence_to_json
from gateway_core.domain import model as domain
from gateway_core.persistence import tables as t
from gateway_core.wire import task_wire


@dataclass(frozen=True, slots=True)
class Tombstone:
    """One deleted task: its last state, the reminders its deletion cancelled, its depth
    under the task the user deleted (0: that task)."""

    task: domain.Task
    revive: frozenset[uuid.UUID]
    depth: int
    deleted_at: datetime


def _snapshot(task: domain.Task, revive: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    # The wire shape (events carry it) plus the recurrence as a task row stores it (offsets
    # kept, so skipped dates still show in the series' zone once restored).
    return {
        "task": task_wire(task).wire(),
        "recurrence": recurrence_to_json(task.recurrence),
        "revive": [str(r) for r in revive],
    }


def _task_of(snapshot: dict[str, Any]) -> tuple[domain.Task, frozenset[uuid.UUID]]:
    wire = WireTask.model_validate(snapshot["task"])
    task = domain.Task(
        id=wire.id,
        user_id=wire.user_id,
        title=wire.title,
        notes=wire.notes,
        status=domain.TaskStatus(wire.status),
        priority=domain.Priority[wire.priority],
        tags=tuple(wire.tags),
        due_at=wire.due_at,
        completed_at=wire.completed_at,
        recurrence=recurrence_from_json(snapshot["recurrence"]),
        series_id=wire.series_id,
        instance_number=wire.instance_number,
        reminders=tuple(
            domain.Reminder(
                id=r.id,
                remind_at=r.remind_at,
                before_due=r.before_due,
                channels=tuple(domain.Channel(c) for c in r.channels),
                state=domain.ReminderState(r.state),
                sent_at=r.sent_at,
            )
            for r in wire.reminders
        ),
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        version=wire.version,
        project_id=wire.project_id,
        assignee_id=wire.assignee_id,
        section_id=wire.section_id,
        parent_id=wire.parent_id,
        position=wire.position or "",
    )
    return task, frozenset(uuid.UUID(r) for r in snapshot["revive"])


async def bury(
    connection: AsyncConnection,
    *,
    root_id: uuid.UUID,
    deleted: list[tuple[domain.Task, tuple[uuid.UUID, ...], int]],
    at: datetime,
) -> None:
    """Keep the tasks just deleted with `root_id` (task, reminders cancelled, depth)."""
    await connection.execute(
        insert(t.task_tombstones).values(
            [
                {
                    "task_id": task.id,
                    "root_id": root_id,
                    "user_id": task.user_id,
                    "project_id": task.project_id,
                    "depth": depth,
                    "deleted_at": at,
                    "snapshot": _snapshot(task, revive),
                }
                for task, revive, depth in deleted
            ]
        )
    )


async def root_of(
    connection: AsyncConnection, task_id: uuid.UUID, *, since: datetime
) -> tuple[uuid.UUID, uuid.UUID | None] | None:
    """(owner, project) of the deleted task `task_id` if it was the one deleted (not a
    subtask that went with it) after `since`, its row locked until commit; None otherwise."""
    row = (
        await connection.execute(
            select(t.task_tombstones.c.user_id, t.task_tombstones.c.project_id)
            .where(
                t.task_tombstones.c.task_id == task_id,
                t.task_tombstones.c.root_id == task_id,
                t.task_tombstones.c.deleted_at > since,
            )
            .with_for_update()
        )
    ).first()
    return None if row is None else (row.user_id, row.project_id)


async def dig_up(connection: AsyncConnection, root_id: uuid.UUID) -> list[Tombstone]:
    """Take the tombstones of `root_id` and the subtasks deleted with it, parents first."""
    rows = await connection.execute(
        delete(t.task_tombstones)
        .where(t.task_tombstones.c.root_id == root_id)
        .returning(
            t.task_tombstones.c.snapshot,
            t.task_tombstones.c.depth,
            t.task_tombstones.c.deleted_at,
        )
    )
    found = []
    for row in rows:
        task, revive = _task_of(row.snapshot)
        found.append(Tombstone(task, revive, row.depth, row.deleted_at))
    return sorted(found, key=lambda stone: (stone.depth, stone.task.position, str(stone.task.id)))
