"""Structure use cases: sections of projects, subtasks, and moving tasks with their subtasks.

Who may do what follows the one visibility rule (services/access.py): a task, section or
project the caller cannot see is NOT_FOUND, whatever the reason (foreign, missing, malformed);
a member without the EDITOR role is FORBIDDEN. A move checks the role on both sides: the task's
project (task_for) and the target project.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gateway_core.domain.model import Place, Task, TaskStatus
from gateway_core.domain.positions import (
    POSITION_MAX,
    REBALANCE_AT,
    REBALANCE_SIDE_MAX,
    key_between,
    keys_between,
)
from gateway_core.domain.projects import Role
from gateway_core.domain.sections import (
    DEPTH_MAX,
    SECTION_MOVE_MAX,
    SECTIONS_MAX,
    SUBTASKS_MAX,
    TREE_MAX,
    Section,
    clean_section_name,
    record_section_change,
)
from gateway_core.persistence import structure
from gateway_core.persistence.structure import ListKey
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services.access import may_be_assigned, require_project_role, task_for
from taskstream.errors import Conflict, InvalidInput, NotFound


async def visible_place(
    uow: UnitOfWork, user_id: uuid.UUID, task_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The place row of a task the caller can see (key-share-locked when `lock`); NOT_FOUND
    otherwise."""
    row = await structure.place_of(uow.connection, task_id, lock=lock)
    if row is None:
        raise NotFound("task", task_id)
    if row.project_id is None:
        if row.user_id != user_id:
            raise NotFound("task", task_id)
    elif await uow.projects.role_of(row.project_id, user_id) is None:
        raise NotFound("task", task_id)
    return row


async def visible_section(
    uow: UnitOfWork, user_id: uuid.UUID, section_id: uuid.UUID, *, share: bool = False
) -> Section:
    """A section of one of the caller's projects (key-share-locked when `share`, for a task
    going into it); NOT_FOUND otherwise."""
    section = await structure.section(uow.connection, section_id, share=share)
    if section is None or await uow.projects.role_of(section.project_id, user_id) is None:
        raise NotFound("section", section_id)
    return section


async def check_room_under(
    uow: UnitOfWork, parent_id: uuid.UUID, *, levels: int, tasks: int
) -> None:
    """BAD_USER_INPUT when `tasks` tasks `levels` deep would not fit under the parent: at most
    DEPTH_MAX levels, SUBTASKS_MAX direct subtasks and TREE_MAX tasks in one tree."""
    chain = await structure.ancestors(uow.connection, parent_id)
    if len(chain) + levels > DEPTH_MAX:
        raise InvalidInput(
            "parentId",
            f"tasks nest at most {DEPTH_MAX} levels: the parent is at level {len(chain)} and "
            f"the task brings {levels}",
        )
    if await structure.child_count(uow.connection, parent_id) >= SUBTASKS_MAX:
        raise InvalidInput("parentId", f"a task may have at most {SUBTASKS_MAX} direct subtasks")
    tree = 1 + len(await structure.descendants(uow.connection, chain[-1]))
    if tree + tasks > TREE_MAX:
        raise InvalidInput(
            "parentId", f"a task and all its subtasks may be at most {TREE_MAX} tasks"
        )


async def place_new_task(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    *,
    project_id: uuid.UUID | None,
    section_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
) -> tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
    """Where a new task goes (project, section, parent), checking role, depth and limits."""
    if parent_id is not None:
        parent = await visible_place(uow, user_id, parent_id, lock=True)
        if project_id is not None and project_id != parent.project_id:
            raise InvalidInput(
                "projectId", "a subtask lives in its parent's project: omit it or give that one"
            )
        if section_id is not None and section_id != parent.section_id:
            raise InvalidInput(
                "sectionId", "a subtask lives in its parent's section: omit it or give that one"
            )
        owner = parent.user_id if parent.project_id is None else user_id
        siblings = ListKey(owner, parent.project_id, parent.section_id, parent_id)
        if parent.project_id is not None:
            await require_project_role(
                uow, user_id, parent.project_id, Role.EDITOR, field="parentId", locking=siblings
            )
        # The subtask limits are checked under the list's lock, so this one waits for it (no
        # statement when the role check's try took it); placement finds it held.
        await structure.lock_list(uow.connection, siblings)
        await check_room_under(uow, parent_id, levels=1, tasks=1)
        return parent.project_id, parent.section_id, parent_id
    if section_id is not None:
        section = await visible_section(uow, user_id, section_id, share=True)
        if project_id is not None and project_id != section.project_id:
            raise InvalidInput("sectionId", "the section belongs to another project")
        await require_project_role(
            uow,
            user_id,
            section.project_id,
            Role.EDITOR,
            field="sectionId",
            locking=ListKey(user_id, section.project_id, section.id, None),
        )
        return section.project_id, section.id, None
    if project_id is not None:
        await require_project_role(
            uow,
            user_id,
            project_id,
            Role.EDITOR,
            field="projectId",
            locking=ListKey(user_id, project_id, None, None),
        )
    return project_id, None, None


