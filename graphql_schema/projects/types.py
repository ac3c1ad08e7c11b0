"""Project, member and invitation types."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from gateway_core.domain.projects import InvitationState, Role
from gateway_core.domain.sections import Section as DomainSection
from gateway_core.persistence.projects import InvitationRecord, MemberRecord, ProjectRecord
from graphql_schema.context import Info
from graphql_schema.node import Node

# The domain enums are the GraphQL enums: one definition of each.
strawberry.enum(
    Role,
    name="ProjectRole",
    description=(
        "OWNER: all rights (settings, members, invitations); EDITOR: the project's tasks; "
        "VIEWER: read only."
    ),
)
strawberry.enum(
    InvitationState,
    name="InvitationState",
    description="PENDING until the invitee accepts or declines, or an owner revokes it.",
)


@strawberry.type(
    name="PublicUser", description="Another user as members of a shared project see them."
)
class PublicUser:
    """Another user as members of a shared project see them."""

    id: strawberry.ID = strawberry.field(description="The user's id.")
    email: str = strawberry.field(description="The user's email address.")


@strawberry.type(name="ProjectMember", description="A member of a project and their role.")
class ProjectMember:
    """A member of a project and their role."""

    user: PublicUser = strawberry.field(description="The member.")
    role: Role = strawberry.field(description="What the member may do.")
    added_at: datetime = strawberry.field(description="When they joined.")

    @classmethod
    def from_record(cls, record: MemberRecord) -> ProjectMember:
        """The GraphQL view of a member record."""
        return cls(
            user=PublicUser(id=strawberry.ID(str(record.user_id)), email=record.email),
            role=record.role,
            added_at=record.added_at,
        )


@strawberry.type(
    name="Section",
    description="A named, ordered part of a project; deleting it keeps its tasks.",
)
class Section(Node):
    """A section of a project."""

    id: strawberry.ID = strawberry.field(description="The section's id.")
    name: str = strawberry.field(description="1 to 100 characters.")
    position: str = strawberry.field(
        description="Fractional index ordering the project's sections (compare by code point)."
    )

    @classmethod
    def of(cls, section: DomainSection) -> Section:
        """The GraphQL view of a section."""
        return cls(id=strawberry.ID(str(section.id)), name=section.name, position=section.position)


@strawberry.type(
    name="Project",
    description=(
        "A space shared by its members; non-members never see it (NOT_FOUND), members without "
        "the role for a change get FORBIDDEN."
    ),
)
class Project(Node):
    """A project as one of its members sees it."""

    id: strawberry.ID = strawberry.field(description="The project's id.")
    name: str = strawberry.field(description="1 to 100 characters.")
    color: str | None = strawberry.field(description="A hex color such as #3a7bd5, or null.")
    archived: bool = strawberry.field(description="Archived projects are left out of `projects`.")
    my_role: Role = strawberry.field(description="The caller's role in the project.")
    members: list[ProjectMember] = strawberry.field(
        description="Every member (at most 50), in the order they joined."
    )
    created_at: datetime = strawberry.field(description="When the project was created.")
    version: int = strawberry.field(
        description=(
            "Incremented by every change (settings, membership, invitations, sections); see "
            "expectedVersion."
        )
    )

    @strawberry.field(description="The project's sections (at most 50) in their order.")
    async def sections(self, info: Info) -> list[Section]:
        """The project's sections in order (batched per request)."""
        found = await info.context.loaders.sections_by_project.load(uuid.UUID(self.id))
        return [Section.of(s) for s in found]

    @strawberry.field(description="How many open tasks the project holds.")
    async def open_task_count(self, info: Info) -> int:
        """How many open tasks the project holds (batched per request)."""
        return await info.context.loaders.open_count_by_project.load(uuid.UUID(self.id))

    @classmethod
    def from_record(cls, record: ProjectRecord) -> Project:
        """The GraphQL view of a project record."""
        return cls(
            id=strawberry.ID(str(record.id)),
            name=record.name,
            color=record.color,
            archived=record.archived,
            my_role=record.my_role,
            members=[ProjectMember.from_record(m) for m in record.members],
            created_at=record.created_at,
            version=record.version,
        )


@strawberry.type(
    name="ProjectInvitation",
    description="An invitation of an email address to a project, in a role.",
)
class ProjectInvitation(Node):
    """An invitation of an email address to a project."""

    id: strawberry.ID = strawberry.field(description="The invitation's id.")
    project_name: str = strawberry.field(description="The name of the project.")
    invited_by: PublicUser = strawberry.field(description="The owner who invited.")
    email: str = strawberry.field(description="The invited address.")
    role: Role = strawberry.field(description="The role the invitee gets on accepting.")
    state: InvitationState = strawberry.field(description="Where the invitation stands.")
    created_at: datetime = strawberry.field(description="When it was sent.")

    @classmethod
    def from_record(cls, record: InvitationRecord) -> ProjectInvitation:
        """The GraphQL view of an invitation record."""
        return cls(
            id=strawberry.ID(str(record.id)),
            project_name=record.project_name,
            invited_by=PublicUser(
                id=strawberry.ID(str(record.invited_by)), email=record.invited_by_email
            ),
            email=record.email,
            role=record.role,
            state=record.state,
            created_at=record.created_at,
        )
