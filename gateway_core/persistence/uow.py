"""Unit of work: one transaction that commits a change together with its outbox rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway_core.domain.events import Event
from gateway_core.domain.model import Task
from gateway_core.persistence import tables as t
from gateway_core.persistence.projects import ProjectRepository
from gateway_core.persistence.repositories import (
    TagRepository,
    TaskRepository,
    UserRepository,
)
from gateway_core.wire import project_envelope, task_envelope
from taskstream.errors import Unavailable
from taskstream.messaging.cloudevents import Envelope, EventModel, encode
from taskstream.persistence.db import is_database_unavailable
from taskstream.persistence.outbox import write_outbox


def from_task_event(event: Event, *, actor_id: uuid.UUID | None = None) -> Envelope:
    """The CloudEvent of a task's domain event, keyed by its user for per-user order.

    `actor_id` (who made the change) goes on events of project tasks only, where any member
    with the role may change a task that stays under its owner's `userId`.
    """
    in_project = event.task.project_id is not None
    return task_envelope(event, actor_id=actor_id if in_project else None)


class UnitOfWork:
    """One transaction; commit() writes every pending event to the outbox, then commits.

    The transaction begins at its first statement (SQLAlchemy's autobegin, the driver's alike),
    not on entry: a unit of work whose only statements run standalone (an inbox create, see
    `commit_new_task`) never begins one, and SQLAlchemy's begin and commit cost it nothing.
    """

    connection: AsyncConnection
    users: UserRepository
    tags: TagRepository
    tasks: TaskRepository
    projects: ProjectRepository
    # The user this unit of work acts for (set by the access checks), named on project tasks'
    # events as their actor.
    actor_id: uuid.UUID | None = None

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._extra: list[Envelope] = []

    async def __aenter__(self) -> UnitOfWork:
        self.connection = await self.engine.connect()
        self.users = UserRepository(self.connection)
        self.tags = TagRepository(self.connection)
        self.tasks = TaskRepository(self.connection)
        self.projects = ProjectRepository(self.connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            try:
                transaction = self.connection.get_transaction()
                if transaction is not None and transaction.is_active:
                    await transaction.rollback()
            finally:
                await self.connection.close()
        except Exception as cleanup:
            # A dead connection fails its rollback too; the error already on its way (say,
            # UNAVAILABLE with the commit's outcome unknown) is the one the caller must see.
            if exc is None or not is_database_unavailable(cleanup):
                raise

    def record(self, event: EventModel, *, at: datetime, source: str = "gateway") -> None:
        """Add an event that no aggregate raised (e.g. a tag renamed) to this commit."""
        self._extra.append(encode(event, source=source, time=at))

    def collect_envelopes(self) -> list[Envelope]:
        """Every pending event of this unit of work as CloudEvents, in the order raised."""
        envelopes = [
            from_task_event(event, actor_id=self.actor_id)
            for task in self.tasks.seen
            for event in task.events
        ]
        envelopes += [
            project_envelope(change) for project in self.projects.seen for change in project.events
        ]
        return envelopes + self._extra

    async def commit(self) -> None:
        """Write the outbox rows and commit them with the change, atomically."""
        await write_outbox(self.connection, t.outbox, self.collect_envelopes())
        await _committed(self._commit_if_begun())
        self._written()

    async def commit_new_task(self, task: Task) -> None:
        """Insert a new task (at the end of its list, its tags spelled as stored) and commit it
        with every pending event.

        Its row, tags and reminders and the outbox rows go in one statement, after one read
        (`TaskRepository.place`). When nothing began the transaction before (an inbox create),
        that statement is the whole commit, atomic by itself: no BEGIN, no COMMIT.
        """
        await self.tasks.place(task)
        # The write may be the commit: once on its way, its outcome is the request's.
        await _committed(self._insert_and_commit(task))
        self._written()

    async def _insert_and_commit(self, task: Task) -> None:
        await self.tasks.insert(task, self.collect_envelopes())
        await self._commit_if_begun()

    async def _commit_if_begun(self) -> None:
        transaction = self.connection.get_transaction()
        if transaction is not None:
            await transaction.commit()

    def _written(self) -> None:
        for task in self.tasks.seen:
            task.events.clear()
        for project in self.projects.seen:
            project.events.clear()
        self._extra.clear()


async def _committed(commit: Coroutine[Any, Any, None]) -> None:
    """Run a commit (or the statement that is one); a cancellation arriving meanwhile (the
    request's deadline) waits for it.

    Once COMMIT is on its way, its outcome is the request's outcome: cancelling the wait
    would report a change as stopped (TIMEOUT) that PostgreSQL may well have committed. So the
    commit runs to its end and the cancellation is absorbed: the deadline stops only work that
    had not reached its commit (asyncio.timeout then lets the block finish normally).
    """
    committing = asyncio.ensure_future(commit)
    try:
        try:
            await asyncio.shield(committing)
        except asyncio.CancelledError:
            if committing.cancelled():
                raise
            await committing
    except Exception as error:
        # The connection failed with COMMIT on its way: PostgreSQL may have committed it, so
        # the client must not be told "nothing was changed" (UNAVAILABLE, outcome unknown).
        if is_database_unavailable(error):
            raise Unavailable(committing=True) from error
        raise
