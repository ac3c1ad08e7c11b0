"""Revocable sessions on one gateway replica: the check of each token, and revocations applied.

Every request's token is checked against its account's session state: the account exists, the
token is of the account's current generation (logOutEverywhere and changePassword start a new
one) and its id was not revoked (logOut). The state is cached per account for a few seconds so
a request costs no query most of the time; a revocation reaches every replica at once through
the live broadcast (gateway_core/live.py), which drops the account's cached state and closes the
revoked sockets with 4403. While this replica's broadcast connection is down it could miss a
revocation, so it caches nothing and checks every request against the database until the
connection is back (and forgets what it cached before: it may have missed messages meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Protocol

from gateway_core.domain.sessions import Revocation
from gateway_core.domain.users import User
from gateway_core.persistence.sessions import SessionRepository
from taskstream.auth import TokenClaims
from taskstream.errors import Unauthenticated

if TYPE_CHECKING:
    from graphql_schema.context import Services

log = logging.getLogger(__name__)

REVOKED = 4403
REVOKED_REASON = "the token was revoked"
SCOPE_KEY = "taskstream.session"


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    deadline: float
    generation: int
    revoked: frozenset[str] | None
    epoch: int


class Closable(Protocol):
    """What a revocation closes: a WebSocket, or a Server-Sent Events stream (same shape)."""

    @property
    def scope(self) -> MutableMapping[str, Any]:
        """The ASGI scope of the connection."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """End the connection."""


@dataclasses.dataclass(slots=True)
class _Socket:
    websocket: Closable
    jti: str | None
    generation: int


class KnownSessions:
    """This replica's cache of session state and its open authenticated sockets."""

    def __init__(self, services: Services, *, ttl_seconds: float = 10.0, size: int = 10_000):
        self.services = services
        self.ttl_seconds = ttl_seconds
        self.size = size
        self._entries: dict[uuid.UUID, _Entry] = {}
        # Bumped by every revocation: a state loaded across one is not cached (it may be stale).
        self._changes = 0
        self._sockets: dict[uuid.UUID, dict[int, _Socket]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        services.live.on_revocation(self.revoked)

    async def check(self, claims: TokenClaims) -> User | None:
        """None or the account (when it had to be loaded); UNAUTHENTICATED if revoked or gone."""
        live = self.services.live
        epoch = live.epoch if live.connected else None
        entry = self._entries.get(claims.user_id)
        user = None
        if entry is None or entry.deadline <= time.monotonic() or entry.epoch != epoch:
            # An account this replica has not seen for a while: its budgets' slices are taken
            # while the session is read, not one after the other behind it.
            self.services.limits.prefetch(str(claims.user_id))
            changes = self._changes
            async with self.services.uow() as uow:
                state = await SessionRepository(uow.connection).state(claims.user_id)
            if state is None:
                self._entries.pop(claims.user_id, None)
                raise Unauthenticated("the token is invalid or expired")
            user = state.user
            entry = _Entry(
                time.monotonic() + self.ttl_seconds,
                state.generation,
                state.revoked,
                -1 if epoch is None else epoch,
            )
            if epoch is not None and changes == self._changes:
                if len(self._entries) >= self.size:
                    # Bounded memory: forgetting costs one lookup per account, nothing more.
                    self._entries.clear()
                self._entries[claims.user_id] = entry
        if claims.generation != entry.generation:
            raise Unauthenticated("the token was revoked")
        if claims.jti is not None:
            if entry.revoked is None:
                async with self.services.uow() as uow:
                    revoked = await SessionRepository(uow.connection).is_revoked(claims.jti)
            else:
                revoked = claims.jti in entry.revoked
            if revoked:
                raise Unauthenticated("the token was revoked")
        return user

    def opened(self, websocket: Closable, claims: TokenClaims) -> None:
        """Remember an authenticated socket, to close it when its token is revoked."""
        key = id(websocket)
        # The ASGI scope outlives the handler's objects: closed() finds the socket by it.
        websocket.scope[SCOPE_KEY] = (claims.user_id, key)
        sockets = self._sockets.setdefault(claims.user_id, {})
        sockets[key] = _Socket(websocket, claims.jti, claims.generation)

    def closed(self, scope: MutableMapping[str, Any]) -> None:
        """Forget the socket of this ASGI scope, which has ended."""
        found = scope.pop(SCOPE_KEY, None)
        if found is None:
            return
        user_id, key = found
        sockets = self._sockets.get(user_id)
        if sockets is not None:
            sockets.pop(key, None)
            if not sockets:
                del self._sockets[user_id]

    def open_sockets(self) -> int:
        """How many authenticated sockets this replica holds."""
        return sum(len(sockets) for sockets in self._sockets.values())

    def revoked(self, revocation: Revocation) -> None:
        """Apply a revocation: forget the account's cached state, close its revoked sockets."""
        self._changes += 1
        self._entries.pop(revocation.user_id, None)
        sockets = self._sockets.get(revocation.user_id, {})
        for key, socket in list(sockets.items()):
            if revocation.covers(socket.jti, socket.generation):
                del sockets[key]
                task = asyncio.create_task(self._close(socket.websocket), name="revoke-socket")
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if not sockets:
            self._sockets.pop(revocation.user_id, None)

    async def _close(self, websocket: Closable) -> None:
        # The socket may be closing on its own at the same moment: nothing left to do then.
        with contextlib.suppress(Exception):
            await websocket.close(code=REVOKED, reason=REVOKED_REASON)