async def _subtree(uow: UnitOfWork, root: uuid.UUID) -> list[Task]:
    """The subtasks under `root`, deepest first, each locked until commit."""
    found = []
    for task_id, _ in await structure.descendants(uow.connection, root):
        row = await structure.place_of(uow.connection, task_id)
        if row is not None:
            found.append(await uow.tasks.get(row.user_id, task_id))
    return found


async def complete_subtasks(uow: UnitOfWork, task: Task, *, now: datetime) -> None:
    """Complete the open subtasks of a task just completed, each with its own event."""
    for sub in await _subtree(uow, task.id):
        if sub.status is TaskStatus.OPEN:
            sub.complete(now=now)
            await uow.tasks.save(sub)


async def delete_subtasks(uow: UnitOfWork, task: Task, *, now: datetime) -> None:
    """Delete the subtasks of a task being deleted (deepest first), each with its own event."""
    for sub in await _subtree(uow, task.id):
        sub.delete(now=now)
        await uow.tasks.remove(sub)


async def copy_subtasks(
    uow: UnitOfWork, completed: Task, instance: Task, *, now: datetime, source: str
) -> int:
    """Copy the completed instance's subtask tree, open, under the series' next instance
    (each copy with its own TaskCreated event, in the caller's transaction); how many.

    The copy keeps the tree's shape, so depth and direct-subtask limits hold as they did for
    the source; only a next instance that is itself a subtask adds to a tree it shares, and
    then the copy stops (parents before children) where the tree would pass TREE_MAX.
    """
    children: dict[uuid.UUID, list[Task]] = {}
    for task_id, _ in await structure.descendants(uow.connection, completed.id):
        row = await structure.place_of(uow.connection, task_id)
        if row is not None:
            sub = await uow.tasks.get(row.user_id, task_id)
            assert sub.parent_id is not None
            children.setdefault(sub.parent_id, []).append(sub)
    room = TREE_MAX - 1
    if instance.parent_id is not None:
        chain = await structure.ancestors(uow.connection, instance.id)
        room = TREE_MAX - 1 - len(await structure.descendants(uow.connection, chain[-1]))
    shift = (
        instance.due_at - completed.due_at
        if instance.due_at is not None and completed.due_at is not None
        else None
    )
    copied = {completed.id: instance.id}
    # Breadth first, each list in its order: a cut at the limit keeps every copy's parent.
    queue = sorted(children.get(completed.id, []), key=lambda task: task.position)
    while queue and len(copied) - 1 < room:
        source_task = queue.pop(0)
        assert source_task.parent_id is not None
        copy = source_task.copy_under(
            parent_id=copied[source_task.parent_id], due_shift=shift, now=now, source=source
        )
        await uow.tasks.add(copy)
        copied[source_task.id] = copy.id
        queue += sorted(children.get(source_task.id, []), key=lambda task: task.position)
    return len(copied) - 1


async def _sibling_position(
    uow: UnitOfWork, user_id: uuid.UUID, key: ListKey, sibling_id: uuid.UUID, field: str
) -> str:
    """The position of a task the caller can see in the target list; BAD_USER_INPUT when it
    is in another list."""
    row = await visible_place(uow, user_id, sibling_id)
    same_scope = key.project_id is not None or row.user_id == key.owner_id
    if not same_scope or (row.project_id, row.section_id, row.parent_id) != (
        key.project_id,
        key.section_id,
        key.parent_id,
    ):
        raise InvalidInput(
            field,
            "must be a task of the list the task moves to (same project or inbox, section "
            "and parent)",
        )
    position: str = row.position
    return position


