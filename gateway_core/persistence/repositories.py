"""Repositories: load and store aggregates inside a unit of work's transaction."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.task import recurrence_from_json, recurrence_to_json
from gateway_core.domain.model import (
    Channel,
    Priority,
    Reminder,
    ReminderState,
    Task,
    TaskStatus,
    tag_key,
)
from gateway_core.domain.users import User
from gateway_core.persistence import structure
from gateway_core.persistence import tables as t
from taskstream.errors import Conflict, NotFound
from taskstream.messaging.cloudevents import Envelope
from taskstream.persistence import driver, outbox


def reminder_from_row(row: Any) -> Reminder:
    """A Reminder from a `reminders` row."""
    return Reminder(
        id=row.id,
        remind_at=row.remind_at,
        before_due=row.before_due,
        channels=tuple(Channel(c) for c in row.channels),
        state=ReminderState(row.state),
        sent_at=row.sent_at,
    )


class UserRepository:
    """Users by id and by email."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def add(self, user: User, password_hash: str) -> None:
        """Store a new user; CONFLICT when the email is taken (case-insensitively)."""
        statement = (
            pg_insert(t.users)
            .values(
                id=user.id,
                email=user.email,
                email_key=user.email_key,
                password_hash=password_hash,
                timezone=user.timezone,
            )
            .on_conflict_do_nothing(index_elements=[t.users.c.email_key])
        )
        result = await self.connection.execute(statement)
        if result.rowcount == 0:
            raise Conflict("email: an account with this email already exists")

    async def set_timezone(self, user_id: uuid.UUID, timezone: str) -> None:
        """Store the user's new time zone."""
        await self.connection.execute(
            update(t.users).where(t.users.c.id == user_id).values(timezone=timezone)
        )

    async def get(self, user_id: uuid.UUID) -> User | None:
        """The user with this id, if any."""
        row = (
            await self.connection.execute(select(t.users).where(t.users.c.id == user_id))
        ).first()
        return None if row is None else User(row.id, row.email, row.timezone)

    async def credentials(self, email_key: str) -> tuple[User, str] | None:
        """The user with this email and their password hash, if any."""
        row = (
            await self.connection.execute(select(t.users).where(t.users.c.email_key == email_key))
        ).first()
        return None if row is None else (User(row.id, row.email, row.timezone), row.password_hash)


def tag_scope(user_id: uuid.UUID, project_id: uuid.UUID | None) -> Any:
    """The tags of one scope: a project's tag set, or else the user's personal tags."""
    if project_id is not None:
        return t.tags.c.project_id == project_id
    return and_(t.tags.c.user_id == user_id, t.tags.c.project_id.is_(None))


