"""The Project aggregate: a shared space with members in roles; every change raises an event.

Who may do what is decided here, once: `Project.require(user, role)` answers NOT_FOUND to a
non-member (exactly as for a project that does not exist) and FORBIDDEN to a member whose role
is below the one needed. Membership changes keep at least one OWNER while members remain.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from taskstream.errors import Conflict, Forbidden, InvalidInput, NotFound

PROJECT_NAME_MAX = 100
# Members per project, counting pending invitations (each may become a member).
MEMBERS_MAX = 50
PENDING_INVITATIONS_MAX = 50
# Projects a user may belong to (created or joined).
PROJECTS_PER_USER_MAX = 200
# Pending invitations to one address listed by myInvitations (the oldest first).
INVITATIONS_LISTED_MAX = 100
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class Role(enum.Enum):
    """A member's role: OWNER has all rights, EDITOR changes content, VIEWER reads."""

    OWNER = "OWNER"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        """Higher ranks include the rights of lower ones."""
        return _RANK[self]


_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.OWNER: 2}


class InvitationState(enum.Enum):
    """Lifecycle of an invitation: PENDING until answered or revoked."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    REVOKED = "REVOKED"


def clean_project_name(name: str) -> str:
    """The name trimmed, or InvalidInput when empty or too long."""
    trimmed = " ".join(name.split())
    if not 1 <= len(trimmed) <= PROJECT_NAME_MAX:
        raise InvalidInput("name", f"must be 1 to {PROJECT_NAME_MAX} characters after trimming")
    return trimmed


def clean_color(color: str | None) -> str | None:
    """The color as #rrggbb (lower case), None for none, or InvalidInput."""
    if color is None or color == "":
        return None
    if not _COLOR.match(color):
        raise InvalidInput("color", "must be a hex color such as #3a7bd5, or empty for none")
    return color.lower()


@dataclass(slots=True)
class Member:
    """A user's membership of a project."""

    user_id: uuid.UUID
    role: Role
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectChange:
    """Base of the project's domain events: which project, by whom, at which version, when."""

    project_id: uuid.UUID
    actor_id: uuid.UUID
    version: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ProjectCreated(ProjectChange):
    """A project was created by its first owner."""

    name: str
    color: str | None


@dataclass(frozen=True, slots=True)
class ProjectUpdated(ProjectChange):
    """Name, color or archived flag changed (the state after)."""

    name: str
    color: str | None
    archived: bool


@dataclass(frozen=True, slots=True)
class ProjectDeleted(ProjectChange):
    """The project is gone; these were its members."""

    member_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class MemberAdded(ProjectChange):
    """A user joined."""

    member_id: uuid.UUID
    role: Role


@dataclass(frozen=True, slots=True)
class MemberChanged(ProjectChange):
    """A member's role changed."""

    member_id: uuid.UUID
    role: Role
    previous_role: Role


@dataclass(frozen=True, slots=True)
class MemberRemoved(ProjectChange):
    """A member was removed or left; `role` is their last role."""

    member_id: uuid.UUID
    role: Role


@dataclass(frozen=True, slots=True)
class InvitationChanged(ProjectChange):
    """An invitation was created, answered or revoked (by `state`)."""

    invitation_id: uuid.UUID
    role: Role
    state: InvitationState
    invitee_id: uuid.UUID | None = None
    created: bool = False


@dataclass(slots=True)
class Invitation:
    """An invitation of an email address to a project, in some role."""

    id: uuid.UUID
    project_id: uuid.UUID
    email: str
    email_key: str
    role: Role
    state: InvitationState
    invited_by: uuid.UUID
    created_at: datetime
    answered_at: datetime | None = None


