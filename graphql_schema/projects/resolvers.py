"""Project queries and mutations; each mutation is one application service call."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from gateway_core.domain.projects import Role
from gateway_core.persistence import projects as reads
from gateway_core.services import projects as service
from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.projects.types import Project, ProjectInvitation

ProjectId = Annotated[
    strawberry.ID, strawberry.argument(description="The id of a project the caller belongs to.")
]
InvitationId = Annotated[strawberry.ID, strawberry.argument(description="An invitation's id.")]
MemberId = Annotated[
    strawberry.ID, strawberry.argument(description="The user id of a member of the project.")
]


async def _project(info: Info, project_id: uuid.UUID) -> Project:
    """The project as the caller now sees it (NOT_FOUND when they are no longer a member)."""
    async with info.context.services.engine.connect() as connection:
        record = await reads.project_of(connection, info.context.require_user(), project_id)
    return Project.from_record(record)


async def _invitation(info: Info, invitation_id: uuid.UUID) -> ProjectInvitation:
    """An invitation the caller has just changed."""
    async with info.context.services.engine.connect() as connection:
        record = await reads.invitation_by_id(connection, invitation_id)
    assert record is not None, "the invitation was changed in this request"
    return ProjectInvitation.from_record(record)


async def _membership_changed(
    info: Info, project_id: uuid.UUID, member_id: uuid.UUID | None = None, *, joined: bool = False
) -> None:
    """Tell every replica's live hub that a membership committed: who joined or left (none:
    the project was deleted), so each forgets cached memberships and updates its index."""
    await info.context.services.live.publish_membership_change(
        str(project_id), None if member_id is None else str(member_id), joined=joined
    )


@strawberry.type
class ProjectQueries:
    """The caller's projects and invitations."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "The projects the caller belongs to (at most 200), in the caller's order "
            "(moveProject); those never ordered after the others, by name."
        ),
    )
    async def projects(
        self,
        info: Info,
        include_archived: Annotated[
            bool | None, strawberry.argument(description="Include archived projects.")
        ] = False,
    ) -> list[Project]:
        """The caller's projects."""
        async with info.context.services.engine.connect() as connection:
            records = await reads.projects_of(
                connection, info.context.require_user(), include_archived=bool(include_archived)
            )
        return [Project.from_record(r) for r in records]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="One of the caller's projects; null when there is none with this id for them.",
    )
    async def project(self, info: Info, id: ProjectId) -> Project | None:
        """One of the caller's projects, or null."""
        try:
            project_id = uuid.UUID(id)
        except ValueError:
            return None
        async with info.context.services.engine.connect() as connection:
            found = await reads.projects_of(
                connection, info.context.require_user(), project_ids=[project_id]
            )
        return Project.from_record(found[0]) if found else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Pending invitations to the caller's email address, the oldest 100.",
    )
    async def my_invitations(self, info: Info) -> list[ProjectInvitation]:
        """Pending invitations to the caller."""
        user = await info.context.current_user()
        async with info.context.services.engine.connect() as connection:
            records = await reads.invitations_to(connection, user.email_key)
        return [ProjectInvitation.from_record(r) for r in records]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A project's pending invitations (at most 50), for its members.",
    )
    async def project_invitations(
        self, info: Info, project_id: ProjectId
    ) -> list[ProjectInvitation]:
        """A project's pending invitations."""
        parsed = parse_id(project_id, "project")
        async with info.context.services.engine.connect() as connection:
            # Membership first: a non-member learns nothing, not even that it exists.
            await reads.project_of(connection, info.context.require_user(), parsed)
            records = await reads.invitations_of_project(connection, parsed)
        return [ProjectInvitation.from_record(r) for r in records]


