"""Task use cases: create, update, complete, reopen, delete, restore, skip an occurrence."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway_core.domain.model import (
    Place,
    Priority,
    RecurrenceRequest,
    Reminder,
    ReminderSpec,
    Task,
    TaskChange,
    TaskDeleted,
    clean_tags,
)
from gateway_core.domain.projects import Role
from gateway_core.persistence import structure as structure_rows
from gateway_core.persistence import tables as t
from gateway_core.persistence import tombstones
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import structure
from gateway_core.services.access import (
    check_assignee,
    may_be_assigned,
    task_for,
)
from taskstream.errors import Conflict, Forbidden, NotFound
from taskstream.offload import off_loop


async def create_task(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    title: str,
    notes: str | None,
    priority: Priority | None,
    tags: list[str] | None,
    due_at: datetime | None,
    recurrence: RecurrenceRequest | None,
    reminders: list[ReminderSpec] | None,
    now: datetime,
    source: str = "gateway",
    project_id: uuid.UUID | None = None,
    assignee_id: uuid.UUID | None = None,
    section_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
) -> Task:
    """Create a task with its tags and reminders, in the personal space or a project where the
    caller is EDITOR or OWNER (in a section, under a parent); unknown tag names are created."""
    async with uow:
        if project_id is not None or section_id is not None or parent_id is not None:
            # Checks the role, and tries the lock of the list the task is appended to in the same
            # statement.
            project_id, section_id, parent_id = await structure.place_new_task(
                uow, user_id, project_id=project_id, section_id=section_id, parent_id=parent_id
            )
        if assignee_id is not None:
            await check_assignee(
                uow, owner_id=user_id, project_id=project_id, assignee_id=assignee_id
            )
        build = functools.partial(
            Task.create,
            user_id=user_id,
            title=title,
            notes=notes or "",
            priority=priority or Priority.NONE,
            # Spelled as the scope's existing tags spell them when placed (commit_new_task).
            tags=tags or [],
            due_at=due_at,
            recurrence=recurrence,
            reminders=reminders,
            now=now,
            source=source,
            project_id=project_id,
            assignee_id=assignee_id,
            section_id=section_id,
            parent_id=parent_id,
        )
        # Validating a rule expands it (bounded by its work budget): off the event loop.
        task = await off_loop(build) if recurrence is not None else build()
        await uow.commit_new_task(task)
    return task


async def update_task(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    change: TaskChange,
    now: datetime,
    source: str = "gateway",
) -> Task:
    """Apply the given fields to a task the caller may change; CONFLICT on a stale
    expectedVersion."""
    async with uow:
        task = await task_for(uow, user_id, task_id, Role.EDITOR)
        if change.assignee_id is not None and change.assignee_id != task.assignee_id:
            await check_assignee(
                uow,
                owner_id=task.user_id,
                project_id=task.project_id,
                assignee_id=change.assignee_id,
            )
        if change.tags is not None:
            names = await uow.tags.canonical_names(
                task.user_id, clean_tags(change.tags), task.project_id
            )
            change = replace(change, tags=list(names))
        if change.recurrence is not None:
            await off_loop(task.update, change, now=now, source=source)
        else:
            task.update(change, now=now, source=source)
        if task.events:
            await uow.tasks.save(task)
        await uow.commit()
    return task


async def _change(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    action: Callable[[Task], None],
    *,
    expands: bool = False,
) -> Task:
    """Load a task the caller may change, apply one aggregate method, store it if anything
    happened; ``expands`` runs the method off the event loop (it expands the recurrence rule)."""
    async with uow:
        task = await task_for(uow, user_id, task_id, Role.EDITOR)
        if expands:
            await off_loop(action, task)
        else:
            action(task)
        if task.events:
            await uow.tasks.save(task)
        await uow.commit()
    return task


async def complete_task(
    *, uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, now: datetime
) -> Task:
    """Mark the user's task done (a no-op when it already is), and its open subtasks."""
    async with uow:
        task = await task_for(uow, user_id, task_id, Role.EDITOR)
        task.complete(now=now)
        if task.events:
            await uow.tasks.save(task)
            await structure.complete_subtasks(uow, task, now=now)
        await uow.commit()
    return task


