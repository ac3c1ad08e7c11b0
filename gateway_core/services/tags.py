"""Tag use cases: rename and delete, which change every task carrying the tag."""

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
from gateway_core.persistence.uow import UnitOfWork


async def rename_tag(
    *, uow: UnitOfWork, user_id: uuid.UUID, tag_id: uuid.UUID, name: str, now: datetime
) -> tuple[uuid.UUID, str]:
    """Rename the user's tag; each task carrying it records the change."""
    new_name = clean_tag_name(name, field_name="name")
    async with uow:
        _, old_name = await uow.tags.get(user_id, tag_id)
        if new_name != old_name:
            # Load the tasks before the rename so that their diff shows the old name.
            tasks = await _tasks_carrying(uow, user_id, tag_id)
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
        _, old_name = await uow.tags.get(user_id, tag_id)
        tasks = await _tasks_carrying(uow, user_id, tag_id)
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


async def _tasks_carrying(uow: UnitOfWork, user_id: uuid.UUID, tag_id: uuid.UUID) -> list[Task]:
    return [await uow.tasks.get(user_id, task_id) for task_id in await uow.tags.task_ids(tag_id)]


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