@strawberry.type
class ProjectMutations:
    """Creating projects, sharing them and leaving them."""

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Creates a project owned by the caller (a user belongs to at most 200). "
            "Emits taskstream.project.created.v1."
        ),
    )
    async def create_project(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="1 to 100 characters.")],
        color: Annotated[
            str | None, strawberry.argument(description="A hex color such as #3a7bd5.")
        ] = None,
    ) -> Project:
        """Create a project."""
        project = await service.create_project(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            name=name,
            color=color,
            now=info.context.now,
        )
        # Its creator is its first member: their tasks in it reach their sockets at once.
        await _membership_changed(info, project.id, info.context.require_user(), joined=True)
        return await _project(info, project.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Changes a project's settings (OWNER); omitted arguments stay, an empty color "
            "clears it; a stale expectedVersion is CONFLICT."
        ),
    )
    async def update_project(
        self,
        info: Info,
        id: ProjectId,
        name: Annotated[str | None, strawberry.argument(description="1 to 100 characters.")] = None,
        color: Annotated[
            str | None, strawberry.argument(description="#rrggbb, or empty to clear.")
        ] = None,
        archived: Annotated[bool | None, strawberry.argument(description="Archive it.")] = None,
        expected_version: Annotated[
            int | None, strawberry.argument(description="The version the change was based on.")
        ] = None,
    ) -> Project:
        """Change a project's settings."""
        project = await service.update_project(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(id, "project"),
            name=name,
            color=color,
            clear_color=color == "",
            archived=archived,
            expected_version=expected_version,
            now=info.context.now,
        )
        return await _project(info, project.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Deletes a project (OWNER); returns its id.",
    )
    async def delete_project(self, info: Info, id: ProjectId) -> strawberry.ID:
        """Delete a project."""
        deleted = await service.delete_project(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(id, "project"),
            now=info.context.now,
        )
        await _membership_changed(info, deleted)
        return strawberry.ID(str(deleted))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Invites an email address (OWNER); the answer is the same whether or not it has an "
            "account. At most 50 pending invitations and 50 members per project."
        ),
    )
    async def invite_to_project(
        self,
        info: Info,
        project_id: ProjectId,
        email: Annotated[str, strawberry.argument(description="The invitee's email address.")],
        role: Annotated[Role, strawberry.argument(description="The role on accepting.")],
    ) -> ProjectInvitation:
        """Invite an email address to a project."""
        invitation = await service.invite(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(project_id, "project"),
            email=email,
            role=role,
            now=info.context.now,
        )
        return await _invitation(info, invitation.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Revokes a pending invitation (OWNER of its project).",
    )
    async def revoke_invitation(self, info: Info, id: InvitationId) -> ProjectInvitation:
        """Revoke a pending invitation."""
        invitation = await service.revoke_invitation(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            invitation_id=parse_id(id, "invitation"),
            now=info.context.now,
        )
        return await _invitation(info, invitation.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Accepts an invitation to the caller's email address; returns the project.",
    )
    async def accept_invitation(self, info: Info, id: InvitationId) -> Project:
        """Join a project by its invitation."""
        _, project = await service.answer_invitation(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            invitation_id=parse_id(id, "invitation"),
            accept=True,
            now=info.context.now,
        )
        await _membership_changed(info, project.id, info.context.require_user(), joined=True)
        return await _project(info, project.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Declines an invitation to the caller's email address.",
    )
    async def decline_invitation(self, info: Info, id: InvitationId) -> ProjectInvitation:
        """Decline an invitation."""
        invitation, _ = await service.answer_invitation(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            invitation_id=parse_id(id, "invitation"),
            accept=False,
            now=info.context.now,
        )
        return await _invitation(info, invitation.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Gives a member another role (OWNER); the last owner cannot be given another role."
        ),
    )
    async def change_member_role(
        self,
        info: Info,
        project_id: ProjectId,
        user_id: MemberId,
        role: Annotated[Role, strawberry.argument(description="The member's new role.")],
    ) -> Project:
        """Change a member's role."""
        project = await service.change_member_role(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(project_id, "project"),
            member_id=parse_id(user_id, "member"),
            role=role,
            now=info.context.now,
        )
        return await _project(info, project.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Removes a member (OWNER); the last owner cannot be removed while others remain."
        ),
    )
    async def remove_member(self, info: Info, project_id: ProjectId, user_id: MemberId) -> Project:
        """Remove a member."""
        project = await service.remove_member(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(project_id, "project"),
            member_id=parse_id(user_id, "member"),
            now=info.context.now,
        )
        await _membership_changed(info, project.id, parse_id(user_id, "member"))
        return await _project(info, project.id)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Leaves a project; the last owner cannot leave while others remain, and the last "
            "member leaving deletes it. Returns the project's id."
        ),
    )
    async def leave_project(self, info: Info, project_id: ProjectId) -> strawberry.ID:
        """Leave a project."""
        left = await service.leave_project(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=parse_id(project_id, "project"),
            now=info.context.now,
        )
        # The last member leaving deletes it: then it is gone for nobody else either.
        await _membership_changed(info, left, info.context.require_user())
        return strawberry.ID(str(left))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Moves a project in the caller's own order of their projects (the sidebar; each "
            "member orders their own, any role may): right after afterId, else right before "
            "beforeId, else to the end. `projects` answers in that order. Emits "
            "taskstream.project.moved.v1 (the caller's projectEvents get MOVED)."
        ),
    )
    async def move_project(
        self,
        info: Info,
        id: ProjectId,
        after_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="One of the caller's projects to place it after."),
        ] = None,
        before_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="One of the caller's projects to place it before."),
        ] = None,
    ) -> Project:
        """Move a project in the caller's order."""
        project_id = parse_id(id, "project")
        await service.move_project(
            uow=info.context.services.uow(),
            user_id=info.context.require_user(),
            project_id=project_id,
            after_id=None if after_id is None else parse_id(after_id, "project"),
            before_id=None if before_id is None else parse_id(before_id, "project"),
            now=info.context.now,
        )
        return await _project(info, project_id)
