"""Structure of tasks in the database: sibling lists and their positions, subtask trees,
sections.

A sibling list is the tasks sharing a scope (a project, or one user's inbox), a section and a
parent. Changes to one list's order take the list's transaction-scoped advisory lock first, so
two members placing tasks in one list at once are serialised: the second one reads the first
one's position and both positions stay distinct (the unique index tasks_sibling_position is
the guard behind it).

Appending a new task does not wait for that lock: when another transaction holds it, the new
task's key gets a tiebreak from a sequence instead (`placement`), so a list's concurrent
creates run side by side rather than one commit after another.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway_core.domain.model import Task
from gateway_core.domain.positions import key_between, tiebreak
from gateway_core.domain.projects import Project
from gateway_core.domain.sections import Section
from gateway_core.persistence import tables as t
from taskstream.persistence import driver


@dataclass(frozen=True, slots=True)
class ListKey:
    """One sibling list: the scope (project, else the inbox's owner), section and parent."""

    owner_id: uuid.UUID
    project_id: uuid.UUID | None
    section_id: uuid.UUID | None
    parent_id: uuid.UUID | None

    @classmethod
    def of_task(cls, task: Task) -> ListKey:
        """The list a task is in."""
        return cls(task.user_id, task.project_id, task.section_id, task.parent_id)

    def conditions(self) -> list[Any]:
        """SQL conditions selecting the list's tasks."""
        found: list[Any] = []
        if self.project_id is None:
            found += [t.tasks.c.project_id.is_(None), t.tasks.c.user_id == self.owner_id]
        else:
            found.append(t.tasks.c.project_id == self.project_id)
        for column, value in (
            (t.tasks.c.section_id, self.section_id),
            (t.tasks.c.parent_id, self.parent_id),
        ):
            found.append(column.is_(None) if value is None else column == value)
        return found

    def lock_name(self) -> str:
        """The text the list's advisory lock is keyed by."""
        scope = self.project_id or self.owner_id
        return f"tasks:{scope}:{self.section_id}:{self.parent_id}"


# Where a connection notes, for its current transaction, the list locks it holds (True) and
# those it found held by another transaction (False).
LIST_LOCKS = "taskstream.list_locks"
# Constant text, prepared once per connection (so are the statements built from the fragments
# of `placement`).
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))"


def _list_locks(connection: AsyncConnection) -> dict[str, bool] | None:
    """The list locks noted for the connection's current transaction (None: outside one).

    The info dict is the pooled connection's and outlives the transaction: what an earlier
    transaction noted is dropped here, never trusted.
    """
    sync = connection.sync_connection
    transaction = sync.get_transaction() if sync is not None else None
    if transaction is None:
        return None
    noted = connection.info.get(LIST_LOCKS)
    if noted is None or noted[0] is not transaction:
        locks: dict[str, bool] = {}
        connection.info[LIST_LOCKS] = (transaction, locks)
        return locks
    found: dict[str, bool] = noted[1]
    return found


def holds_lock(connection: AsyncConnection, key: ListKey) -> bool:
    """Whether the connection's current transaction already holds the list's lock."""
    locks = _list_locks(connection)
    return locks is not None and locks.get(key.lock_name()) is True


def note_lock(connection: AsyncConnection, key: ListKey, *, held: bool) -> None:
    """Note whether the current transaction holds the list's lock (`held`) or found it held by
    another (a statement that did more besides tried it, e.g. the role check), so that it is
    not tried again."""
    locks = _list_locks(connection)
    if locks is not None:
        locks[key.lock_name()] = held


async def lock_list(connection: AsyncConnection, key: ListKey) -> None:
    """Hold the list's order lock until the transaction ends (no statement if held already)."""
    if holds_lock(connection, key):
        return
    await driver.fetch(connection, LOCK, key.lock_name())
    note_lock(connection, key, held=True)