async def _position_in(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    key: ListKey,
    task: Task,
    after_id: uuid.UUID | None,
    before_id: uuid.UUID | None,
    *,
    now: datetime,
) -> str:
    """The moved task's new position in the (locked) target list.

    afterId places it right after that sibling (before the sibling now following it, so a
    concurrent move into the same gap lands next to it, never on the same key); beforeId
    alone right before that sibling; neither keeps the position within the same list and
    appends to another list.
    """
    connection = uow.connection
    same_list = key == ListKey.of_task(task)
    after = await _sibling_position(uow, user_id, key, after_id, "afterId") if after_id else None
    before = (
        await _sibling_position(uow, user_id, key, before_id, "beforeId") if before_id else None
    )
    if after is not None and before is not None and before <= after:
        raise InvalidInput("beforeId", "must come after afterId in the list")
    if after is not None:
        low: str | None = after
        high = await structure.neighbour(connection, key, after, after=True, excluding=task.id)
    elif before is not None:
        high = before
        low = await structure.neighbour(connection, key, before, after=False, excluding=task.id)
    elif same_list:
        return task.position
    else:
        low, high = await structure.last_position(connection, key, excluding=task.id), None
    if (
        same_list
        and (low is None or low < task.position)
        and (high is None or task.position < high)
    ):
        return task.position
    position = key_between(low, high)
    if len(position) > REBALANCE_AT:
        return await _rebalance(uow, key, task, low, high, now=now) or _fitting(position)
    return position


def _fitting(position: str) -> str:
    """The position when it fits the column; CONFLICT otherwise."""
    if len(position) > POSITION_MAX:
        raise Conflict(
            "afterId: no room is left between these two tasks; move one of them elsewhere first"
        )
    return position


async def _rebalance(
    uow: UnitOfWork,
    key: ListKey,
    task: Task,
    low: str | None,
    high: str | None,
    *,
    now: datetime,
) -> str | None:
    """Give the siblings around the gap between `low` and `high` new, evenly spaced keys and
    the moved task its key among them (the list is locked); None when no window of at most
    REBALANCE_SIDE_MAX siblings on each side makes room.

    The window grows until the new keys are at most half of REBALANCE_AT long; the keys
    outside it stay. Each rewritten sibling emits its task.updated (position before and
    after), as a move does, so live clients and other replicas take the new order.
    """
    connection = uow.connection
    side = 4
    while True:
        side = min(side * 2, REBALANCE_SIDE_MAX)
        below = (
            await structure.beyond(
                connection, key, low, after=False, excluding=task.id, limit=side + 1
            )
            if low is not None
            else []
        )
        above = (
            await structure.beyond(
                connection, key, high, after=True, excluding=task.id, limit=side + 1
            )
            if high is not None
            else []
        )
        outer_low = below[side].position if len(below) > side else None
        outer_high = above[side].position if len(above) > side else None
        window = [*reversed(below[:side]), None, *above[:side]]
        keys = keys_between(outer_low, outer_high, len(window))
        longest = max(len(k) for k in keys)
        if longest <= REBALANCE_AT // 2 or side == REBALANCE_SIDE_MAX:
            break
    if longest > POSITION_MAX:
        return None
    # Loaded (and locked) before their keys are parked: each event says the key it had.
    siblings = {
        row.id: await uow.tasks.get(row.user_id, row.id) for row in window if row is not None
    }
    parked = list(siblings)
    if key == ListKey.of_task(task):
        parked.append(task.id)
    await structure.park_positions(connection, parked)
    moved_position = ""
    for row, new_key in zip(window, keys, strict=True):
        if row is None:
            moved_position = new_key
            continue
        sibling = siblings[row.id]
        sibling.move_to(
            Place(
                sibling.user_id, sibling.project_id, sibling.section_id, sibling.parent_id, new_key
            ),
            now=now,
        )
        await uow.tasks.save(sibling)
    return moved_position


