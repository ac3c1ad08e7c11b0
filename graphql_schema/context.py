"""Per-request context: the caller, the clock, the services and fresh DataLoaders."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from contracts.audit import AuditClient
from contracts.notifications import NotificationsClient
from gateway_core.domain.model import Reminder
from gateway_core.domain.sections import Section
from gateway_core.domain.users import User
from gateway_core.live import LiveHub, ResultShare
from gateway_core.persistence import projects as project_reads
from gateway_core.persistence import reads, structure
from gateway_core.persistence.uow import UnitOfWork
from taskstream.auth import PasswordHashing, TokenClaims, TokenService
from taskstream.errors import Unauthenticated
from taskstream.invocation import ServiceInvoker
from taskstream.ratelimit import RateLimits
from taskstream.settings import Settings
from taskstream.sharedstate import SharedState


@dataclass(frozen=True, slots=True)
class Services:
    """What resolvers may use, built once by the app's lifespan."""

    engine: AsyncEngine
    tokens: TokenService
    settings: Settings
    invoker: ServiceInvoker
    live: LiveHub
    limits: RateLimits
    # Password hashing off the event loop, a bounded number at once.
    hashing: PasswordHashing = field(default_factory=lambda: PasswordHashing(concurrency=4))
    # What every replica sees alike (persisted documents, idempotency keys); None: per process.
    state: SharedState | None = None

    def uow(self) -> UnitOfWork:
        """A new unit of work over the database."""
        return UnitOfWork(self.engine)

    @property
    def notifications(self) -> NotificationsClient:
        """The notifications service (webhooks, the in-app inbox)."""
        return NotificationsClient(self.invoker)

    @property
    def audit(self) -> AuditClient:
        """The audit service (the trail and its verification)."""
        return AuditClient(self.invoker)


class SharedReads:
    """The one pooled connection a request's reads share, one reader at a time.

    A request's DataLoaders dispatch together (tags, reminders, project, section, assignee,
    subtasks): each checking out its own connection made a page want six at once, more than
    the pool keeps at 16 clients, so connections were opened and closed all the time. Here
    they queue for one connection instead, checked out by the first reader and given back as
    soon as no reader is waiting: a request holds at most one connection for its reads, and
    none while it awaits anything else.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._turn = asyncio.Lock()
        self._waiting = 0
        self._connection: AsyncConnection | None = None
        # How many times a connection was checked out (the tests count them).
        self.checkouts = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """The shared connection for one batch of statements (database work only inside)."""
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        failed = True
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
                self.checkouts += 1
            yield self._connection
            failed = False
        finally:
            try:
                # A failed statement leaves the transaction unusable: the next reader starts
                # on a fresh connection.
                if failed or self._waiting == 0:
                    connection, self._connection = self._connection, None
                    if connection is not None:
                        await connection.close()
            finally:
                self._turn.release()


class Loaders:
    """DataLoaders of one request: one SQL statement per batch, nothing shared across users.

    Each loader is made on first use (a createTask uses none; a live event builds a fresh set
    per execution), and its batch function holds the shared reads and the viewer, not this
    object: loaders that pointed back here made a reference cycle per request and per live
    event, so none of it was freed on release; it waited for the cyclic collector.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        user_id: uuid.UUID | None = None,
        *,
        reads: SharedReads | None = None,
    ) -> None:
        # The loaders' batches take turns on one connection (the request's, when given).
        self.reads = SharedReads(engine) if reads is None else reads
        # Whose view the per-user loaders (projects) answer with.
        self.user_id = user_id

    @cached_property
    def project_by_id(self) -> DataLoader[uuid.UUID, project_reads.ProjectRecord | None]:
        """Projects as the viewer sees them (None where not a member)."""
        return DataLoader(partial(_project_by_id, self.reads, self.user_id))

    @cached_property
    def open_count_by_project(self) -> DataLoader[uuid.UUID, int]:
        """Open tasks per project."""
        return DataLoader(partial(_open_count_by_project, self.reads))

    @cached_property
    def tags_by_task(self) -> DataLoader[uuid.UUID, list[reads.TagRecord]]:
        """A task's tags, in order."""
        return DataLoader(partial(_tags_by_task, self.reads))

    @cached_property
    def reminders_by_task(self) -> DataLoader[uuid.UUID, list[Reminder]]:
        """A task's reminders."""
        return DataLoader(partial(_reminders_by_task, self.reads))

    @cached_property
    def open_count_by_tag(self) -> DataLoader[uuid.UUID, int]:
        """Open tasks per tag."""
        return DataLoader(partial(_open_count_by_tag, self.reads))

    @cached_property
    def sections_by_project(self) -> DataLoader[uuid.UUID, list[Section]]:
        """A project's sections, in order."""
        return DataLoader(partial(_sections_by_project, self.reads))

    @cached_property
    def section_by_id(self) -> DataLoader[uuid.UUID, Section | None]:
        """A section by its id."""
        return DataLoader(partial(_section_by_id, self.reads))

    @cached_property
    def visible_task_by_id(self) -> DataLoader[uuid.UUID, reads.TaskRecord | None]:
        """A task the viewer may see (None otherwise)."""
        return DataLoader(partial(_visible_task_by_id, self.reads, self.user_id))

    @cached_property
    def subtasks_by_parent(self) -> DataLoader[uuid.UUID, list[reads.TaskRecord]]:
        """A task's subtasks, in order."""
        return DataLoader(partial(_subtasks_by_parent, self.reads))

    @cached_property
    def user_by_id(self) -> DataLoader[uuid.UUID, reads.UserRecord | None]:
        """Creators and assignees of tasks the reader can see."""
        return DataLoader(partial(_user_by_id, self.reads))