async def placement(
    connection: AsyncConnection, key: ListKey, tag_keys: Sequence[str]
) -> tuple[str, list[str]]:
    """A position after the list's last task, without waiting for another writer of the list,
    and the names of the list scope's existing tags among `tag_keys` (their stored spelling),
    in one statement.

    When this transaction holds the list's lock (a subtask's creation waits for it, to count
    its limits; in a project the role check's statement tries it), the key is the short
    successor of the last one. The last position is read by a later statement than the one
    that took the lock, so under READ COMMITTED it sees what the previous holder wrote.

    Otherwise the lock is neither taken nor tried (a statement of its own, for a key a few
    characters shorter): the key is the successor of the last committed key followed by a
    tiebreak, the next value of a sequence read in the same statement as the last position.
    It stays distinct from the key of every concurrent append (another number) and move (no
    tiebreak, or another number), and the next append's successor is short again.

    The statement takes no lock and needs no transaction: it runs on its own when nothing has
    begun the connection's transaction yet (no BEGIN before it).
    """
    held = holds_lock(connection, key)
    # `ListKey.conditions` as constant text (one per shape of the key): prepared once per
    # connection, nothing compiled per call.
    conditions: list[str] = []
    values: list[Any] = []

    def equals(column: str, value: uuid.UUID) -> None:
        values.append(value)
        conditions.append(f"{column} = ${len(values)}::uuid")

    if key.project_id is None:
        conditions.append("project_id IS NULL")
        equals("user_id", key.owner_id)
        tag_scope = "user_id = $1::uuid AND project_id IS NULL"
    else:
        equals("project_id", key.project_id)
        tag_scope = "project_id = $1::uuid"
    for column, value in (("section_id", key.section_id), ("parent_id", key.parent_id)):
        if value is None:
            conditions.append(f"{column} IS NULL")
        else:
            equals(column, value)
    # The sequence also numbers the rows bulk loads insert without a position (gateway_0006).
    number = "NULL::bigint" if held else "nextval('gateway.task_position_seq')"
    tags = "NULL::text[]"
    if tag_keys:
        values.append(list(tag_keys))
        tags = (
            "array(SELECT name FROM gateway.tags WHERE "  # noqa: S608  # nosec B608
            + f"{tag_scope} AND name_key = ANY(${len(values)}::text[]))"
        )
    row = await driver.fetchrow(
        connection,
        # Only the constant fragments above are joined, never a value.
        f"SELECT max(position), {number}, {tags} FROM gateway.tasks WHERE "  # noqa: S608  # nosec B608
        + " AND ".join(conditions),
        *values,
        standalone=True,
    )
    assert row is not None  # an aggregate without GROUP BY answers one row
    last, tiebreak_number, names = row
    following = key_between(last, None)
    position = following if tiebreak_number is None else following + tiebreak(tiebreak_number)
    return position, names or []


async def neighbour(
    connection: AsyncConnection,
    key: ListKey,
    position: str,
    *,
    after: bool,
    excluding: uuid.UUID,
) -> str | None:
    """The position next to `position` in the list (the following one when `after`), the
    task being moved left out; None at the end."""
    column = t.tasks.c.position
    query = select(column).where(*key.conditions(), t.tasks.c.id != excluding)
    if after:
        query = query.where(column > position).order_by(column.asc())
    else:
        query = query.where(column < position).order_by(column.desc())
    found: str | None = await connection.scalar(query.limit(1))
    return found


async def beyond(
    connection: AsyncConnection,
    key: ListKey,
    position: str,
    *,
    after: bool,
    excluding: uuid.UUID,
    limit: int,
) -> list[Any]:
    """Up to `limit` rows (id, user_id, position) of the list from `position` on (included),
    going up when `after`, down otherwise, the task being moved left out."""
    column = t.tasks.c.position
    query = select(t.tasks.c.id, t.tasks.c.user_id, column).where(
        *key.conditions(), t.tasks.c.id != excluding
    )
    if after:
        query = query.where(column >= position).order_by(column.asc())
    else:
        query = query.where(column <= position).order_by(column.desc())
    return list((await connection.execute(query.limit(limit))).all())


async def park_positions(connection: AsyncConnection, task_ids: Sequence[uuid.UUID]) -> None:
    """Give these tasks temporary positions ('~' and their id: after every key, distinct) so
    that their new keys can be written one by one without meeting an old one in the unique
    index tasks_sibling_position (checked row by row)."""
    await connection.execute(
        update(t.tasks)
        .where(t.tasks.c.id.in_(list(task_ids)))
        .values(position=literal("~").concat(cast(t.tasks.c.id, Text)))
    )


async def last_position(
    connection: AsyncConnection, key: ListKey, *, excluding: uuid.UUID
) -> str | None:
    """The list's last position, the given task left out."""
    found: str | None = await connection.scalar(
        select(func.max(t.tasks.c.position)).where(*key.conditions(), t.tasks.c.id != excluding)
    )
    return found


_SUBTREE = text(
    """
    WITH RECURSIVE tree(id, depth) AS (
        SELECT id, 0 FROM gateway.tasks WHERE parent_id = :root
        UNION ALL
        SELECT c.id, tree.depth + 1 FROM gateway.tasks c JOIN tree ON c.parent_id = tree.id
        WHERE tree.depth < 8
    )
    SELECT id, depth FROM tree ORDER BY depth DESC, id
    """
)

_ANCESTORS = text(
    """
    WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT id, parent_id, 1 FROM gateway.tasks WHERE id = :task
        UNION ALL
        SELECT p.id, p.parent_id, up.depth + 1 FROM gateway.tasks p JOIN up ON p.id = up.parent_id
        WHERE up.depth < 8
    )
    SELECT id, depth FROM up ORDER BY depth
    """
)


async def descendants(connection: AsyncConnection, root: uuid.UUID) -> list[tuple[uuid.UUID, int]]:
    """Every subtask under `root`, deepest first, with its depth below root's children (0)."""
    rows = await connection.execute(_SUBTREE, {"root": root})
    return [(row.id, row.depth) for row in rows]


