"""A task's tag names resolve in its scope when it is stored: what a move into a project
(moveTask) relies on, so that no tag is lost on the way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.domain.users import new_user
from gateway_core.persistence import reads
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import projects, structure, tasks

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, tzinfo=UTC)


async def test_a_task_moved_into_a_project_carries_its_names_into_the_projects_set(
    engine: AsyncEngine,
) -> None:
    user = new_user(email=f"mover-{uuid.uuid4().hex[:8]}@example.com", timezone=None)
    async with UnitOfWork(engine) as uow:
        await uow.users.add(user, "x")
        await uow.commit()
    project = await projects.create_project(
        uow=UnitOfWork(engine), user_id=user.id, name="Moves", color=None, now=NOW
    )
    # The project already has "Release" (spelt so); the task brings "release" and "Home".
    await tasks.create_task(
        uow=UnitOfWork(engine),
        user_id=user.id,
        title="already there",
        notes=None,
        priority=None,
        tags=["Release"],
        due_at=None,
        recurrence=None,
        reminders=None,
        now=NOW,
        project_id=project.id,
    )
    task = await tasks.create_task(
        uow=UnitOfWork(engine),
        user_id=user.id,
        title="moving",
        notes=None,
        priority=None,
        tags=["release", "Home"],
        due_at=None,
        recurrence=None,
        reminders=None,
        now=NOW,
    )
    await structure.move_task(
        uow=UnitOfWork(engine), user_id=user.id, task_id=task.id, project_id=project.id, now=NOW
    )
    async with engine.connect() as connection:
        carried = (await reads.tags_of_tasks(connection, [task.id]))[task.id]
        project_set = await reads.project_tags(connection, project.id)
        personal = await reads.user_tags(connection, user.id)
    assert [(tag.name, tag.project_id) for tag in carried] == [
        ("Release", project.id),
        ("Home", project.id),
    ]
    assert sorted(tag.name for tag in project_set) == ["Home", "Release"]
    # The personal tags stay in the personal set (only no longer on this task).
    assert sorted(tag.name for tag in personal) == ["Home", "release"]
