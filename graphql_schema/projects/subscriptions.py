"""Live changes to the caller's projects: members, roles, settings, invitations, deletion."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from gateway_core.live import SubscriberCutOff, pushing
from graphql_schema.context import Info, Loaders
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.projects.live import close_for_refetch, member_projects, still_member
from graphql_schema.projects.types import Project
from graphql_schema.scalars import DateTime

PROJECT_KINDS = frozenset({"project"})


@strawberry.enum(name="ProjectEventKind", description="What changed in a project.")
class ProjectEventKind(enum.Enum):
    """What changed in a project."""

    UPDATED = "UPDATED"
    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    ROLE_CHANGED = "ROLE_CHANGED"
    SECTION_CHANGED = "SECTION_CHANGED"
    DELETED = "DELETED"
    INVITED = "INVITED"
    MOVED = "MOVED"


@strawberry.type(name="ProjectEvent", description="One change to one of the caller's projects.")
class ProjectEvent:
    """One change to one of the caller's projects."""

    kind: ProjectEventKind = strawberry.field(description="What changed.")
    project_id: strawberry.ID = strawberry.field(description="The project's id.")
    project: Project | None = strawberry.field(
        description=(
            "The project as the caller sees it now; null when they are no longer a member "
            "(removed, left, deleted) or not yet one (invited)."
        )
    )
    at: DateTime = strawberry.field(description="When the change was committed.")


@strawberry.type
class ProjectSubscriptions:
    """Live project changes."""

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description=(
            "Changes to the caller's projects (members, roles, settings, invitations, "
            "deletion) and invitations to them; a member removed gets that removal and "
            "nothing more of the project."
        ),
    )
    async def project_events(self, info: Info) -> AsyncGenerator[ProjectEvent, None]:
        """The caller's project changes as they happen."""
        user_id = info.context.require_user()
        try:
            async with info.context.services.live.listen(
                str(user_id), kinds=PROJECT_KINDS, projects=member_projects(info)
            ) as messages:
                async for message in messages:
                    named = str(user_id) in message.get("also", ())
                    if not named and not await still_member(info, message):
                        continue
                    project_id = uuid.UUID(message["projectId"])
                    info.context.loaders = Loaders(info.context.services.engine, user_id)
                    with pushing(message, "projectEvents"):
                        record = await info.context.loaders.project_by_id.load(project_id)
                    yield ProjectEvent(
                        kind=ProjectEventKind(message["event"]),
                        project_id=strawberry.ID(str(project_id)),
                        project=None if record is None else Project.from_record(record),
                        at=datetime.fromisoformat(message["at"]),
                    )
        except SubscriberCutOff:
            await close_for_refetch(info)
