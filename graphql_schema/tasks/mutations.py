"""Task mutations; each is one application service call."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import strawberry

from gateway_core.persistence.reads import TaskRecord
from gateway_core.services import tasks as service
from graphql_schema.context import Info
from graphql_schema.ids import TaskId, parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.tasks.inputs import CreateTaskInput, UpdateTaskInput, assignee_id
from graphql_schema.tasks.types import Task


@strawberry.type
class TaskMutations:
    """Changes to the caller's tasks."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Creates a task; unknown tag names are created. Emits taskstream.task.created.v1."
        ),
    )
    async def create_task(
        self,
        info: Info,
        input: Annotated[CreateTaskInput, strawberry.argument(description="The new task.")],
    ) -> Task:
        """Create a task; unknown tag names are created."""
        context = info.context
        recurrence = None
        if input.recurrence is not None:
            # Only a rule without its own zone needs the account (for its time zone): the
            # session check has already made sure that the account exists.
            zone = input.recurrence.timezone
            if zone is None:
                zone = (await context.current_user()).timezone
            recurrence = input.recurrence.to_request(zone)
        task = await service.create_task(
            uow=context.services.uow(),
            user_id=context.require_user(),
            title=input.title,
            notes=input.notes,
            priority=input.priority,
            tags=input.tags,
            due_at=input.due_at,
            recurrence=recurrence,
            reminders=[r.to_spec() for r in input.reminders] if input.reminders else None,
            now=context.now,
            project_id=None if input.project_id is None else parse_id(input.project_id, "project"),
            assignee_id=None if input.assignee_id is None else assignee_id(input.assignee_id),
            section_id=None if input.section_id is None else parse_id(input.section_id, "section"),
            parent_id=None if input.parent_id is None else parse_id(input.parent_id, "task"),
        )
        return Task.of(TaskRecord.from_task(task))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=("Changes the given fields of a task (omitted fields stay as they are)."),
    )
    async def update_task(
        self,
        info: Info,
        id: TaskId,
        input: Annotated[UpdateTaskInput, strawberry.argument(description="The changes.")],
    ) -> Task:
        """Change the given fields of a task."""
        context = info.context
        user = await context.current_user()
        task = await service.update_task(
            uow=context.services.uow(),
            user_id=user.id,
            task_id=parse_id(id, "task"),
            change=input.to_change(user.timezone),
            now=context.now,
        )
        return Task.of(TaskRecord.from_task(task))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=("Marks an OPEN task DONE; for a recurring task the next instance follows."),
    )
    async def complete_task(self, info: Info, id: TaskId) -> Task:
        """Mark a task done."""
        task = await service.complete_task(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            now=info.context.now,
        )
        return Task.of(TaskRecord.from_task(task))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=("Marks a DONE task OPEN again."),
    )
    async def reopen_task(self, info: Info, id: TaskId) -> Task:
        """Open a done task again."""
        task = await service.reopen_task(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            now=info.context.now,
        )
        return Task.of(TaskRecord.from_task(task))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=("Deletes a task and cancels its reminders; returns the deleted task's id."),
    )
    async def delete_task(self, info: Info, id: TaskId) -> strawberry.ID:
        """Delete a task."""
        deleted = await service.delete_task(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            now=info.context.now,
        )
        return strawberry.ID(str(deleted))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Brings back a task deleted within the restore window (TASKSTREAM_TASK_RESTORE_"
            "WINDOW_SECONDS, 10 minutes by default) with the subtasks deleted with it: same id, "
            "version one above the deletion's, tags, reminders (those the deletion cancelled "
            "are scheduled again), project, section, parent, position and assignee. Where its "
            "place is gone it comes back where that place was: its project deleted, the owner's "
            "inbox; its section deleted, no section; its parent deleted, the top level; its "
            "position taken, the end of the list; its assignee no longer allowed, unassigned. "
            "Allowed to whoever could delete it (its owner, or an EDITOR or OWNER of its "
            "project). NOT_FOUND past the window or for a task the caller cannot see; CONFLICT "
            "when it is not deleted (restored already). Emits taskstream.task.restored.v1 for "
            "it and each subtask."
        ),
    )
    async def restore_task(self, info: Info, id: TaskId) -> Task:
        """Restore a recently deleted task with its subtasks."""
        services = info.context.services
        task = await service.restore_task(
            uow=services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            window=timedelta(seconds=services.settings.task_restore_window_seconds),
            now=info.context.now,
        )
        return Task.of(TaskRecord.from_task(task))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Moves an open recurring instance to its next occurrence; "
            "the skipped date joins recurrence.skipped."
        ),
    )
    async def skip_occurrence(self, info: Info, id: TaskId) -> Task:
        """Move a recurring instance to its next occurrence."""
        task = await service.skip_occurrence(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            now=info.context.now,
        )
        return Task.of(TaskRecord.from_task(task))