@dataclass(slots=True)
class Project:
    """A shared project and its members; changes go through its methods, which raise events."""

    id: uuid.UUID
    name: str
    color: str | None
    archived: bool
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int
    members: dict[uuid.UUID, Member]
    events: list[ProjectChange] = field(default_factory=list)
    deleted: bool = False

    @classmethod
    def create(cls, *, owner_id: uuid.UUID, name: str, color: str | None, now: datetime) -> Project:
        """A new project whose creator is its only OWNER."""
        project = cls(
            id=uuid.uuid4(),
            name=clean_project_name(name),
            color=clean_color(color),
            archived=False,
            created_by=owner_id,
            created_at=now,
            updated_at=now,
            version=1,
            members={owner_id: Member(owner_id, Role.OWNER, now)},
        )
        project.events.append(
            ProjectCreated(project.id, owner_id, 1, now, project.name, project.color)
        )
        project.events.append(MemberAdded(project.id, owner_id, 1, now, owner_id, Role.OWNER))
        return project

    def role_of(self, user_id: uuid.UUID) -> Role | None:
        """The user's role, or None for a non-member."""
        member = self.members.get(user_id)
        return None if member is None else member.role

    def require(self, user_id: uuid.UUID, role: Role) -> Role:
        """The user's role when it is at least `role`.

        NOT_FOUND for a non-member (the project is not theirs to know about), FORBIDDEN for a
        member with a lower role.
        """
        held = self.role_of(user_id)
        if held is None:
            raise NotFound("project", self.id)
        if held.rank < role.rank:
            raise Forbidden(
                f"project {self.id}: this needs the {role.value} role, you are {held.value}"
            )
        return held

    def owners(self) -> list[uuid.UUID]:
        """The ids of the project's owners."""
        return [m.user_id for m in self.members.values() if m.role is Role.OWNER]

    def _bump(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def update(
        self,
        *,
        actor_id: uuid.UUID,
        name: str | None,
        color: str | None,
        clear_color: bool,
        archived: bool | None,
        expected_version: int | None,
        now: datetime,
    ) -> None:
        """Change the given settings (OWNER); CONFLICT when expectedVersion is stale."""
        self.require(actor_id, Role.OWNER)
        if expected_version is not None and expected_version != self.version:
            raise Conflict(
                f"expectedVersion: project {self.id} is at version {self.version}, "
                f"not {expected_version}"
            )
        new_name = clean_project_name(name) if name is not None else self.name
        new_color = (
            None if clear_color else (clean_color(color) if color is not None else self.color)
        )
        new_archived = self.archived if archived is None else archived
        if (new_name, new_color, new_archived) == (self.name, self.color, self.archived):
            return
        self.name, self.color, self.archived = new_name, new_color, new_archived
        self._bump(now)
        self.events.append(
            ProjectUpdated(
                self.id, actor_id, self.version, now, self.name, self.color, self.archived
            )
        )

    def delete(self, *, actor_id: uuid.UUID, now: datetime) -> None:
        """Delete the project (OWNER)."""
        self.require(actor_id, Role.OWNER)
        self._delete(actor_id, now)

    def _delete(self, actor_id: uuid.UUID, now: datetime) -> None:
        self._bump(now)
        self.deleted = True
        self.events.append(
            ProjectDeleted(self.id, actor_id, self.version, now, tuple(self.members))
        )

    def add_member(self, *, user_id: uuid.UUID, role: Role, now: datetime) -> None:
        """Add a user who accepted an invitation (a member already keeps their role)."""
        if user_id in self.members:
            return
        if len(self.members) >= MEMBERS_MAX:
            raise Conflict(
                f"project {self.id} already has the most members allowed ({MEMBERS_MAX})"
            )
        self.members[user_id] = Member(user_id, role, now)
        self._bump(now)
        self.events.append(MemberAdded(self.id, user_id, self.version, now, user_id, role))

    def _member(self, user_id: uuid.UUID) -> Member:
        member = self.members.get(user_id)
        if member is None:
            raise NotFound("member", user_id)
        return member

    def _keep_an_owner(self, leaving: Member, action: str) -> None:
        """CONFLICT when `leaving` is the last owner and others would be left without one."""
        alone = self.owners() == [leaving.user_id] and len(self.members) > 1
        if leaving.role is Role.OWNER and alone:
            raise Conflict(
                f"userId: the last OWNER of project {self.id} cannot {action} while other "
                "members remain; make another member OWNER first"
            )

    def change_role(
        self, *, actor_id: uuid.UUID, user_id: uuid.UUID, role: Role, now: datetime
    ) -> None:
        """Give a member another role (OWNER); the last owner cannot be demoted."""
        self.require(actor_id, Role.OWNER)
        member = self._member(user_id)
        if member.role is role:
            return
        if member.role is Role.OWNER and self.owners() == [user_id]:
            raise Conflict(
                f"userId: the last OWNER of project {self.id} cannot be given another role; "
                "make another member OWNER first"
            )
        previous = member.role
        member.role = role
        self._bump(now)
        self.events.append(
            MemberChanged(self.id, actor_id, self.version, now, user_id, role, previous)
        )

    def remove_member(self, *, actor_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> None:
        """Remove a member (OWNER; anyone may remove themselves: that is leaving)."""
        if actor_id == user_id:
            self.leave(user_id=user_id, now=now)
            return
        self.require(actor_id, Role.OWNER)
        member = self._member(user_id)
        self._keep_an_owner(member, "be removed")
        self._remove(actor_id, member, now)

    def leave(self, *, user_id: uuid.UUID, now: datetime) -> None:
        """The member leaves; the last member leaving deletes the project."""
        self.require(user_id, Role.VIEWER)
        member = self.members[user_id]
        if len(self.members) == 1:
            # Nobody would be left to see it: the project goes with its last member.
            self._delete(user_id, now)
            return
        self._keep_an_owner(member, "leave")
        self._remove(user_id, member, now)

    def _remove(self, actor_id: uuid.UUID, member: Member, now: datetime) -> None:
        del self.members[member.user_id]
        self._bump(now)
        self.events.append(
            MemberRemoved(self.id, actor_id, self.version, now, member.user_id, member.role)
        )

    def record_invitation(
        self,
        invitation: Invitation,
        *,
        actor_id: uuid.UUID,
        now: datetime,
        invitee_id: uuid.UUID | None = None,
        created: bool = False,
    ) -> None:
        """Raise the event of an invitation's change (the project's version moves too)."""
        self._bump(now)
        self.events.append(
            InvitationChanged(
                self.id,
                actor_id,
                self.version,
                now,
                invitation.id,
                invitation.role,
                invitation.state,
                invitee_id,
                created,
            )
        )
