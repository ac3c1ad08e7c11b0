"""Tag use cases: rename and delete, which change every task carrying the tag.

A personal tag is its owner's to change; a project's tag is changed by its EDITORs and OWNERs.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.events import (
    TagDeleted,
    TagDeletedChanges,
    TagDeletedName,
    TagNameChange,
    TagRenamed,
    TagRenamedChanges,
)
from gateway_core.domain.model import Task, TaskChange, clean_tag_name, tag_key
from gateway_core.domain.projects import Role
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services.access import require_project_role
from taskstream.errors import NotFound


async def _changeable(uow: UnitOfWork, user_id: uuid.UUID, tag_id: uuid.UUID) -> str:
    """The tag's name when the caller may rename or delete it: their own personal tag, or a tag
    of a project where they are EDITOR or OWNER (FORBIDDEN for a VIEWER); NOT_FOUND otherwise,
    alike for another user's tag and a project the caller is not in."""
    owner_id, project_id = await uow.tags.scope_of(tag_id)
    if project_id is None:
        if owner_id != user_id:
            raise NotFound("tag", tag_id)
    else:
        try:
            await require_project_role(uow, user_id, project_id, Role.EDITOR, field="id")
        except NotFound:
            raise NotFound("tag", tag_id) from None
    return await uow.tags.name_of(tag_id)


async def rename_tag(
    *, uow: UnitOfWork, user_id: uuid.UUID, tag_id: uuid.UUID, name: str, now: datetime
) -> tuple[uuid.UUID, str]:
    """Rename the user's tag; each task carrying it records the change."""
    new_name = clean_tag_name(name, field_name="name")
    async with uow:
        old_name = await _changeable(uow, user_id, tag_id)
        if new_name != old_name:
            # Load the tasks before the rename so that their diff shows the old name.
            tasks = await _tasks_carrying(uow, tag_id)
            await uow.tags.rename(user_id, tag_id, new_name)
            await _retag(uow, tasks, old_name, replacement=new_name, now=now)
            uow.record(
                TagRenamed(
                    user_id=user_id,
                    tag_id=tag_id,
                    changes=TagRenamedChanges(name=TagNameChange(before=old_name, after=new_name)),
                ),
                at=now,
            )
        await uow.commit()
    return tag_id, new_name


async def delete_tag(
    *, uow: UnitOfWork, user_id: uuid.UUID, tag_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """Delete the user's tag and take it off every task that carried it."""
    async with uow:
        old_name = await _changeable(uow, user_id, tag_id)
        tasks = await _tasks_carrying(uow, tag_id)
        await _retag(uow, tasks, old_name, replacement=None, now=now)
        await uow.tags.remove(tag_id)
        uow.record(
            TagDeleted(
                user_id=user_id,
                tag_id=tag_id,
                changes=TagDeletedChanges(name=TagDeletedName(before=old_name)),
            ),
            at=now,
        )
        await uow.commit()
    return tag_id


async def _tasks_carrying(uow: UnitOfWork, tag_id: uuid.UUID) -> list[Task]:
    return [
        await uow.tasks.get(owner_id, task_id)
        for task_id, owner_id in await uow.tags.tasks_carrying(tag_id)
    ]


async def _retag(
    uow: UnitOfWork, tasks: list[Task], old_name: str, *, replacement: str | None, now: datetime
) -> None:
    old_key = tag_key(old_name)
    for task in tasks:
        names = [n for n in task.tags if tag_key(n) != old_key]
        if replacement is not None:
            names = [replacement if tag_key(n) == old_key else n for n in task.tags]
        task.update(TaskChange(tags=names), now=now)
        if task.events:
            await uow.tasks.save(task)
