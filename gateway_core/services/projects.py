"""Project use cases: projects, membership and invitations.

Every use case loads the project locked for its transaction (`uow.projects.get`) and lets the
aggregate decide who may do it (`Project.require`): one place answers NOT_FOUND to non-members
and FORBIDDEN to members without the role, and concurrent membership changes of one project
are serialised, so two owners demoting each other cannot leave it without an owner.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from contracts import events as wire_events
from gateway_core.domain.positions import REBALANCE_AT, key_between, keys_between
from gateway_core.domain.projects import (
    MEMBERS_MAX,
    PENDING_INVITATIONS_MAX,
    PROJECTS_PER_USER_MAX,
    Invitation,
    InvitationState,
    MemberChanged,
    MemberRemoved,
    Project,
    Role,
)
from gateway_core.domain.users import clean_email, email_key
from gateway_core.persistence import projects as project_reads
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services.tasks import unassign_member
from taskstream.errors import Conflict, InvalidInput, NotFound


async def _unassign_departed(uow: UnitOfWork, project: Project, now: datetime) -> None:
    """Unassign, in this transaction, whoever this change made unable to be an assignee: a
    member removed or gone, or one made VIEWER (an assignee is an EDITOR or OWNER)."""
    for change in project.events:
        if isinstance(change, MemberRemoved) or (
            isinstance(change, MemberChanged) and change.role is Role.VIEWER
        ):
            await unassign_member(uow, project_id=project.id, member_id=change.member_id, now=now)


async def _check_room(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    """CONFLICT when the user already belongs to as many projects as allowed."""
    await uow.projects.lock_user(user_id)
    if await uow.projects.memberships(user_id) >= PROJECTS_PER_USER_MAX:
        raise Conflict(
            f"a user may belong to at most {PROJECTS_PER_USER_MAX} projects; leave one first"
        )


async def create_project(
    *, uow: UnitOfWork, user_id: uuid.UUID, name: str, color: str | None, now: datetime
) -> Project:
    """A new project owned by the caller."""
    project = Project.create(owner_id=user_id, name=name, color=color, now=now)
    async with uow:
        await _check_room(uow, user_id)
        await uow.projects.add(project)
        await uow.commit()
    return project


async def update_project(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    name: str | None,
    color: str | None,
    clear_color: bool,
    archived: bool | None,
    expected_version: int | None,
    now: datetime,
) -> Project:
    """Change a project's settings (OWNER)."""
    async with uow:
        project = await uow.projects.get(project_id)
        project.update(
            actor_id=user_id,
            name=name,
            color=color,
            clear_color=clear_color,
            archived=archived,
            expected_version=expected_version,
            now=now,
        )
        if project.events:
            await uow.projects.save(project)
        await uow.commit()
    return project


