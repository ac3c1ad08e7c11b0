"""Tag queries and mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway_core.persistence import projects as project_reads
from gateway_core.persistence import reads
from gateway_core.persistence.reads import TagRecord
from gateway_core.services import tags as service
from graphql_schema.context import Info
from graphql_schema.ids import TagId, parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.tags.types import Tag


@strawberry.type
class TagQueries:
    """The caller's tags."""

    @strawberry.field(
        permission_classes=[IsAuthenticated], description="All of the caller's tags, by name."
    )
    async def tags(self, info: Info) -> list[Tag]:
        """All of the caller's tags, by name."""
        async with info.context.services.engine.connect() as connection:
            records = await reads.user_tags(connection, info.context.require_user())
        return [Tag.from_record(r) for r in records]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "A project's tag set, by name (the personal tags are `tags`); NOT_FOUND unless the "
            "caller is a member. Every member's tasks in the project take their tags from it."
        ),
    )
    async def project_tags(
        self,
        info: Info,
        project_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The id of a project the caller belongs to."),
        ],
    ) -> list[Tag]:
        """A project's tag set."""
        project = parse_id(project_id, "project")
        async with info.context.services.engine.connect() as connection:
            await project_reads.project_of(connection, info.context.require_user(), project)
            records = await reads.project_tags(connection, project)
        return [Tag.from_record(r) for r in records]


@strawberry.type
class TagMutations:
    """Renaming and deleting tags."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Renames a tag on every task carrying it; a name another tag of the same set has "
            "is CONFLICT. A project's tag is renamed by its EDITORs and OWNERs."
        ),
    )
    async def rename_tag(
        self,
        info: Info,
        id: TagId,
        name: Annotated[str, strawberry.argument(description="The new name, 1 to 50 characters.")],
    ) -> Tag:
        """Rename a tag; every task carrying it shows the new name."""
        tag_id, new_name = await service.rename_tag(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            tag_id=parse_id(id, "tag"),
            name=name,
            now=info.context.now,
        )
        async with info.context.services.engine.connect() as connection:
            project_id = await reads.project_of_tag(connection, tag_id)
        return Tag.from_record(TagRecord(tag_id, new_name, project_id))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Deletes a tag and takes it off its tasks; returns the deleted tag's id.",
    )
    async def delete_tag(self, info: Info, id: TagId) -> strawberry.ID:
        """Delete a tag and take it off its tasks."""
        deleted = await service.delete_tag(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            tag_id=parse_id(id, "tag"),
            now=info.context.now,
        )
        return strawberry.ID(str(deleted))
