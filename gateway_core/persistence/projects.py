"""Projects, members and invitations: the repository (inside a unit of work) and the reads."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway_core.domain.model import TaskStatus
from gateway_core.domain.projects import (
    INVITATIONS_LISTED_MAX,
    Invitation,
    InvitationState,
    Member,
    Project,
    Role,
)
from gateway_core.persistence import tables as t
from gateway_core.persistence.structure import ListKey, note_lock
from taskstream.errors import Conflict, NotFound
from taskstream.persistence import driver

# The caller's membership row share-locked, then (a member only) a try for a sibling list's
# order lock: the role check and a task creation's list lock in one round trip. MATERIALIZED
# keeps that order (the row locked before the lock function runs). A try, not a wait: a create
# appends without the lock when another transaction holds it (structure.placement).
# Constant text, prepared once per connection.
ROLE_AND_LOCK = (
    "WITH member AS MATERIALIZED (SELECT role FROM gateway.project_members"
    " WHERE project_id = $1::uuid AND user_id = $2::uuid FOR SHARE)"
    " SELECT role, pg_try_advisory_xact_lock(hashtextextended($3::text, 0)) FROM member"
)


def _invitation(row: Any) -> Invitation:
    return Invitation(
        id=row.id,
        project_id=row.project_id,
        email=row.email,
        email_key=row.email_key,
        role=Role(row.role),
        state=InvitationState(row.state),
        invited_by=row.invited_by,
        created_at=row.created_at,
        answered_at=row.answered_at,
    )


class ProjectRepository:
    """Loads projects locked for the transaction, so membership changes are serialised."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.seen: list[Project] = []
        # Each loaded project's members and roles as stored, so `save` writes only changes.
        self._loaded: dict[uuid.UUID, dict[uuid.UUID, Role]] = {}

    async def get(self, project_id: uuid.UUID) -> Project:
        """The project, its row locked until commit; NOT_FOUND when there is none."""
        row = (
            await self.connection.execute(
                select(t.projects).where(t.projects.c.id == project_id).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("project", project_id)
        members = await self.connection.execute(
            select(t.project_members).where(t.project_members.c.project_id == project_id)
        )
        project = Project(
            id=row.id,
            name=row.name,
            color=row.color,
            archived=row.archived,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            members={m.user_id: Member(m.user_id, Role(m.role), m.added_at) for m in members},
        )
        self._loaded[project.id] = {m.user_id: m.role for m in project.members.values()}
        self.seen.append(project)
        return project

    async def add(self, project: Project) -> None:
        """Store a new project with its members."""
        await self.connection.execute(insert(t.projects).values(**self._row(project)))
        await self._write_members(project)
        self._loaded[project.id] = {m.user_id: m.role for m in project.members.values()}
        self.seen.append(project)

    async def save(self, project: Project) -> None:
        """Store a loaded project's changes (or delete it when it was deleted)."""
        if project.deleted:
            held = await self.task_count(project.id)
            if held:
                # Deleting a project never takes its tasks with it silently.
                raise Conflict(
                    f"id: project {project.id} still holds {held} tasks; delete them first"
                )
            await self.connection.execute(delete(t.projects).where(t.projects.c.id == project.id))
            return
        await self.connection.execute(
            update(t.projects).where(t.projects.c.id == project.id).values(**self._row(project))
        )
        # Only the members that changed: rewriting (or upserting) every row would lock the
        # rows of members who did not change, which their concurrent task writes share-lock
        # (`role_of`): they would deadlock with this change or find their row gone.
        loaded = self._loaded.get(project.id, {})
        gone = [user for user in loaded if user not in project.members]
        if gone:
            await self.connection.execute(
                delete(t.project_members).where(
                    t.project_members.c.project_id == project.id,
                    t.project_members.c.user_id.in_(gone),
                )
            )
        for member in project.members.values():
            before = loaded.get(member.user_id)
            if before is None:
                await self.connection.execute(
                    insert(t.project_members).values(
                        project_id=project.id,
                        user_id=member.user_id,
                        role=member.role.value,
                        added_at=member.added_at,
                    )
                )
            elif before is not member.role:
                await self.connection.execute(
                    update(t.project_members)
                    .where(
                        t.project_members.c.project_id == project.id,
                        t.project_members.c.user_id == member.user_id,
                    )
                    .values(role=member.role.value)
                )
        self._loaded[project.id] = {m.user_id: m.role for m in project.members.values()}

    async def _write_members(self, project: Project) -> None:
        if project.members:
            await self.connection.execute(
                insert(t.project_members).values(
                    [
                        {
                            "project_id": project.id,
                            "user_id": m.user_id,
                            "role": m.role.value,
                            "added_at": m.added_at,
                        }
                        for m in project.members.values()
                    ]
                )
            )

    async def role_of(
        self, project_id: uuid.UUID, user_id: uuid.UUID, *, locking: ListKey | None = None
    ) -> Role | None:
        """The user's role in the project, or None; the membership row is share-locked until
        commit, so a removal waits for the change it is checked for.

        `locking`: a sibling list of the project whose lock to try for the transaction in the
        same statement (after the membership row, as separate statements would), when the
        caller is a member; `structure.lock_list` and `placement` then take it from
        there (the first waits for it if the try found it held).
        """
        if locking is not None:
            row = await driver.fetchrow(
                self.connection, ROLE_AND_LOCK, project_id, user_id, locking.lock_name()
            )
            if row is None:
                return None
            note_lock(self.connection, locking, held=bool(row[1]))
            return Role(row[0])
        role = await self.connection.scalar(
            select(t.project_members.c.role)
            .where(
                t.project_members.c.project_id == project_id,
                t.project_members.c.user_id == user_id,
            )
            .with_for_update(read=True)
        )
        return None if role is None else Role(role)

    async def task_count(self, project_id: uuid.UUID) -> int:
        """How many tasks the project holds."""
        count = await self.connection.scalar(
            select(func.count()).where(t.tasks.c.project_id == project_id)
        )
        return int(count or 0)

    @staticmethod
    def _row(project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "color": project.color,
            "archived": project.archived,
            "created_by": project.created_by,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
            "version": project.version,
        }

    async def project_ids_of(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """The projects the user belongs to, in a fixed order (so two deletions lock alike)."""
        rows = await self.connection.execute(
            select(t.project_members.c.project_id)
            .where(t.project_members.c.user_id == user_id)
            .order_by(t.project_members.c.project_id)
        )
        return [row.project_id for row in rows]

    async def memberships(self, user_id: uuid.UUID) -> int:
        """How many projects the user belongs to."""
        count = await self.connection.scalar(
            select(func.count()).where(t.project_members.c.user_id == user_id)
        )
        return int(count or 0)

    async def lock_user(self, user_id: uuid.UUID) -> None:
        """Serialise joins of one user, so the projects-per-user limit holds under concurrency."""
        await self.connection.execute(
            select(t.users.c.id).where(t.users.c.id == user_id).with_for_update()
        )

    async def pending_invitations(self, project_id: uuid.UUID) -> int:
        """How many invitations of the project are pending."""
        count = await self.connection.scalar(
            select(func.count()).where(
                t.project_invitations.c.project_id == project_id,
                t.project_invitations.c.state == InvitationState.PENDING.value,
            )
        )
        return int(count or 0)

    async def add_invitation(self, invitation: Invitation) -> None:
        """Store a new invitation; CONFLICT when the email already has a pending one."""
        try:
            async with self.connection.begin_nested():
                await self.connection.execute(
                    insert(t.project_invitations).values(
                        id=invitation.id,
                        project_id=invitation.project_id,
                        email=invitation.email,
                        email_key=invitation.email_key,
                        role=invitation.role.value,
                        state=invitation.state.value,
                        invited_by=invitation.invited_by,
                        created_at=invitation.created_at,
                    )
                )
        except IntegrityError as error:
            raise Conflict("email: this address already has a pending invitation") from error

    async def get_invitation(self, invitation_id: uuid.UUID) -> Invitation:
        """The invitation, locked until commit; NOT_FOUND when there is none."""
        row = (
            await self.connection.execute(
                select(t.project_invitations)
                .where(t.project_invitations.c.id == invitation_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("invitation", invitation_id)
        return _invitation(row)

    async def save_invitation(self, invitation: Invitation) -> None:
        """Store an invitation's new state."""
        await self.connection.execute(
            update(t.project_invitations)
            .where(t.project_invitations.c.id == invitation.id)
            .values(state=invitation.state.value, answered_at=invitation.answered_at)
        )


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member as other members see them."""

    user_id: uuid.UUID
    email: str
    role: Role
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project as the caller sees it: with their role and the members."""

    id: uuid.UUID
    name: str
    color: str | None
    archived: bool
    created_at: datetime
    version: int
    my_role: Role
    members: tuple[MemberRecord, ...]


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    """An invitation with what its reader may know of the project and the inviter."""

    id: uuid.UUID
    project_id: uuid.UUID
    project_name: str
    invited_by: uuid.UUID
    invited_by_email: str
    email: str
    role: Role
    state: InvitationState
    created_at: datetime


async def projects_of(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    *,
    project_ids: Sequence[uuid.UUID] | None = None,
    include_archived: bool = True,
) -> list[ProjectRecord]:
    """The user's projects (or those among the ids given they belong to), in the user's
    order (projects never ordered after the ordered ones, by name)."""
    mine = t.project_members.alias("mine")
    query = (
        select(t.projects, mine.c.role.label("my_role"))
        .join(mine, and_(mine.c.project_id == t.projects.c.id, mine.c.user_id == user_id))
        .order_by(*_sidebar_order(mine))
    )
    if project_ids is not None:
        query = query.where(t.projects.c.id.in_(list(project_ids)))
    if not include_archived:
        query = query.where(t.projects.c.archived.is_(False))
    rows = (await connection.execute(query)).all()
    if not rows:
        return []
    member_rows = await connection.execute(
        select(t.project_members, t.users.c.email)
        .join(t.users, t.users.c.id == t.project_members.c.user_id)
        .where(t.project_members.c.project_id.in_([r.id for r in rows]))
        .order_by(t.project_members.c.added_at, t.project_members.c.user_id)
    )
    members: dict[uuid.UUID, list[MemberRecord]] = {}
    for m in member_rows:
        members.setdefault(m.project_id, []).append(
            MemberRecord(m.user_id, m.email, Role(m.role), m.added_at)
        )
    return [
        ProjectRecord(
            id=r.id,
            name=r.name,
            color=r.color,
            archived=r.archived,
            created_at=r.created_at,
            version=r.version,
            my_role=Role(r.my_role),
            members=tuple(members.get(r.id, [])),
        )
        for r in rows
    ]


def _sidebar_order(membership: Any) -> list[Any]:
    """The ORDER BY of a user's projects: their own order, then by name."""
    return [
        membership.c.sidebar_position.asc().nulls_last(),
        func.lower(t.projects.c.name),
        t.projects.c.id,
    ]


async def sidebar_of(connection: AsyncConnection, user_id: uuid.UUID) -> list[Any]:
    """The user's memberships (project_id, sidebar_position) in their order."""
    mine = t.project_members.alias("mine")
    rows = await connection.execute(
        select(mine.c.project_id, mine.c.sidebar_position)
        .join(t.projects, t.projects.c.id == mine.c.project_id)
        .where(mine.c.user_id == user_id)
        .order_by(*_sidebar_order(mine))
    )
    return list(rows.all())


async def set_sidebar_positions(
    connection: AsyncConnection, user_id: uuid.UUID, positions: Mapping[uuid.UUID, str | None]
) -> None:
    """Store the user's positions of these projects (one statement per project)."""
    for project_id, position in positions.items():
        await connection.execute(
            update(t.project_members)
            .where(
                t.project_members.c.project_id == project_id,
                t.project_members.c.user_id == user_id,
            )
            .values(sidebar_position=position)
        )


async def open_task_counts(
    connection: AsyncConnection, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many open tasks each project holds (projects with none may be absent).

    Added up from the kept counts (gateway_0015): a project's rows of open tasks, top-level
    and subtasks, each key split over as many rows as it had writers at once; no task is read.
    """
    counts = t.task_counts.c
    rows = await connection.execute(
        select(counts.scope, func.sum(counts.tasks))
        .where(
            ~counts.personal,
            counts.scope.in_(list(project_ids)),
            counts.status == TaskStatus.OPEN.value,
        )
        .group_by(counts.scope)
    )
    return {row[0]: int(row[1]) for row in rows}


async def is_member(connection: AsyncConnection, user_id: uuid.UUID, project_id: uuid.UUID) -> bool:
    """Whether the user belongs to the project now."""
    found = await connection.scalar(
        select(t.project_members.c.role).where(
            t.project_members.c.project_id == project_id,
            t.project_members.c.user_id == user_id,
        )
    )
    return found is not None


async def project_of(
    connection: AsyncConnection, user_id: uuid.UUID, project_id: uuid.UUID
) -> ProjectRecord:
    """The project when the user is a member; NOT_FOUND otherwise (as if it did not exist)."""
    found = await projects_of(connection, user_id, project_ids=[project_id])
    if not found:
        raise NotFound("project", project_id)
    return found[0]


def _invitations_query() -> Any:
    inviter = t.users.alias("inviter")
    return (
        select(
            t.project_invitations,
            t.projects.c.name.label("project_name"),
            inviter.c.email.label("invited_by_email"),
        )
        .join(t.projects, t.projects.c.id == t.project_invitations.c.project_id)
        .join(inviter, inviter.c.id == t.project_invitations.c.invited_by)
        .order_by(t.project_invitations.c.created_at, t.project_invitations.c.id)
    )


def _invitation_record(row: Any) -> InvitationRecord:
    return InvitationRecord(
        id=row.id,
        project_id=row.project_id,
        project_name=row.project_name,
        invited_by=row.invited_by,
        invited_by_email=row.invited_by_email,
        email=row.email,
        role=Role(row.role),
        state=InvitationState(row.state),
        created_at=row.created_at,
    )


async def invitations_to(connection: AsyncConnection, email_key: str) -> list[InvitationRecord]:
    """The pending invitations to this email address, the oldest INVITATIONS_LISTED_MAX."""
    rows = await connection.execute(
        _invitations_query()
        .where(
            t.project_invitations.c.email_key == email_key,
            t.project_invitations.c.state == InvitationState.PENDING.value,
        )
        .limit(INVITATIONS_LISTED_MAX)
    )
    return [_invitation_record(r) for r in rows]


async def invitations_of_project(
    connection: AsyncConnection, project_id: uuid.UUID
) -> list[InvitationRecord]:
    """The project's pending invitations (at most PENDING_INVITATIONS_MAX), oldest first."""
    rows = await connection.execute(
        _invitations_query().where(
            t.project_invitations.c.project_id == project_id,
            t.project_invitations.c.state == InvitationState.PENDING.value,
        )
    )
    return [_invitation_record(r) for r in rows]


async def invitation_by_id(
    connection: AsyncConnection, invitation_id: uuid.UUID
) -> InvitationRecord | None:
    """One invitation, if it exists (callers decide who may see it)."""
    row = (
        await connection.execute(
            _invitations_query().where(t.project_invitations.c.id == invitation_id)
        )
    ).first()
    return None if row is None else _invitation_record(row)
