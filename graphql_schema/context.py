"""Per-request context: the caller, the clock, the services and fresh DataLoaders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from contracts.audit import AuditClient
from contracts.notifications import NotificationsClient
from gateway_core.domain.model import Reminder
from gateway_core.domain.sections import Section
from gateway_core.domain.users import User
from gateway_core.live import LiveHub
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


class Loaders:
    """DataLoaders of one request: one SQL statement per batch, nothing shared across users."""

    def __init__(self, engine: AsyncEngine, user_id: uuid.UUID | None = None) -> None:
        self.engine = engine
        # Whose view the per-user loaders (projects) answer with.
        self.user_id = user_id
        self.project_by_id = DataLoader(self._project_by_id)
        self.open_count_by_project = DataLoader(self._open_count_by_project)
        self.tags_by_task = DataLoader(self._tags_by_task)
        self.reminders_by_task = DataLoader(self._reminders_by_task)
        self.open_count_by_tag = DataLoader(self._open_count_by_tag)
        # Structure: sections of projects, a task's section, parent and subtasks.
        self.sections_by_project = DataLoader(self._sections_by_project)
        self.section_by_id = DataLoader(self._section_by_id)
        self.visible_task_by_id = DataLoader(self._visible_task_by_id)
        self.subtasks_by_parent = DataLoader(self._subtasks_by_parent)
        self.user_by_id = DataLoader(self._user_by_id)

    async def _user_by_id(self, ids: list[uuid.UUID]) -> list[reads.UserRecord | None]:
        # Only creators and assignees of tasks the reader can see are ever asked for.
        async with self.engine.connect() as connection:
            found = await reads.users_by_id(connection, ids)
        return [found.get(i) for i in ids]

    async def _tags_by_task(self, ids: list[uuid.UUID]) -> list[list[reads.TagRecord]]:
        async with self.engine.connect() as connection:
            found = await reads.tags_of_tasks(connection, ids)
        return [found.get(i, []) for i in ids]

    async def _reminders_by_task(self, ids: list[uuid.UUID]) -> list[list[Reminder]]:
        async with self.engine.connect() as connection:
            found = await reads.reminders_of_tasks(connection, ids)
        return [found.get(i, []) for i in ids]

    async def _project_by_id(
        self, ids: list[uuid.UUID]
    ) -> list[project_reads.ProjectRecord | None]:
        if self.user_id is None:
            return [None] * len(ids)
        async with self.engine.connect() as connection:
            found = await project_reads.projects_of(connection, self.user_id, project_ids=ids)
        by_id = {p.id: p for p in found}
        return [by_id.get(i) for i in ids]

    async def _open_count_by_project(self, ids: list[uuid.UUID]) -> list[int]:
        async with self.engine.connect() as connection:
            found = await project_reads.open_task_counts(connection, ids)
        return [found.get(i, 0) for i in ids]

    async def _sections_by_project(self, ids: list[uuid.UUID]) -> list[list[Section]]:
        async with self.engine.connect() as connection:
            found = await structure.sections_of(connection, ids)
        return [found.get(i, []) for i in ids]

    async def _section_by_id(self, ids: list[uuid.UUID]) -> list[Section | None]:
        async with self.engine.connect() as connection:
            found = await structure.sections_by_id(connection, ids)
        return [found.get(i) for i in ids]

    async def _visible_task_by_id(self, ids: list[uuid.UUID]) -> list[reads.TaskRecord | None]:
        if self.user_id is None:
            return [None] * len(ids)
        async with self.engine.connect() as connection:
            found = await reads.tasks_by_id(connection, self.user_id, ids)
        return [found.get(i) for i in ids]

    async def _subtasks_by_parent(self, ids: list[uuid.UUID]) -> list[list[reads.TaskRecord]]:
        async with self.engine.connect() as connection:
            found = await reads.subtasks_of(connection, ids)
        return [found.get(i, []) for i in ids]

    async def _open_count_by_tag(self, ids: list[uuid.UUID]) -> list[int]:
        async with self.engine.connect() as connection:
            found = await reads.open_task_counts(connection, ids)
        return [found.get(i, 0) for i in ids]


@dataclass
class Context:
    """What every resolver sees as `info.context`."""

    services: Services
    request: Request | WebSocket | None
    user_id: uuid.UUID | None
    now: datetime
    loaders: Loaders = field(init=False)
    response: Any = None
    connection_params: Any = None
    _user: User | None = None
    # The verified token of the request (logOut revokes exactly this one).
    token: TokenClaims | None = None

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services.engine, self.user_id)

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