async def move_task(
    *,
    uow: UnitOfWork,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    project_id: uuid.UUID | None = None,
    to_inbox: bool = False,
    section_id: uuid.UUID | None = None,
    to_no_section: bool = False,
    parent_id: uuid.UUID | None = None,
    to_top_level: bool = False,
    after_id: uuid.UUID | None = None,
    before_id: uuid.UUID | None = None,
    expected_version: int | None = None,
    now: datetime,
) -> Task:
    """Move a task with its subtasks to another project or the inbox, section (or out of
    its section) or parent, and/or between two siblings; omitted arguments keep the current
    place."""
    if project_id is not None and to_inbox:
        raise InvalidInput("toInbox", "cannot be combined with projectId")
    if section_id is not None and to_no_section:
        raise InvalidInput("toNoSection", "cannot be combined with sectionId")
    if parent_id is not None and to_top_level:
        raise InvalidInput("toTopLevel", "cannot be combined with parentId")
    if to_inbox and section_id is not None:
        raise InvalidInput("sectionId", "the inbox has no sections: omit sectionId with toInbox")
    for field, other in (("afterId", after_id), ("beforeId", before_id), ("parentId", parent_id)):
        if other == task_id:
            raise InvalidInput(field, "must be another task than the one moved")
    async with uow:
        task = await task_for(uow, user_id, task_id, Role.EDITOR)
        if expected_version is not None and expected_version != task.version:
            raise Conflict(
                f"expectedVersion: the task is at version {task.version}, not {expected_version}"
            )
        subtree = await _subtree(uow, task.id)
        below = await structure.descendants(uow.connection, task.id)
        levels = 1 + max((depth + 1 for _, depth in below), default=0)
        target = await _target(
            uow,
            user_id,
            task,
            {s.id for s in subtree},
            project_id=project_id,
            to_inbox=to_inbox,
            section_id=section_id,
            to_no_section=to_no_section,
            parent_id=parent_id,
            to_top_level=to_top_level,
        )
        owner = user_id if target[0] is None else task.user_id
        if target[0] is not None and target[0] != task.project_id:
            await require_project_role(uow, user_id, target[0], Role.EDITOR, field="projectId")
        key = ListKey(owner, *target)
        await structure.lock_list(uow.connection, key)
        if key.parent_id is not None and key.parent_id != task.parent_id:
            await check_room_under(uow, key.parent_id, levels=levels, tasks=1 + len(subtree))
        position = await _position_in(uow, user_id, key, task, after_id, before_id, now=now)
        scope_changed = (owner, key.project_id, key.section_id) != (
            task.user_id,
            task.project_id,
            task.section_id,
        )
        task.move_to(
            Place(owner, *target, position),
            now=now,
            unassign=not await _assignee_stays(uow, task, owner, key.project_id),
        )
        if task.events:
            await uow.tasks.save(task)
        if scope_changed:
            # The subtasks follow their parent into its project and section.
            for sub in subtree:
                sub_owner = user_id if key.project_id is None else sub.user_id
                sub.move_to(
                    Place(sub_owner, key.project_id, key.section_id, sub.parent_id, sub.position),
                    now=now,
                    unassign=not await _assignee_stays(uow, sub, sub_owner, key.project_id),
                )
                await uow.tasks.save(sub)
        await uow.commit()
    return task


async def _assignee_stays(
    uow: UnitOfWork, task: Task, owner_id: uuid.UUID, project_id: uuid.UUID | None
) -> bool:
    """Whether the task's assignee may keep it in the place it moves to."""
    if task.assignee_id is None or project_id == task.project_id:
        return True
    return await may_be_assigned(
        uow, owner_id=owner_id, project_id=project_id, assignee_id=task.assignee_id
    )


async def _target(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    task: Task,
    subtree: set[uuid.UUID],
    *,
    project_id: uuid.UUID | None,
    to_inbox: bool,
    section_id: uuid.UUID | None,
    to_no_section: bool,
    parent_id: uuid.UUID | None,
    to_top_level: bool,
) -> tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]:
    """The project, section and parent a move goes to."""
    if parent_id is not None:
        if parent_id in subtree:
            raise InvalidInput("parentId", "a task cannot move under its own subtask")
        parent = await visible_place(uow, user_id, parent_id, lock=True)
        if (to_inbox and parent.project_id is not None) or (
            project_id is not None and project_id != parent.project_id
        ):
            raise InvalidInput(
                "parentId", "a subtask lives in its parent's project, and this parent is elsewhere"
            )
        if section_id is not None and section_id != parent.section_id:
            raise InvalidInput("sectionId", "a subtask lives in its parent's section")
        if to_no_section and parent.section_id is not None:
            raise InvalidInput("toNoSection", "a subtask lives in its parent's section")
        return parent.project_id, parent.section_id, parent.id
    target_project, target_section = task.project_id, task.section_id
    if to_inbox:
        target_project, target_section = None, None
    elif project_id is not None and project_id != task.project_id:
        target_project, target_section = project_id, None
    if to_no_section:
        # Out of its section, staying in its project (or the project it moves to).
        target_section = None
    if section_id is not None:
        # A task staying in its section holds no lock of it (a deletion of the section
        # locks the section, then its tasks: the other order would deadlock).
        section = await visible_section(
            uow, user_id, section_id, share=section_id != task.section_id
        )
        if project_id is not None and section.project_id != project_id:
            raise InvalidInput("sectionId", "the section belongs to another project than projectId")
        target_project, target_section = section.project_id, section.id
    if to_top_level:
        return target_project, target_section, None
    if task.parent_id is not None and (target_project, target_section) != (
        task.project_id,
        task.section_id,
    ):
        raise InvalidInput(
            "toTopLevel",
            "the task's parent stays in its project and section: give toTopLevel: true, or a "
            "parentId there",
        )
    return target_project, target_section, task.parent_id