class TagRepository:
    """Tags by scope: a user's personal tags, or a project's tag set (gateway_0007); names are
    unique per scope case-insensitively."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def canonical_names(
        self, user_id: uuid.UUID, names: Iterable[str], project_id: uuid.UUID | None = None
    ) -> tuple[str, ...]:
        """The names as the scope's existing tags spell them; new names as given."""
        wanted = list(names)
        if not wanted:
            return ()
        keys = [tag_key(n) for n in wanted]
        scope = user_id if project_id is None else project_id
        rows = await driver.fetch(
            self.connection, _names_statement(in_project=project_id is not None), scope, keys
        )
        existing = {row["name_key"]: row["name"] for row in rows}
        return tuple(existing.get(key, name) for key, name in zip(keys, wanted, strict=True))

    async def link(
        self,
        task_id: uuid.UUID,
        user_id: uuid.UUID,
        names: Sequence[str],
        project_id: uuid.UUID | None = None,
    ) -> None:
        """Give the task the named tags of its scope in this order, creating the missing ones:
        one statement (the missing tags, their ids and the links in one data-modifying CTE)."""
        if names:
            await write_task_parts(self.connection, task_id, user_id, project_id, names, ())

    async def scope_of(self, tag_id: uuid.UUID) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """The tag's (user_id, project_id), locked for change; NOT_FOUND when there is none
        (callers decide who may see it)."""
        row = (
            await self.connection.execute(
                select(t.tags.c.user_id, t.tags.c.project_id)
                .where(t.tags.c.id == tag_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("tag", tag_id)
        return row.user_id, row.project_id

    async def name_of(self, tag_id: uuid.UUID) -> str:
        """The tag's name (its row is locked by `scope_of`)."""
        name = await self.connection.scalar(select(t.tags.c.name).where(t.tags.c.id == tag_id))
        if name is None:
            raise NotFound("tag", tag_id)
        return str(name)

    async def tasks_carrying(self, tag_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(task id, owner id) of the tasks carrying this tag."""
        rows = await self.connection.execute(
            select(t.tasks.c.id, t.tasks.c.user_id)
            .join(t.task_tags, t.task_tags.c.task_id == t.tasks.c.id)
            .where(t.task_tags.c.tag_id == tag_id)
            .order_by(t.tasks.c.id)
        )
        return [(row.id, row.user_id) for row in rows]

    async def rename(self, user_id: uuid.UUID, tag_id: uuid.UUID, name: str) -> None:
        """Give the tag a new name; CONFLICT when another tag of its scope has it."""
        try:
            async with self.connection.begin_nested():
                await self.connection.execute(
                    update(t.tags)
                    .where(t.tags.c.id == tag_id)
                    .values(name=name, name_key=tag_key(name))
                )
        except IntegrityError as error:
            raise Conflict(f"name: another tag of this tag set is named {name!r}") from error

    async def remove(self, tag_id: uuid.UUID) -> None:
        """Delete the tag; its task links go with it."""
        await self.connection.execute(delete(t.tags).where(t.tags.c.id == tag_id))


# The columns of a task row written by `TaskRepository.add`, in the order of its parameters
# ($9 on: id, user_id and project_id are $1-$3, shared with the parts).
_TASK_COLUMNS = (
    ("title", "text"),
    ("notes", "text"),
    ("status", "text"),
    ("priority", "smallint"),
    ("due_at", "timestamptz"),
    ("completed_at", "timestamptz"),
    ("recurrence", "jsonb"),
    ("series_id", "uuid"),
    ("instance_number", "integer"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("version", "integer"),
    ("assignee_id", "uuid"),
    ("section_id", "uuid"),
    ("parent_id", "uuid"),
    ("position", "text"),
)


@functools.cache
def _names_statement(*, in_project: bool) -> str:
    """The scope's tags among the keys $2, as (name_key, name) rows: $1 the project, else the
    owner (constant text per scope: prepared once per connection, nothing compiled per call)."""
    scope = "project_id = $1::uuid" if in_project else "user_id = $1::uuid AND project_id IS NULL"
    return (
        "SELECT name_key, name FROM gateway.tags WHERE "  # noqa: S608  # nosec B608
        + scope
        + " AND name_key = ANY($2::text[])"
    )


@functools.cache
def _parts_statement(*, in_project: bool, with_row: bool, with_events: bool = False) -> str:
    """One statement writing a task's tags (the missing ones created), their links in order and
    its reminders, after the task's row itself when `with_row`, and the unit of work's outbox
    rows when `with_events`; it answers the tags' keys and names as the scope spells them.

    Parameters: $1 task id, $2 owner id, $3 project id, $4-$6 the new tags' ids, names and
    keys (one per key), $7 the keys of the task's tags in order, $8 the reminders (a JSON
    array), with the row $9 on: `_TASK_COLUMNS`, then with the events the outbox's
    `write_parameters`. A constant text per shape, so that asyncpg prepares it once per
    connection and nothing is compiled per request.
    """
    if in_project:
        # The partial unique index of the scope decides a conflict.
        tag_owner, conflict = "NULL::uuid", "(project_id, name_key) WHERE project_id IS NOT NULL"
        scope = "project_id = $3::uuid"
    else:
        tag_owner, conflict = "$2::uuid", "(user_id, name_key) WHERE project_id IS NULL"
        scope = "user_id = $2::uuid AND project_id IS NULL"
    row = ""
    following = 9
    if with_row:
        names = ", ".join(name for name, _ in _TASK_COLUMNS)
        values = ", ".join(
            f"${number}::{kind}" for number, (_, kind) in enumerate(_TASK_COLUMNS, start=9)
        )
        row = "".join(
            (
                "task AS (INSERT INTO gateway.tasks (id, user_id, project_id, ",
                names,
                ") VALUES ($1::uuid, $2::uuid, $3::uuid, ",
                values,
                ")),\n",
            )
        )
        following += len(_TASK_COLUMNS)
    events = woken = ""
    if with_events:
        events = f", outboxed AS (\n{outbox.rows_statement(t.outbox.fullname, following)}\n)"
        woken = f", {outbox.wake_relay(t.outbox)} AS woken"
    # Only the constant fragments above are interpolated, never a value (S608/B608).
    # The statement's snapshot has the tags that existed before it, RETURNING the new ones. A
    # tag missing from the snapshot is inserted: when another transaction created it since
    # (the conflict), DO UPDATE returns that row, so every tag is linked in this one statement
    # (which may be the whole commit: UnitOfWork.commit_new_task).
    # The task's row, its links and reminders are checked against each other at its end.
    return f"""WITH {row}wanted AS (
  SELECT w.name_key, (w.place - 1)::smallint AS position
  FROM unnest($7::text[]) WITH ORDINALITY AS w(name_key, place)
), created AS (
  INSERT INTO gateway.tags AS tag (id, user_id, project_id, name, name_key)
  SELECT n.id, {tag_owner}, $3::uuid, n.name, n.name_key
  FROM unnest($4::uuid[], $5::text[], $6::text[]) AS n(id, name, name_key)
  WHERE NOT EXISTS (SELECT FROM gateway.tags WHERE {scope} AND name_key = n.name_key)
  ON CONFLICT {conflict} DO UPDATE SET name = tag.name
  RETURNING id, name_key, name
), found AS (
  SELECT id, name_key, name FROM created
  UNION ALL
  SELECT id, name_key, name FROM gateway.tags WHERE {scope} AND name_key = ANY($6::text[])
), linked AS (
  INSERT INTO gateway.task_tags (task_id, tag_id, position)
  SELECT $1::uuid, found.id, wanted.position FROM wanted JOIN found USING (name_key)
), reminded AS (
  INSERT INTO gateway.reminders
    (id, task_id, user_id, position, remind_at, before_due, channels, state, sent_at)
  SELECT r.id, $1::uuid, $2::uuid, r.position, r.remind_at, r.before_due, r.channels, r.state,
         r.sent_at
  FROM jsonb_to_recordset($8::jsonb) AS r(id uuid, position smallint, remind_at timestamptz,
    before_due integer, channels text[], state text, sent_at timestamptz)
){events}
SELECT array(SELECT name_key FROM found) AS keys, array(SELECT name FROM found) AS names{woken}
"""  # noqa: S608  # nosec B608


def _reminders_json(reminders: Sequence[Reminder]) -> str:
    """The reminders as the parts statement's JSON array, in their order."""
    return json.dumps(
        [
            {
                "id": str(r.id),
                "position": index,
                "remind_at": r.remind_at.isoformat(),
                "before_due": r.before_due,
                "channels": [c.value for c in r.channels],
                "state": r.state.value,
                "sent_at": None if r.sent_at is None else r.sent_at.isoformat(),
            }
            for index, r in enumerate(reminders)
        ]
    )


def _task_values(task: Task) -> tuple[Any, ...]:
    """The task row's values in `_TASK_COLUMNS` order."""
    return (
        task.title,
        task.notes,
        task.status.value,
        int(task.priority),
        task.due_at,
        task.completed_at,
        None if task.recurrence is None else json.dumps(recurrence_to_json(task.recurrence)),
        task.series_id,
        task.instance_number,
        task.created_at,
        task.updated_at,
        task.version,
        task.assignee_id,
        task.section_id,
        task.parent_id,
        task.position,
    )


async def write_task_parts(
    connection: AsyncConnection,
    task_id: uuid.UUID,
    user_id: uuid.UUID,
    project_id: uuid.UUID | None,
    names: Sequence[str],
    reminders: Sequence[Reminder],
    row: Task | None = None,
    events: Sequence[Envelope] = (),
) -> tuple[str, ...]:
    """Write a task's tags of its scope in this order (creating the missing ones) and its
    reminders, with its row first when `row` is given and the outbox rows of `events`: one
    statement, one round trip.

    With events, the statement is its unit of work's last write and runs on its own when
    nothing has begun the transaction (see `UnitOfWork.commit_new_task`).

    Returns the tag names as the scope spells them (an existing tag's spelling wins over the
    one given, as `TagRepository.canonical_names` answers).
    """
    keyed = {tag_key(n): n for n in names}
    parameters: tuple[Any, ...] = (
        task_id,
        user_id,
        project_id,
        [uuid.uuid4() for _ in keyed],
        list(keyed.values()),
        list(keyed),
        [tag_key(name) for name in names],
        _reminders_json(reminders),
    )
    if row is not None:
        parameters += _task_values(row)
    if events:
        parameters += outbox.write_parameters(events)
    statement = _parts_statement(
        in_project=project_id is not None, with_row=row is not None, with_events=bool(events)
    )
    answer = await driver.fetchrow(connection, statement, *parameters, standalone=bool(events))
    assert answer is not None  # a SELECT without FROM answers one row
    spelled = dict(zip(answer["keys"], answer["names"], strict=True))
    return tuple(spelled.get(tag_key(name), name) for name in names)


class TaskRepository:
    """Tasks with their tags and reminders; remembers what it handed out for the outbox."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.seen: list[Task] = []

    async def get(self, user_id: uuid.UUID, task_id: uuid.UUID) -> Task:
        """The user's task, locked until commit; NOT_FOUND when missing or someone else's."""
        row = (
            await self.connection.execute(
                select(t.tasks)
                .where(t.tasks.c.id == task_id, t.tasks.c.user_id == user_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("task", task_id)
        tag_rows = await self.connection.execute(
            select(t.tags.c.name)
            .join(t.task_tags, t.task_tags.c.tag_id == t.tags.c.id)
            .where(t.task_tags.c.task_id == task_id)
            .order_by(t.task_tags.c.position)
        )
        reminder_rows = await self.connection.execute(
            select(t.reminders)
            .where(t.reminders.c.task_id == task_id)
            .order_by(t.reminders.c.position)
        )
        task = Task(
            id=row.id,
            user_id=row.user_id,
            title=row.title,
            notes=row.notes,
            status=TaskStatus(row.status),
            priority=Priority(row.priority),
            tags=tuple(r.name for r in tag_rows),
            due_at=row.due_at,
            completed_at=row.completed_at,
            recurrence=recurrence_from_json(row.recurrence),
            series_id=row.series_id,
            instance_number=row.instance_number,
            reminders=tuple(reminder_from_row(r) for r in reminder_rows),
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            project_id=row.project_id,
            assignee_id=row.assignee_id,
            section_id=row.section_id,
            parent_id=row.parent_id,
            position=row.position,
        )
        self.seen.append(task)
        return task

    async def assigned_in_project(
        self, project_id: uuid.UUID, assignee_id: uuid.UUID
    ) -> list[Task]:
        """The project's tasks assigned to this user, locked until commit."""
        rows = await self.connection.execute(
            select(t.tasks.c.id, t.tasks.c.user_id)
            .where(t.tasks.c.project_id == project_id, t.tasks.c.assignee_id == assignee_id)
            .order_by(t.tasks.c.id)
        )
        return [await self.get(row.user_id, row.id) for row in rows.all()]

    async def all_in_project(self, project_id: uuid.UUID) -> list[Task]:
        """Every task of the project, locked until commit."""
        rows = await self.connection.execute(
            select(t.tasks.c.id, t.tasks.c.user_id)
            .where(t.tasks.c.project_id == project_id)
            .order_by(t.tasks.c.id)
        )
        return [await self.get(row.user_id, row.id) for row in rows.all()]

    async def created_in_project(self, project_id: uuid.UUID, owner_id: uuid.UUID) -> list[Task]:
        """The project's tasks stored under this owner, locked until commit."""
        rows = await self.connection.execute(
            select(t.tasks.c.id)
            .where(t.tasks.c.project_id == project_id, t.tasks.c.user_id == owner_id)
            .order_by(t.tasks.c.id)
        )
        return [await self.get(owner_id, row.id) for row in rows.all()]

    async def get_by_reminder(self, user_id: uuid.UUID, reminder_id: uuid.UUID) -> Task:
        """The user's task owning this reminder, locked; NOT_FOUND otherwise."""
        task_id = await self.connection.scalar(
            select(t.reminders.c.task_id).where(
                t.reminders.c.id == reminder_id, t.reminders.c.user_id == user_id
            )
        )
        if task_id is None:
            raise NotFound("reminder", reminder_id)
        return await self.get(user_id, task_id)

    async def add(self, task: Task) -> None:
        """Insert a new task with its tags and reminders (at the end of its list when it has
        no position yet)."""
        await self.place(task)
        await self.insert(task)

    async def place(self, task: Task) -> None:
        """Take in a new task: one read gives it (unless it has one) its position at the end of
        its list and its tags the scope's stored spelling, which the TaskCreated it raised then
        carries too; `insert` writes it."""
        if not task.position:
            keys = [tag_key(name) for name in task.tags]
            task.position, stored = await structure.placement(
                self.connection, structure.ListKey.of_task(task), keys
            )
            spelling = {tag_key(name): name for name in stored}
            task.tags = tuple(
                spelling.get(key, name) for key, name in zip(keys, task.tags, strict=True)
            )
            task.events[:] = [replace(event, task=task.copy()) for event in task.events]
        self.seen.append(task)

    async def insert(self, task: Task, events: Sequence[Envelope] = ()) -> None:
        """Write a task taken in by `place`: its row, tags and reminders, and the outbox rows of
        `events` (as the unit of work's last write), in one statement."""
        spelled = await self._write_row(task, events=events)
        if spelled != task.tags:
            # Written since the task was placed: a tag another transaction created meanwhile
            # with another spelling (the stored one wins). Events written by this statement
            # keep the spelling read, as a rename committed after them would leave them.
            task.tags = spelled
            task.events[:] = [replace(event, task=task.copy()) for event in task.events]

    async def add_instance(self, task: Task) -> Task:
        """Insert the next instance of a series, or return the one already due then.

        Two deliveries racing past the check both try to insert; the unique index lets one
        win and the other fails with CONFLICT, and its retry then finds the winner.
        """
        existing = await self.connection.scalar(
            select(t.tasks.c.id).where(
                t.tasks.c.series_id == task.series_id, t.tasks.c.due_at == task.due_at
            )
        )
        if existing is not None:
            return await self.get(task.user_id, existing)
        await self.add(task)
        return task

    async def _write_row(
        self, task: Task | None = None, statement: Any = None, events: Sequence[Envelope] = ()
    ) -> tuple[str, ...]:
        """Insert a new task with its tags and reminders (and `events`' outbox rows) in one
        statement (`task`: answers its tags as stored), or run an UPDATE of a task row; a
        second instance due at once is a CONFLICT."""
        try:
            if task is not None:
                return await self._write_parts(task, row=True, events=events)
            await self.connection.execute(statement)
            return ()
        except IntegrityError as error:
            if "tasks_series_due" in str(error.orig):
                raise Conflict(
                    "dueAt: another instance of this series is already due at that time"
                ) from error
            raise

    async def save(self, task: Task) -> None:
        """Write a changed task back, replacing its tags and reminders."""
        await self._write_row(
            statement=update(t.tasks).where(t.tasks.c.id == task.id).values(**self._row(task))
        )
        await self.connection.execute(delete(t.task_tags).where(t.task_tags.c.task_id == task.id))
        await self.connection.execute(delete(t.reminders).where(t.reminders.c.task_id == task.id))
        await self._write_parts(task)

    async def remove(self, task: Task) -> None:
        """Delete the task; tags links and reminders go with it."""
        await self.connection.execute(delete(t.tasks).where(t.tasks.c.id == task.id))

    async def _write_parts(
        self, task: Task, *, row: bool = False, events: Sequence[Envelope] = ()
    ) -> tuple[str, ...]:
        """The task's tags and reminders (its row too when `row`, and `events`' outbox rows),
        in one statement; the tags as stored."""
        if not (row or task.tags or task.reminders):
            return task.tags
        # A task's tag names resolve in its scope: its project's tag set, or its owner's.
        return await write_task_parts(
            self.connection,
            task.id,
            task.user_id,
            task.project_id,
            task.tags,
            task.reminders,
            row=task if row else None,
            events=events,
        )

    @staticmethod
    def _row(task: Task) -> dict[str, Any]:
        return {
            "id": task.id,
            "user_id": task.user_id,
            "title": task.title,
            "notes": task.notes,
            "status": task.status.value,
            "priority": int(task.priority),
            "due_at": task.due_at,
            "completed_at": task.completed_at,
            "recurrence": recurrence_to_json(task.recurrence),
            "series_id": task.series_id,
            "instance_number": task.instance_number,
            "created_at": task.created_at,
            "updated_at": task.updated_at,
            "version": task.version,
            "project_id": task.project_id,
            "assignee_id": task.assignee_id,
            "section_id": task.section_id,
            "parent_id": task.parent_id,
            "position": task.position,
        }
