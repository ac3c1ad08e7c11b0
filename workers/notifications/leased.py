"""One loop for every kind of queued notice: claim the due rows under a lease, send them,
record what happened.

A kind (invitation notices, assignment emails) configures it with its table, the key columns
of a row, its claim statement and `deliver`. The claim marks the due rows SENDING, counts the
attempt and moves `next_attempt_at` a lease ahead, so a sender that dies mid-send leaves rows
that fall due again when their lease runs out. A result is recorded only while the row is
still ours (SENDING at the attempt we claimed): a row re-claimed after its lease expired
belongs to whoever claimed it. A failed send is retried with backoff and becomes FAILED when
the retries run out (or at once when the failure is permanent).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Table, TextClause, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.gateway_api import GatewayClient
from taskstream.errors import TaskstreamError
from taskstream.wakeup import Wakeup
from workers.notifications.channels import DeliveryError, EmailSender
from workers.notifications.firing import RetryPolicy

log = logging.getLogger(__name__)


# A delivered row.
SENT: dict[str, Any] = {"state": "SENT", "sent_at": func.now(), "last_error": None}


class LeasedNotice(Protocol):
    """A claimed row: its key columns as attributes, and the attempt the claim counted."""

    @property
    def attempts(self) -> int:
        """Attempts so far, this one included."""
        ...


N = TypeVar("N", bound=LeasedNotice)


@dataclass(frozen=True, slots=True)
class Sent:
    """Delivered. `store`, when set, writes what the delivery made (a notification, its event)
    in the transaction that marks the row SENT, and returns more columns of the row to set;
    it runs only while the row is still ours."""

    store: Callable[[AsyncConnection], Awaitable[dict[str, Any]]] | None = None


@dataclass(frozen=True, slots=True)
class Cancelled:
    """Not to be sent any more; `reason` is kept as the row's last error."""

    reason: str


class LeasedSender(ABC, Generic[N]):
    """Sends the due rows of one notice table; run() until cancelled."""

    # Configured by each kind.
    table: ClassVar[Table]
    keys: ClassVar[tuple[str, ...]]
    claim: ClassVar[TextClause]
    notice: ClassVar[Callable[..., Any]]
    # What a row is, for the logs ("invitation notice").
    what: ClassVar[str]

    def __init__(
        self,
        engine: AsyncEngine,
        gateway: GatewayClient,
        *,
        email: EmailSender,
        policy: RetryPolicy,
        interval: float = 2.0,
        batch: int = 16,
        lease_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        # What a kind's `deliver` asks the gateway and sends the email through.
        self.gateway = gateway
        self.email = email
        self.policy = policy
        # The longest sleep: a notice another replica queued is sent at most this late (this
        # replica's own queueing wakes the loop).
        self.interval = interval
        self.batch = batch
        self.lease_seconds = lease_seconds
        self._wakeup = Wakeup()

    @abstractmethod
    async def deliver(self, notice: N) -> Sent | Cancelled:
        """Send one notice; a DeliveryError (or any other error) is retried later."""

    def wake(self) -> None:
        """Look for due notices now (one was just queued)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Loop until cancelled; a notice in flight when it stops is retried after its lease.

        Idle, the loop reads when the next notice falls due (one statement) and sleeps until
        then, at most `interval`; it claims only when one is due.
        """
        while True:
            pause = self.interval
            try:
                due_in = await self.seconds_to_next_due()
                if due_in is not None and due_in <= 0:
                    # Claimed some: look again at once. None claimed though one is due (another
                    # replica holds it): wait a while rather than spin.
                    pause = 0 if await self.step() else self.interval
                elif due_in is not None:
                    pause = min(due_in, self.interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sending %ss failed; continuing", self.what)
            await self._wakeup.wait(pause)

    async def seconds_to_next_due(self) -> float | None:
        """Seconds until the first queued notice (or expired lease) is due, at most 0 when one
        is due now; None when none is queued."""
        next_attempt = self.table.c.next_attempt_at
        async with self.engine.connect() as connection:
            seconds = await connection.scalar(
                select(
                    func.extract("epoch", func.min(next_attempt) - func.clock_timestamp())
                ).where(self.table.c.state.in_(("PENDING", "SENDING")))
            )
        return None if seconds is None else float(seconds)

    async def step(self) -> int:
        """Claim and send the due notices (concurrently); how many were claimed."""
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                self.claim, {"limit": self.batch, "lease": self.lease_seconds}
            )
            claimed: list[N] = [self.notice(**row._asdict()) for row in rows]
        await asyncio.gather(*(self.send(notice) for notice in claimed))
        return len(claimed)

    async def send(self, notice: N) -> None:
        """Send one notice and record what happened."""
        values: dict[str, Any]
        try:
            result = await self.deliver(notice)
            if isinstance(result, Sent) and result.store is not None:
                # Stored with the SENT mark: a failure to store is retried like a failed send.
                await self.record(notice, SENT, store=result.store)
                return
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            # Unexpected errors (or the gateway unreachable) are retried like a failed send.
            if not isinstance(failure, DeliveryError | TaskstreamError):
                log.exception("unexpected error sending a %s", self.what)
            values = self.failed(notice, failure)
        else:
            if isinstance(result, Cancelled):
                values = {"state": "CANCELLED", "last_error": result.reason}
            else:
                values = SENT
        await self.record(notice, values)

    def failed(self, notice: N, failure: Exception) -> dict[str, Any]:
        """The row after a failed attempt: retried after a backoff, or FAILED for good."""
        error = (
            failure
            if isinstance(failure, DeliveryError)
            else DeliveryError(f"{type(failure).__name__}: {failure}")
        )
        if error.permanent or notice.attempts >= self.policy.max_attempts:
            log.warning(
                "%s failed for good",
                self.what,
                extra={"notice": self._key_text(notice), "reason": error.reason},
            )
            return {"state": "FAILED", "last_error": error.reason}
        delay = self.policy.delay(notice.attempts)
        return {
            "state": "PENDING",
            "last_error": error.reason,
            "next_attempt_at": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay),
        }

    async def record(
        self,
        notice: N,
        values: dict[str, Any],
        *,
        store: Callable[[AsyncConnection], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        """Set the row's `values` (and store what `store` writes) while it is still ours."""
        async with self.engine.begin() as connection:
            if not await self._still_ours(connection, notice):
                return
            more = {} if store is None else await store(connection)
            await connection.execute(
                update(self.table).where(*self._row(notice)).values(**values, **more)
            )

    def _row(self, notice: N) -> list[ColumnElement[bool]]:
        """The conditions that select the notice's row."""
        return [self.table.c[key] == getattr(notice, key) for key in self.keys]

    async def _still_ours(self, connection: AsyncConnection, notice: N) -> bool:
        """Whether we still hold the notice's lease (not re-claimed after it expired)."""
        attempts = await connection.scalar(
            select(self.table.c.attempts)
            .where(*self._row(notice), self.table.c.state == "SENDING")
            .with_for_update()
        )
        return attempts == notice.attempts

    def _key_text(self, notice: N) -> str:
        return "/".join(str(getattr(notice, key)) for key in self.keys)