async def reopen_task(
    *, uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, now: datetime
) -> Task:
    """Open the user's done task again (a no-op when it is open)."""
    return await _change(uow, user_id, task_id, lambda task: task.reopen(now=now))


async def delete_task(
    *, uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """Delete a task the caller may change, with its subtasks; each last state goes out in its
    TaskDeleted event."""
    async with uow:
        task = await task_for(uow, user_id, task_id, Role.EDITOR)
        await structure.delete_subtasks(uow, task, now=now)
        task.delete(now=now)
        await uow.tasks.remove(task)
        await tombstones.bury(
            uow.connection, root_id=task.id, deleted=_deleted_in(uow, task.id), at=now
        )
        await uow.commit()
    return task.id


def _deleted_in(
    uow: UnitOfWork, root_id: uuid.UUID
) -> list[tuple[Task, tuple[uuid.UUID, ...], int]]:
    """The tasks this unit of work deleted (the root and its subtree): each last state, the
    reminders its deletion cancelled and its depth under the root."""
    deleted: dict[uuid.UUID, tuple[Task, tuple[uuid.UUID, ...]]] = {}
    for task in uow.tasks.seen:
        for event in task.events:
            if isinstance(event, TaskDeleted):
                deleted[task.id] = (event.task, event.cancelled_reminders)

    def depth(task: Task) -> int:
        if task.id == root_id or task.parent_id not in deleted:
            return 0
        return 1 + depth(deleted[task.parent_id][0])

    return [(last, cancelled, depth(last)) for last, cancelled in deleted.values()]


async def restore_task(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    window: timedelta,
    now: datetime,
) -> Task:
    """Bring back a task deleted less than `window` ago, with the subtasks deleted with it,
    for whoever could have deleted it; each comes back in its place, or where its place was
    (its project gone: the owner's inbox; its section gone: no section; its parent gone: the
    top level), with the reminders its deletion cancelled scheduled again."""
    async with uow:
        uow.actor_id = user_id
        found = await tombstones.root_of(uow.connection, task_id, since=now - window)
        if found is None:
            # Restored already (perhaps just now, by a request racing this one), or never
            # deleted: CONFLICT for a task the caller may change, else as if it never was.
            await task_for(uow, user_id, task_id, Role.EDITOR)
            raise Conflict(f"id: task {task_id} is not deleted (it may have been restored)")
        owner_id, project_id = found
        project_alive = project_id is not None and await _project_exists(uow, project_id)
        if project_alive:
            assert project_id is not None
            held = await uow.projects.role_of(project_id, user_id)
            if held is None:
                raise NotFound("task", task_id)
            if held.rank < Role.EDITOR.rank:
                raise Forbidden(
                    f"id: restoring task {task_id} needs the EDITOR role in its project, "
                    f"you are {held.value}"
                )
        elif owner_id != user_id:
            # A personal task, or one whose project is gone: its owner's alone.
            raise NotFound("task", task_id)
        stones = await tombstones.dig_up(uow.connection, task_id)
        restored: dict[uuid.UUID, Task] = {}
        for stone in stones:
            task = stone.task
            place = await _restored_place(uow, task, project_alive, restored)
            # The assignee may have lost the right to hold it meanwhile (left the project).
            keep_assignee = task.assignee_id is None or await may_be_assigned(
                uow,
                owner_id=task.user_id,
                project_id=place.project_id,
                assignee_id=task.assignee_id,
            )
            task.restore(place=place, revive=stone.revive, keep_assignee=keep_assignee, now=now)
            await uow.tasks.add(task)
            restored[task.id] = task
        await uow.commit()
    return restored[task_id]


async def _project_exists(uow: UnitOfWork, project_id: uuid.UUID) -> bool:
    """Whether the project is still there (key-share locked: it cannot go meanwhile)."""
    found = await uow.connection.scalar(
        select(t.projects.c.id).where(t.projects.c.id == project_id).with_for_update(key_share=True)
    )
    return found is not None


async def _restored_place(
    uow: UnitOfWork, task: Task, project_alive: bool, restored: dict[uuid.UUID, Task]
) -> Place:
    """Where a deleted task comes back: its old place as far as it still exists, its old
    position when no sibling took it meanwhile (else at the end of the list)."""
    project_id = task.project_id if project_alive else None
    section_id = task.section_id if project_id is not None else None
    parent_id = task.parent_id
    if parent_id is not None and parent_id in restored:
        section_id = restored[parent_id].section_id
    elif parent_id is not None:
        parent = await structure_rows.place_of(uow.connection, parent_id, lock=True)
        same_scope = parent is not None and (
            parent.project_id == project_id
            and (project_id is not None or parent.user_id == task.user_id)
        )
        if same_scope:
            section_id = parent.section_id
        else:
            parent_id = None
    if parent_id is None and section_id is not None:
        section = await structure_rows.section(uow.connection, section_id, share=True)
        if section is None or section.project_id != project_id:
            section_id = None
    key = structure_rows.ListKey(task.user_id, project_id, section_id, parent_id)
    await structure_rows.lock_list(uow.connection, key)
    taken = await uow.connection.scalar(
        select(t.tasks.c.id).where(*key.conditions(), t.tasks.c.position == task.position)
    )
    # "": the repository appends it to the list.
    position = "" if taken is not None else task.position
    return Place(task.user_id, project_id, section_id, parent_id, position)


async def skip_occurrence(
    *, uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, now: datetime
) -> Task:
    """Move the user's open recurring instance to its next occurrence."""
    return await _change(
        uow, user_id, task_id, lambda task: task.skip_occurrence(now=now), expands=True
    )


async def snooze_reminder(
    *, uow: UnitOfWork, user_id: uuid.UUID, reminder_id: uuid.UUID, minutes: int, now: datetime
) -> Reminder:
    """Reschedule the user's reminder to now + minutes."""
    async with uow:
        task = await uow.tasks.get_by_reminder(user_id, reminder_id)
        reminder = task.snooze_reminder(reminder_id, minutes=minutes, now=now)
        await uow.tasks.save(task)
        await uow.commit()
    return reminder


async def create_next_instance(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    completed_task_id: uuid.UUID,
    due_at: datetime,
    now: datetime,
    source: str,
) -> Task:
    """The next instance after a completed one, created once however often this is called."""
    async with uow:
        completed = await uow.tasks.get(user_id, completed_task_id)
        candidate = completed.next_instance(due_at=due_at, now=now, source=source)
        instance = await uow.tasks.add_instance(candidate)
        if instance is candidate:
            # Only the delivery that created the instance copies the subtasks: a redelivered
            # completion finds the instance and copies nothing a second time.
            await structure.copy_subtasks(uow, completed, instance, now=now, source=source)
        await uow.commit()
    return instance


async def record_reminder_outcome(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    reminder_id: uuid.UUID,
    sent: bool,
    at: datetime,
    source: str,
) -> Reminder:
    """Record that a reminder was sent (or failed for good)."""
    async with uow:
        task = await uow.tasks.get_by_reminder(user_id, reminder_id)
        reminder = task.record_reminder_outcome(reminder_id, sent=sent, at=at, source=source)
        await uow.tasks.save(task)
        await uow.commit()
    return reminder


async def unassign_member(
    uow: UnitOfWork, *, project_id: uuid.UUID, member_id: uuid.UUID, now: datetime
) -> int:
    """Take the project's tasks off a member who left it or lost the role to be assigned
    (each with its TaskUpdated event, in the caller's transaction); how many there were."""
    tasks = await uow.tasks.assigned_in_project(project_id, member_id)
    for task in tasks:
        task.unassign(now=now)
        await uow.tasks.save(task)
    return len(tasks)