async def ancestors(connection: AsyncConnection, task_id: uuid.UUID) -> list[uuid.UUID]:
    """The task and its ancestors, nearest first (the top-level task last)."""
    rows = await connection.execute(_ANCESTORS, {"task": task_id})
    return [row.id for row in rows]


async def child_count(connection: AsyncConnection, parent_id: uuid.UUID) -> int:
    """How many direct subtasks the task has."""
    count = await connection.scalar(
        select(func.count()).select_from(t.tasks).where(t.tasks.c.parent_id == parent_id)
    )
    return int(count or 0)


async def place_of(connection: AsyncConnection, task_id: uuid.UUID, *, lock: bool = False) -> Any:
    """The row of a task's place (user, project, section, parent, position), or None.

    `lock` key-share-locks it until commit: a task about to get a subtask cannot be deleted
    meanwhile (its deletion waits, then finds the new subtask and deletes it too).
    """
    query = select(
        t.tasks.c.id,
        t.tasks.c.user_id,
        t.tasks.c.project_id,
        t.tasks.c.section_id,
        t.tasks.c.parent_id,
        t.tasks.c.position,
    ).where(t.tasks.c.id == task_id)
    if lock:
        query = query.with_for_update(key_share=True)
    return (await connection.execute(query)).first()


async def touch_project(connection: AsyncConnection, project: Project) -> None:
    """Store a project's new version after a section change.

    Only the project's row: its memberships stay untouched (ProjectRepository.save rewrites
    them, which would wait for every task change that share-locks a membership meanwhile while
    this transaction holds a list lock such a change may be waiting for).
    """
    await connection.execute(
        update(t.projects)
        .where(t.projects.c.id == project.id)
        .values(version=project.version, updated_at=project.updated_at)
    )


def _section(row: Any) -> Section:
    return Section(row.id, row.project_id, row.name, row.position, row.created_at)


async def section(
    connection: AsyncConnection, section_id: uuid.UUID, *, lock: bool = False, share: bool = False
) -> Section | None:
    """The section, or None; `lock` locks it for its deletion or renaming, `share` for a task
    going into it (its deletion then waits and moves that task out too)."""
    query = select(t.sections).where(t.sections.c.id == section_id)
    if lock:
        query = query.with_for_update()
    elif share:
        query = query.with_for_update(key_share=True)
    row = (await connection.execute(query)).first()
    return None if row is None else _section(row)


async def sections_of(
    connection: AsyncConnection, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Section]]:
    """Each project's sections in their order."""
    rows = await connection.execute(
        select(t.sections)
        .where(t.sections.c.project_id.in_(list(project_ids)))
        .order_by(t.sections.c.project_id, t.sections.c.position, t.sections.c.id)
    )
    grouped: dict[uuid.UUID, list[Section]] = defaultdict(list)
    for row in rows:
        grouped[row.project_id].append(_section(row))
    return grouped


async def sections_by_id(
    connection: AsyncConnection, section_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Section]:
    """The sections among these ids (callers decide who may see them)."""
    rows = await connection.execute(
        select(t.sections).where(t.sections.c.id.in_(list(section_ids)))
    )
    return {row.id: _section(row) for row in rows}


async def add_section(connection: AsyncConnection, section: Section) -> None:
    """Store a new section."""
    await connection.execute(
        insert(t.sections).values(
            id=section.id,
            project_id=section.project_id,
            name=section.name,
            position=section.position,
            created_at=section.created_at,
        )
    )


async def rename_section(connection: AsyncConnection, section: Section) -> None:
    """Store a section's new name."""
    await connection.execute(
        update(t.sections).where(t.sections.c.id == section.id).values(name=section.name)
    )


async def remove_section(connection: AsyncConnection, section_id: uuid.UUID) -> None:
    """Delete a section (its tasks were moved out first)."""
    await connection.execute(delete(t.sections).where(t.sections.c.id == section_id))


async def section_count(
    connection: AsyncConnection, project_id: uuid.UUID
) -> tuple[int, str | None]:
    """How many sections the project has, and the last one's position."""
    row = (
        await connection.execute(
            select(func.count(), func.max(t.sections.c.position)).where(
                t.sections.c.project_id == project_id
            )
        )
    ).one()
    return int(row[0]), row[1]


async def top_level_of_section(
    connection: AsyncConnection, section_id: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """The section's top-level tasks in their order, at most `limit`."""
    rows = await connection.execute(
        select(t.tasks.c.id)
        .where(t.tasks.c.section_id == section_id, t.tasks.c.parent_id.is_(None))
        .order_by(t.tasks.c.position, t.tasks.c.id)
        .limit(limit)
    )
    return [row.id for row in rows]


async def tasks_in_section(connection: AsyncConnection, section_id: uuid.UUID) -> int:
    """How many tasks (subtasks included) the section holds."""
    count = await connection.scalar(
        select(func.count()).select_from(t.tasks).where(t.tasks.c.section_id == section_id)
    )
    return int(count or 0)