async def delete_project(
    *, uow: UnitOfWork, user_id: uuid.UUID, project_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """Delete a project with its memberships and invitations (OWNER)."""
    async with uow:
        project = await uow.projects.get(project_id)
        project.delete(actor_id=user_id, now=now)
        await uow.projects.save(project)
        await uow.commit()
    return project_id


async def change_member_role(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    member_id: uuid.UUID,
    role: Role,
    now: datetime,
) -> Project:
    """Give a member another role (OWNER); the last owner keeps theirs."""
    async with uow:
        project = await uow.projects.get(project_id)
        project.change_role(actor_id=user_id, user_id=member_id, role=role, now=now)
        if project.events:
            await uow.projects.save(project)
            await _unassign_departed(uow, project, now)
        await uow.commit()
    return project


async def remove_member(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    member_id: uuid.UUID,
    now: datetime,
) -> Project:
    """Remove a member (OWNER), or oneself."""
    async with uow:
        project = await uow.projects.get(project_id)
        project.remove_member(actor_id=user_id, user_id=member_id, now=now)
        await uow.projects.save(project)
        await _unassign_departed(uow, project, now)
        await uow.commit()
    return project


async def leave_project(
    *, uow: UnitOfWork, user_id: uuid.UUID, project_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """The caller leaves the project (the last member leaving deletes it)."""
    async with uow:
        project = await uow.projects.get(project_id)
        project.leave(user_id=user_id, now=now)
        await uow.projects.save(project)
        await _unassign_departed(uow, project, now)
        await uow.commit()
    return project_id


async def invite(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    email: str,
    role: Role,
    now: datetime,
) -> Invitation:
    """Invite an email address (OWNER); the answer is the same whether it has an account."""
    address = clean_email(email)
    key = email_key(address)
    async with uow:
        project = await uow.projects.get(project_id)
        project.require(user_id, Role.OWNER)
        # Members are listed with their emails to every member: refusing theirs tells nothing.
        for member_id in project.members:
            member = await uow.users.get(member_id)
            if member is not None and member.email_key == key:
                raise Conflict(f"email: {address} is already a member of this project")
        pending = await uow.projects.pending_invitations(project_id)
        if pending >= PENDING_INVITATIONS_MAX:
            raise InvalidInput(
                "projectId",
                f"a project may have at most {PENDING_INVITATIONS_MAX} pending invitations; "
                "revoke some first",
            )
        if len(project.members) + pending >= MEMBERS_MAX:
            raise InvalidInput(
                "projectId",
                f"a project may have at most {MEMBERS_MAX} members and pending invitations",
            )
        invitation = Invitation(
            id=uuid.uuid4(),
            project_id=project_id,
            email=address,
            email_key=key,
            role=role,
            state=InvitationState.PENDING,
            invited_by=user_id,
            created_at=now,
        )
        await uow.projects.add_invitation(invitation)
        invitee = await uow.users.credentials(key)
        project.record_invitation(
            invitation,
            actor_id=user_id,
            now=now,
            invitee_id=None if invitee is None else invitee[0].id,
            created=True,
        )
        await uow.projects.save(project)
        await uow.commit()
    return invitation


async def revoke_invitation(
    *, uow: UnitOfWork, user_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime
) -> Invitation:
    """Revoke a pending invitation (OWNER of its project)."""
    async with uow:
        invitation = await uow.projects.get_invitation(invitation_id)
        project = await _project_of_invitation(uow, invitation, user_id)
        project.require(user_id, Role.OWNER)
        _require_pending(invitation)
        invitation.state = InvitationState.REVOKED
        invitation.answered_at = now
        await uow.projects.save_invitation(invitation)
        project.record_invitation(invitation, actor_id=user_id, now=now)
        await uow.projects.save(project)
        await uow.commit()
    return invitation


async def answer_invitation(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    invitation_id: uuid.UUID,
    accept: bool,
    now: datetime,
) -> tuple[Invitation, Project]:
    """Accept or decline an invitation to the caller's email address."""
    async with uow:
        user = await uow.users.get(user_id)
        invitation = await uow.projects.get_invitation(invitation_id)
        if user is None or invitation.email_key != user.email_key:
            # Someone else's invitation does not exist for the caller.
            raise NotFound("invitation", invitation_id)
        _require_pending(invitation)
        project = await uow.projects.get(invitation.project_id)
        if accept:
            await _check_room(uow, user_id)
            project.add_member(user_id=user_id, role=invitation.role, now=now)
        invitation.state = InvitationState.ACCEPTED if accept else InvitationState.DECLINED
        invitation.answered_at = now
        await uow.projects.save_invitation(invitation)
        project.record_invitation(invitation, actor_id=user_id, now=now)
        await uow.projects.save(project)
        await uow.commit()
    return invitation, project


async def _project_of_invitation(
    uow: UnitOfWork, invitation: Invitation, user_id: uuid.UUID
) -> Project:
    """The invitation's project; NOT_FOUND (of the invitation) for a non-member."""
    project = await uow.projects.get(invitation.project_id)
    if project.role_of(user_id) is None:
        raise NotFound("invitation", invitation.id)
    return project


def _require_pending(invitation: Invitation) -> None:
    if invitation.state is not InvitationState.PENDING:
        raise Conflict(
            f"id: invitation {invitation.id} is {invitation.state.value}, no longer PENDING"
        )


async def move_project(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    after_id: uuid.UUID | None,
    before_id: uuid.UUID | None,
    now: datetime,
) -> None:
    """Move a project in the caller's own order of their projects (any role): right after
    `after_id`, else right before `before_id`, else to the end; one ProjectMoved when its
    place changed. NOT_FOUND for a project the caller does not belong to."""
    for field, other in (("afterId", after_id), ("beforeId", before_id)):
        if other == project_id:
            raise InvalidInput(field, "must be another project than the one moved")
    async with uow:
        # One member's moves are serialised (their joins take the same lock).
        await uow.projects.lock_user(user_id)
        rows = await project_reads.sidebar_of(uow.connection, user_id)
        order = [row.project_id for row in rows]
        positions: Mapping[uuid.UUID, str | None] = {
            row.project_id: row.sidebar_position for row in rows
        }
        for wanted in (project_id, after_id, before_id):
            if wanted is not None and wanted not in positions:
                raise NotFound("project", wanted)
        if any(position is None for position in positions.values()):
            # The first order of these projects (or one joined since): keys in the order shown.
            positions = await _renumber(uow, user_id, order)
        rest = [p for p in order if p != project_id]
        if after_id is not None:
            index = rest.index(after_id) + 1
            if before_id is not None and rest.index(before_id) != index:
                raise InvalidInput("beforeId", "must be the project right after afterId")
        elif before_id is not None:
            index = rest.index(before_id)
        else:
            index = len(rest)
        low = positions[rest[index - 1]] if index > 0 else None
        high = positions[rest[index]] if index < len(rest) else None
        current = positions[project_id]
        assert current is not None
        if (low is None or low < current) and (high is None or current < high):
            await uow.commit()
            return
        position = key_between(low, high)
        if len(position) > REBALANCE_AT:
            # Many moves into one gap: even keys again for all of them (at most 200).
            position = (await _renumber(uow, user_id, [*rest[:index], project_id, *rest[index:]]))[
                project_id
            ]
        else:
            await project_reads.set_sidebar_positions(
                uow.connection, user_id, {project_id: position}
            )
        uow.record(
            wire_events.ProjectMoved(user_id=user_id, project_id=project_id, position=position),
            at=now,
        )
        await uow.commit()


async def _renumber(
    uow: UnitOfWork, user_id: uuid.UUID, order: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Give the user's projects short keys in this order (cleared first: the unique index
    is checked row by row)."""
    await project_reads.set_sidebar_positions(uow.connection, user_id, dict.fromkeys(order, None))
    keys = dict(zip(order, keys_between(None, None, len(order)), strict=True))
    await project_reads.set_sidebar_positions(uow.connection, user_id, keys)
    return keys