async def create_section(
    *, uow: UnitOfWork, user_id: uuid.UUID, project_id: uuid.UUID, name: str, now: datetime
) -> Section:
    """Add a section at the end of a project's sections (EDITOR)."""
    cleaned = clean_section_name(name)
    async with uow:
        project = await uow.projects.get(project_id)
        project.require(user_id, Role.EDITOR)
        count, last = await structure.section_count(uow.connection, project_id)
        if count >= SECTIONS_MAX:
            raise InvalidInput("projectId", f"a project may have at most {SECTIONS_MAX} sections")
        section = Section(uuid.uuid4(), project_id, cleaned, key_between(last, None), now)
        await structure.add_section(uow.connection, section)
        record_section_change(project, section, actor_id=user_id, what="created", now=now)
        await structure.touch_project(uow.connection, project)
        await uow.commit()
    return section


async def _editable_section(uow: UnitOfWork, user_id: uuid.UUID, section_id: uuid.UUID) -> Any:
    """The section and its project (locked) when the caller is an EDITOR of it."""
    found = await structure.section(uow.connection, section_id)
    if found is None:
        raise NotFound("section", section_id)
    project = await uow.projects.get(found.project_id)
    if project.role_of(user_id) is None:
        raise NotFound("section", section_id)
    project.require(user_id, Role.EDITOR)
    # Read again under the project's lock: a concurrent deletion has committed by now.
    section = await structure.section(uow.connection, section_id, lock=True)
    if section is None:
        raise NotFound("section", section_id)
    return section, project


async def rename_section(
    *, uow: UnitOfWork, user_id: uuid.UUID, section_id: uuid.UUID, name: str, now: datetime
) -> Section:
    """Rename a section (EDITOR)."""
    cleaned = clean_section_name(name)
    async with uow:
        section, project = await _editable_section(uow, user_id, section_id)
        if section.name != cleaned:
            section.name = cleaned
            await structure.rename_section(uow.connection, section)
            record_section_change(project, section, actor_id=user_id, what="renamed", now=now)
            await structure.touch_project(uow.connection, project)
        await uow.commit()
    assert isinstance(section, Section)
    return section


async def delete_section(
    *, uow: UnitOfWork, user_id: uuid.UUID, section_id: uuid.UUID, now: datetime
) -> uuid.UUID:
    """Delete a section (EDITOR); its tasks move, in their order and with their subtasks, to
    the end of the project's tasks without a section (one task.updated each). CONFLICT when
    it holds more than SECTION_MOVE_MAX tasks."""
    async with uow:
        section, project = await _editable_section(uow, user_id, section_id)
        held = await structure.tasks_in_section(uow.connection, section_id)
        if held > SECTION_MOVE_MAX:
            raise Conflict(
                f"id: section {section_id} holds {held} tasks, more than one request moves "
                f"({SECTION_MOVE_MAX}); move or delete some first"
            )
        tops = await structure.top_level_of_section(uow.connection, section_id, held)
        moving = []
        for task_id in tops:
            row = await structure.place_of(uow.connection, task_id)
            moving.append(await uow.tasks.get(row.user_id, task_id))
        subtasks = [sub for task in moving for sub in await _subtree(uow, task.id)]
        key = ListKey(user_id, project.id, None, None)
        await structure.lock_list(uow.connection, key)
        last = await structure.last_position(uow.connection, key, excluding=uuid.UUID(int=0))
        for task, position in zip(moving, keys_between(last, None, len(moving)), strict=True):
            task.move_to(Place(task.user_id, project.id, None, None, position), now=now)
            await uow.tasks.save(task)
        for sub in subtasks:
            sub.move_to(Place(sub.user_id, project.id, None, sub.parent_id, sub.position), now=now)
            await uow.tasks.save(sub)
        await structure.remove_section(uow.connection, section_id)
        record_section_change(
            project,
            section,
            actor_id=user_id,
            what="deleted",
            now=now,
            moved_tasks=len(moving) + len(subtasks),
        )
        await structure.touch_project(uow.connection, project)
        await uow.commit()
    return section_id
