"""Who may read or change a task: the one place that checks a task's scope.

A task lives in its owner's personal space (only the owner sees it) or in a shared project
(every member sees it, EDITOR and OWNER change it). Anyone else is told it does not exist
(NOT_FOUND), exactly as for another user's personal task; a member whose role is too low is
FORBIDDEN. The membership row is share-locked for the transaction (`role_of`), so a member
removed meanwhile cannot slip a change in after their removal committed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from gateway_core.domain.model import Task
from gateway_core.domain.projects import Role
from gateway_core.persistence import tables as t
from gateway_core.persistence.structure import ListKey
from gateway_core.persistence.uow import UnitOfWork
from taskstream.errors import Forbidden, InvalidInput, NotFound


async def require_project_role(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    need: Role,
    *,
    field: str,
    locking: ListKey | None = None,
) -> Role:
    """The caller's role in the project when it is at least `need`.

    NOT_FOUND for a non-member, FORBIDDEN (naming `field`) for a member below the role.
    `locking`: the sibling list the caller is about to add to, its lock tried in the same
    statement.
    """
    held = await uow.projects.role_of(project_id, user_id, locking=locking)
    uow.actor_id = user_id
    if held is None:
        raise NotFound("project", project_id)
    if held.rank < need.rank:
        raise Forbidden(
            f"{field}: this needs the {need.value} role in project {project_id}, "
            f"you are {held.value}"
        )
    return held


async def task_for(uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, need: Role) -> Task:
    """The task, locked for the transaction, when the caller may act on it with role `need`."""
    row = (
        await uow.connection.execute(
            select(t.tasks.c.user_id, t.tasks.c.project_id).where(t.tasks.c.id == task_id)
        )
    ).first()
    if row is None:
        raise NotFound("task", task_id)
    uow.actor_id = user_id
    if row.project_id is None:
        if row.user_id != user_id:
            raise NotFound("task", task_id)
    else:
        held = await uow.projects.role_of(row.project_id, user_id)
        if held is None:
            raise NotFound("task", task_id)
        if held.rank < need.rank:
            raise Forbidden(
                f"id: changing task {task_id} needs the {need.value} role in its project, "
                f"you are {held.value}"
            )
    # Stored under its owner (the creator); the tag names resolve in the owner's tags.
    return await uow.tasks.get(row.user_id, task_id)


# One answer for a user who does not exist, one who is not a member and a malformed id.
ASSIGNEE_RULE = (
    "must be the id of an EDITOR or OWNER member of the task's project "
    "(of yourself for a task of your personal space)"
)


async def check_assignee(
    uow: UnitOfWork,
    *,
    owner_id: uuid.UUID,
    project_id: uuid.UUID | None,
    assignee_id: uuid.UUID,
) -> None:
    """BAD_USER_INPUT (naming assigneeId) unless the user may be the task's assignee: an EDITOR
    or OWNER of its project, or in the personal space its owner only.

    The answer is the same for a user who does not exist and one who is not a member, so it
    tells nothing about other accounts.
    """
    if not await may_be_assigned(
        uow, owner_id=owner_id, project_id=project_id, assignee_id=assignee_id
    ):
        raise InvalidInput("assigneeId", ASSIGNEE_RULE)


async def may_be_assigned(
    uow: UnitOfWork,
    *,
    owner_id: uuid.UUID,
    project_id: uuid.UUID | None,
    assignee_id: uuid.UUID,
) -> bool:
    """Whether the user may be assigned a task of this owner in this project (or inbox)."""
    if project_id is None:
        return assignee_id == owner_id
    held = await uow.projects.role_of(project_id, assignee_id)
    return held is not None and held.rank >= Role.EDITOR.rank
