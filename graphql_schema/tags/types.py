"""The Tag type."""

from __future__ import annotations

import uuid

import strawberry

from gateway_core.persistence.reads import TagRecord
from graphql_schema.context import Info
from graphql_schema.node import Node
from graphql_schema.projects.types import Project


@strawberry.type(
    name="Tag", description="A label on tasks; names are unique per user, case-insensitively."
)
class Tag(Node):
    """A label on tasks; names are unique per user, case-insensitively."""

    id: strawberry.ID = strawberry.field(description="The tag's id.")
    name: str = strawberry.field(description="1 to 50 characters, as first written.")
    _project_id: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(description="How many of the caller's open tasks carry this tag.")
    async def open_task_count(self, info: Info) -> int:
        """How many open tasks carry this tag."""
        return await info.context.loaders.open_count_by_tag.load(uuid.UUID(self.id))

    @strawberry.field(
        description=(
            "The project whose tag set holds this tag; null for the user's personal tags."
        ),
    )
    async def project(self, info: Info) -> Project | None:
        """The tag's project as the caller sees it, or null."""
        if self._project_id is None:
            return None
        record = await info.context.loaders.project_by_id.load(self._project_id)
        return None if record is None else Project.from_record(record)

    @classmethod
    def from_record(cls, record: TagRecord) -> Tag:
        """The GraphQL view of a tag record."""
        return cls(
            id=strawberry.ID(str(record.id)), name=record.name, _project_id=record.project_id
        )
