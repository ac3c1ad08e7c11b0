"""Section mutations and moveTask; each is one application service call."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from gateway_core.persistence.reads import TaskRecord
from gateway_core.services import structure as service
from graphql_schema.context import Info
from graphql_schema.ids import TaskId, parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.projects.types import Section
from graphql_schema.tasks.types import Task

SectionId = Annotated[
    strawberry.ID,
    strawberry.argument(description="The id of a section of one of the caller's projects."),
]
SectionName = Annotated[str, strawberry.argument(description="1 to 100 characters.")]


def _optional(value: str | None, kind: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, kind)


@strawberry.type
class StructureMutations:
    """Sections of projects, and moving tasks."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Adds a section at the end of a project's sections (EDITOR; at most 50 a project). "
            "Emits taskstream.project.section.created.v1."
        ),
    )
    async def create_section(
        self,
        info: Info,
        project_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The id of a project the caller belongs to."),
        ],
        name: SectionName,
    ) -> Section:
        """Add a section to a project."""
        section = await service.create_section(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(project_id, "project"),
            name=name,
            now=info.context.now,
        )
        return Section.of(section)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Renames a section (EDITOR). Emits taskstream.project.section.renamed.v1.",
    )
    async def rename_section(self, info: Info, id: SectionId, name: SectionName) -> Section:
        """Rename a section."""
        section = await service.rename_section(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            section_id=parse_id(id, "section"),
            name=name,
            now=info.context.now,
        )
        return Section.of(section)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Deletes a section (EDITOR); no task is deleted: its tasks move, in their order and "
            "with their subtasks, to the end of the project's tasks without a section (each "
            "with a task.updated event). CONFLICT when it holds more than 1,000 tasks. Returns "
            "the section's id; emits taskstream.project.section.deleted.v1."
        ),
    )
    async def delete_section(self, info: Info, id: SectionId) -> strawberry.ID:
        """Delete a section, keeping its tasks."""
        deleted = await service.delete_section(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            section_id=parse_id(id, "section"),
            now=info.context.now,
        )
        return strawberry.ID(str(deleted))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Moves a task (with its subtasks) to a project or the inbox, a section, under a "
            "parent, and/or between two siblings. Omitted arguments keep the current value; "
            "toInbox moves it out of its project (into the caller's inbox), toNoSection out of "
            "its section (to the end of its project's tasks without a section unless afterId or "
            "beforeId place it). EDITOR is needed on "
            "both the task's project and the target one. A subtask lives in its parent's "
            "project and section: moving a subtask elsewhere needs toTopLevel or a parentId "
            "there. afterId places the task right after that sibling, beforeId alone right "
            "before it; neither keeps its position in the same list, or appends it to another. "
            "A gap split so often that its key would pass 64 characters gives the siblings "
            "around it (at most 64 on each side) new keys, each with its task.updated. "
            "Emits one taskstream.task.updated.v1 with the old and new place (and one for each "
            "subtask whose project or section changes)."
        ),
    )
    async def move_task(
        self,
        info: Info,
        id: TaskId,
        project_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The project to move to (EDITOR or OWNER there)."),
        ] = None,
        to_inbox: Annotated[
            bool | None, strawberry.argument(description="true moves it to the caller's inbox.")
        ] = None,
        section_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The section to move to (its project's)."),
        ] = None,
        to_no_section: Annotated[
            bool | None,
            strawberry.argument(
                description="true moves it out of its section, staying in its project."
            ),
        ] = None,
        parent_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="The task to move under (not the task itself nor its subtask)."
            ),
        ] = None,
        to_top_level: Annotated[
            bool | None, strawberry.argument(description="true makes it a top-level task.")
        ] = None,
        after_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="A sibling in the target list to place it after."),
        ] = None,
        before_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="A sibling in the target list to place it before."),
        ] = None,
        expected_version: Annotated[
            int | None,
            strawberry.argument(description="When given and stale, the move fails with CONFLICT."),
        ] = None,
    ) -> Task:
        """Move a task with its subtasks."""
        task = await service.move_task(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            task_id=parse_id(id, "task"),
            project_id=_optional(project_id, "project"),
            to_inbox=bool(to_inbox),
            section_id=_optional(section_id, "section"),
            to_no_section=bool(to_no_section),
            parent_id=_optional(parent_id, "task"),
            to_top_level=bool(to_top_level),
            after_id=_optional(after_id, "task"),
            before_id=_optional(before_id, "task"),
            expected_version=expected_version,
            now=info.context.now,
        )
        return Task.of(TaskRecord.from_task(task))