async def _user_by_id(shared: SharedReads, ids: list[uuid.UUID]) -> list[reads.UserRecord | None]:
    async with shared.connection() as connection:
        found = await reads.users_by_id(connection, ids)
    return [found.get(i) for i in ids]


async def _tags_by_task(shared: SharedReads, ids: list[uuid.UUID]) -> list[list[reads.TagRecord]]:
    async with shared.connection() as connection:
        found = await reads.tags_of_tasks(connection, ids)
    return [found.get(i, []) for i in ids]


async def _reminders_by_task(shared: SharedReads, ids: list[uuid.UUID]) -> list[list[Reminder]]:
    async with shared.connection() as connection:
        found = await reads.reminders_of_tasks(connection, ids)
    return [found.get(i, []) for i in ids]


async def _project_by_id(
    shared: SharedReads, user_id: uuid.UUID | None, ids: list[uuid.UUID]
) -> list[project_reads.ProjectRecord | None]:
    if user_id is None:
        return [None] * len(ids)
    async with shared.connection() as connection:
        found = await project_reads.projects_of(connection, user_id, project_ids=ids)
    by_id = {p.id: p for p in found}
    return [by_id.get(i) for i in ids]


async def _open_count_by_project(shared: SharedReads, ids: list[uuid.UUID]) -> list[int]:
    async with shared.connection() as connection:
        found = await project_reads.open_task_counts(connection, ids)
    return [found.get(i, 0) for i in ids]


async def _sections_by_project(shared: SharedReads, ids: list[uuid.UUID]) -> list[list[Section]]:
    async with shared.connection() as connection:
        found = await structure.sections_of(connection, ids)
    return [found.get(i, []) for i in ids]


async def _section_by_id(shared: SharedReads, ids: list[uuid.UUID]) -> list[Section | None]:
    async with shared.connection() as connection:
        found = await structure.sections_by_id(connection, ids)
    return [found.get(i) for i in ids]


async def _visible_task_by_id(
    shared: SharedReads, user_id: uuid.UUID | None, ids: list[uuid.UUID]
) -> list[reads.TaskRecord | None]:
    if user_id is None:
        return [None] * len(ids)
    async with shared.connection() as connection:
        found = await reads.tasks_by_id(connection, user_id, ids)
    return [found.get(i) for i in ids]


async def _subtasks_by_parent(
    shared: SharedReads, ids: list[uuid.UUID]
) -> list[list[reads.TaskRecord]]:
    async with shared.connection() as connection:
        found = await reads.subtasks_of(connection, ids)
    return [found.get(i, []) for i in ids]


async def _open_count_by_tag(shared: SharedReads, ids: list[uuid.UUID]) -> list[int]:
    async with shared.connection() as connection:
        found = await reads.open_task_counts(connection, ids)
    return [found.get(i, 0) for i in ids]


@dataclass
class Context:
    """What every resolver sees as `info.context`."""

    services: Services
    request: Request | WebSocket | None
    user_id: uuid.UUID | None
    now: datetime
    # The connection this request's reads share (checked out only while they run).
    reads: SharedReads = field(init=False)
    loaders: Loaders = field(init=False)
    response: Any = None
    connection_params: Any = None
    _user: User | None = None
    # The verified token of the request (logOut revokes exactly this one).
    token: TokenClaims | None = None
    # A live subscription whose results other members' subscriptions may reuse (set by the
    # socket handler for viewer-independent documents only: gateway/shared_streams.py).
    live_share: ResultShare | None = None

    def __post_init__(self) -> None:
        self.reads = SharedReads(self.services.engine)
        self.loaders = Loaders(self.services.engine, self.user_id, reads=self.reads)

    async def current_user(self) -> User:
        """The caller's account (loaded once per request)."""
        if self._user is None:
            async with self.services.uow() as uow:
                self._user = await uow.users.get(self.require_user())
            if self._user is None:
                # The account behind a still-valid token is gone.
                raise Unauthenticated("the token's account no longer exists")
        return self._user

    @property
    def client_address(self) -> str | None:
        """The caller's network address, as the server saw it."""
        client = self.request.client if self.request is not None else None
        return client.host if client is not None else None

    def require_user(self) -> uuid.UUID:
        """The caller's id; the IsAuthenticated permission has made sure there is one."""
        if self.user_id is None:
            raise Unauthenticated()
        return self.user_id


Info = StrawberryInfo[Context, None]
