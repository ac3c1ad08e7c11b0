"""The firing loop: due reminders become per-channel deliveries, which are sent and retried.

Everything that must survive a crash is a row: a reminder is claimed by moving it from
SCHEDULED to FIRING in the same transaction that queues one delivery per channel (and per
webhook), so two replicas never fire the same reminder (`FOR UPDATE SKIP LOCKED`). Each
delivery keeps its own attempts and backoff; a claimed delivery holds a lease (its
next_attempt_at) so one that was in flight when its process died is retried elsewhere.
When every delivery of a firing is final, the reminder carries its outcome until the gateway
has recorded it (SENT, or FAILED once a channel ran out of retries).

Network work (SMTP, webhooks, the gateway) runs in tasks beside the loop, never inside a
database transaction and never holding the loop up, so one slow webhook cannot delay others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.gateway_api import GatewayClient, GetUser, RecordReminderOutcome
from taskstream.errors import Conflict, NotFound, TaskstreamError
from taskstream.messaging.cloudevents import Envelope
from taskstream.persistence.outbox import write_outbox
from taskstream.settings import Settings
from taskstream.wakeup import Wakeup
from workers.notifications import events
from workers.notifications.channels import DeliveryError, EmailSender, Message, WebhookSender
from workers.notifications.push import PUSH_OFF, PushSender, Subscription, SubscriptionGone
from workers.notifications.tables import (
    db_now,
    deliveries,
    notifications,
    outbox,
    push_subscriptions,
    schedule,
    webhooks,
)

# How late reminders fire: the claiming transaction's time minus each reminder's remindAt. The
# firing loop wakes for the next due reminder, so this is the scheduling delay users feel.
REMINDER_LATENESS = Histogram(
    "taskstream_reminder_lateness_seconds",
    "Seconds between a reminder's remindAt and the moment it was claimed for delivery.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)

log = logging.getLogger(__name__)

FINAL = ("SENT", "FAILED", "CANCELLED")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff per channel delivery, with a little jitter."""

    max_attempts: int
    base_seconds: float
    max_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        """The policy the settings configure."""
        return cls(
            settings.notification_max_attempts,
            settings.notification_retry_seconds,
            settings.notification_retry_max_seconds,
        )

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure."""
        exponential = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempts - 1))
        # Jitter spreads retries of many deliveries that failed together (an outage).
        jitter: float = random.uniform(0.9, 1.1)  # noqa: S311 - not for security
        return exponential * jitter


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this loop holds the lease of."""

    id: uuid.UUID
    reminder_id: uuid.UUID
    generation: int
    user_id: uuid.UUID
    channel: str
    webhook_id: uuid.UUID | None
    subscription_id: uuid.UUID | None
    attempts: int
    task_id: uuid.UUID
    title: str
    due_at: datetime | None
    remind_at: datetime

    @property
    def body(self) -> str:
        """The notification's text."""
        if self.due_at is not None:
            return f"Due at {self.due_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        return f"Reminder set for {self.remind_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"

    def message(self, sent_at: datetime) -> Message:
        """What the external channels send."""
        return Message(
            delivery_id=str(self.id),
            reminder_id=str(self.reminder_id),
            task_id=str(self.task_id),
            title=self.title,
            body=self.body,
            remind_at=self.remind_at.isoformat(),
            sent_at=sent_at.isoformat(),
        )


CLAIM_DELIVERIES = text(
    """
    WITH due AS (
        SELECT id FROM notifications.deliveries
        WHERE state IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
          AND (channel = 'IN_APP') = :in_app
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notifications.deliveries AS d
    SET state = 'SENDING', attempts = d.attempts + 1,
        next_attempt_at = now() + make_interval(secs => :lease)
    FROM due, notifications.schedule AS s
    WHERE d.id = due.id AND s.reminder_id = d.reminder_id
    RETURNING d.id, d.reminder_id, d.generation, d.user_id, d.channel, d.webhook_id,
              d.subscription_id, d.attempts,
              s.task_id, s.task_title AS title, s.task_due_at AS due_at, s.remind_at
    """
)

# Seconds until the loop has work: the first scheduled reminder, delivery attempt (a lease's
# end included) or outcome report, each read off its partial index; NULL when there is none.
SECONDS_TO_NEXT_DUE = text(
    """
    SELECT extract(epoch FROM least(
        (SELECT min(remind_at) FROM notifications.schedule WHERE state = 'SCHEDULED'),
        (SELECT min(next_attempt_at) FROM notifications.deliveries
         WHERE state IN ('PENDING', 'SENDING')),
        (SELECT min(report_after) FROM notifications.schedule
         WHERE state = 'FIRING' AND outcome_sent IS NOT NULL)
    ) - clock_timestamp())
    """
)

CLAIM_REPORTS = text(
    """
    WITH due AS (
        SELECT reminder_id FROM notifications.schedule
        WHERE state = 'FIRING' AND outcome_sent IS NOT NULL AND report_after <= now()
        ORDER BY report_after
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE notifications.schedule AS s
    SET report_after = now() + make_interval(secs => :lease),
        report_attempts = s.report_attempts + 1
    FROM due
    WHERE s.reminder_id = due.reminder_id
    RETURNING s.reminder_id, s.user_id, s.generation, s.outcome_sent, s.outcome_at,
              s.report_attempts
    """
)


class FiringLoop:
    """Fires due reminders, sends their deliveries, reports outcomes; run() until cancelled."""

    def __init__(
        self,
        engine: AsyncEngine,
        gateway: GatewayClient,
        *,
        email: EmailSender,
        webhook: WebhookSender,
        policy: RetryPolicy,
        push: PushSender | None = None,
        interval: float = 2.0,
        blocked_interval: float = 0.2,
        batch: int = 200,
        send_concurrency: int = 16,
        report_concurrency: int = 8,
        lease_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.email = email
        self.webhook = webhook
        self.push = push or PushSender(None, "mailto:taskstream@localhost", http=webhook)
        self.policy = policy
        # The longest sleep: work that another replica queued (or a wake-up lost with a crash)
        # is picked up at most this late. This replica's own changes wake the loop.
        self.interval = interval
        # Work was due but none could be claimed (another replica holds it, or every send slot
        # is busy): look again this soon.
        self.blocked_interval = blocked_interval
        self.batch = batch
        self.send_concurrency = send_concurrency
        self.report_concurrency = report_concurrency
        self.lease_seconds = lease_seconds
        self._wakeup = Wakeup()
        self._sending: set[asyncio.Task[None]] = set()
        self._reporting: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Run the next iteration now (a reminder may have become due sooner)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Loop until cancelled; in-flight sends are abandoned to their leases."""
        try:
            while True:
                next_due: float | None = None
                try:
                    next_due = await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("notifications firing loop failed; continuing")
                pause = self.interval if next_due is None else min(self.interval, next_due)
                await self._wakeup.wait(pause)
        finally:
            pending = self._sending | self._reporting
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.webhook.close()

    async def step(self) -> float | None:
        """One iteration; the seconds until work is due (0: look again now; None: none known).

        An idle loop reads one statement (`seconds_to_next_due`) instead of trying each claim:
        polling every claim five times a second cost an idle service 3 % of a core.
        """
        due_in = await self.seconds_to_next_due()
        if due_in is None or due_in > 0:
            return due_in
        fired = await self.fire_due()
        in_app = await self.deliver_in_app()
        sends = await self.claim(in_app=False, limit=self._free(self._sending))
        self._spawn_sends(sends)
        reports = await self.claim_reports()
        self._spawn_reports(reports)
        if fired or in_app or sends or reports:
            return 0.0
        return self.blocked_interval

    async def seconds_to_next_due(self) -> float | None:
        """Seconds until the first reminder, delivery attempt or report is due (at most 0 when
        one is due now); None when nothing is scheduled."""
        async with self.engine.connect() as connection:
            seconds = await connection.scalar(SECONDS_TO_NEXT_DUE)
        return None if seconds is None else float(seconds)

    async def drain(self) -> None:
        """Wait for the sends and reports in flight (tests and benchmarks)."""
        while self._sending or self._reporting:
            await asyncio.gather(*(self._sending | self._reporting), return_exceptions=True)

    # -- firing ---------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Claim due reminders and queue their deliveries; how many."""
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(
                        schedule.c.reminder_id,
                        schedule.c.user_id,
                        schedule.c.recipient_id,
                        schedule.c.task_id,
                        schedule.c.remind_at,
                        schedule.c.channels,
                        schedule.c.generation,
                    )
                    .where(schedule.c.state == "SCHEDULED", schedule.c.remind_at <= func.now())
                    .order_by(schedule.c.remind_at)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            fired_at = await self._queue(connection, rows) if rows else None
        if fired_at is not None:
            for row in rows:
                REMINDER_LATENESS.observe(max(0.0, (fired_at - row.remind_at).total_seconds()))
        return len(rows)

    async def _queue(self, connection: AsyncConnection, rows: Sequence[Any]) -> datetime:
        """Queue the deliveries of claimed reminders; the database time of the claim."""
        now = await db_now(connection)
        # Deliveries (webhooks, browsers) are the recipient's; the ReminderDue record is the
        # owner's.
        hooks = await _destinations(connection, webhooks, rows, "WEBHOOK")
        browsers = await _destinations(connection, push_subscriptions, rows, "PUSH")
        queued: list[dict[str, Any]] = []
        envelopes: list[Envelope] = []
        empty: list[tuple[uuid.UUID, int]] = []
        for row in rows:
            generation = row.generation + 1
            # (channel, webhook, push subscription) of each delivery.
            targets: list[tuple[str, uuid.UUID | None, uuid.UUID | None]] = []
            for channel in dict.fromkeys(row.channels):
                if channel == "WEBHOOK":
                    # No webhook registered: one delivery that fails, so the outcome says so.
                    found: list[uuid.UUID | None] = [*hooks.get(row.recipient_id, [])] or [None]
                    targets.extend((channel, hook, None) for hook in found)
                elif channel == "PUSH":
                    # Likewise with no browser subscribed.
                    found = [*browsers.get(row.recipient_id, [])] or [None]
                    targets.extend((channel, None, browser) for browser in found)
                else:
                    targets.append((channel, None, None))
            if not targets:
                empty.append((row.reminder_id, generation))
            queued.extend(
                {
                    "id": uuid.uuid4(),
                    "reminder_id": row.reminder_id,
                    "generation": generation,
                    "user_id": row.recipient_id,
                    "channel": channel,
                    "webhook_id": hook,
                    "subscription_id": browser,
                    "state": "PENDING",
                    "next_attempt_at": now,
                }
                for channel, hook, browser in targets
            )
            envelopes.append(
                events.reminder_due(
                    user_id=row.user_id,
                    task_id=row.task_id,
                    reminder_id=row.reminder_id,
                    remind_at=row.remind_at,
                    channels=list(row.channels),
                    generation=generation,
                    at=now,
                )
            )
        await connection.execute(
            update(schedule)
            .where(schedule.c.reminder_id.in_([row.reminder_id for row in rows]))
            .values(
                state="FIRING",
                generation=schedule.c.generation + 1,
                fired_at=now,
                updated_at=now,
            )
        )
        if queued:
            await connection.execute(insert(deliveries), queued)
        await write_outbox(connection, outbox, envelopes)
        for reminder_id, generation in empty:
            await self._finalize(connection, reminder_id, generation, "no channel to deliver to")
        return now

    # -- delivering -----------------------------------------------------------------------

    def _free(self, tasks: set[asyncio.Task[None]]) -> int:
        limit = self.send_concurrency if tasks is self._sending else self.report_concurrency
        return max(0, limit - len(tasks))

    async def claim(self, *, in_app: bool, limit: int) -> list[Claim]:
        """Take the lease of up to `limit` due deliveries of in-app or of external channels."""
        if limit <= 0:
            return []
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                CLAIM_DELIVERIES,
                {"in_app": in_app, "limit": limit, "lease": self.lease_seconds},
            )
            return [Claim(**row._asdict()) for row in rows]

    async def deliver_in_app(self) -> int:
        """Store due IN_APP notifications in one transaction; how many were claimed."""
        claims = await self.claim(in_app=True, limit=self.batch)
        if not claims:
            return 0
        async with self.engine.begin() as connection:
            await self._lock_reminders(connection, claims)
            current = await self._still_ours(connection, claims)
            now = await db_now(connection)
            rows: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            envelopes: list[Envelope] = []
            for claim in current:
                notification_id = uuid.uuid4()
                rows.append(
                    {
                        "id": notification_id,
                        "user_id": claim.user_id,
                        "task_id": claim.task_id,
                        "reminder_id": claim.reminder_id,
                        "title": claim.title,
                        "body": claim.body,
                        "channel": "IN_APP",
                        "created_at": now,
                    }
                )
                updates.append({"b_id": claim.id, "b_notification": notification_id})
                envelopes.append(
                    events.delivery_event(
                        events.SENT,
                        user_id=claim.user_id,
                        task_id=claim.task_id,
                        reminder_id=claim.reminder_id,
                        delivery_id=claim.id,
                        channel="IN_APP",
                        title=claim.title,
                        body=claim.body,
                        at=now,
                        attempts=claim.attempts,
                        notification_id=notification_id,
                    )
                )
            if rows:
                await connection.execute(insert(notifications), rows)
                await connection.execute(
                    update(deliveries)
                    .where(deliveries.c.id == bindparam("b_id"))
                    .values(
                        state="SENT",
                        sent_at=now,
                        last_error=None,
                        notification_id=bindparam("b_notification"),
                    ),
                    updates,
                )
                await write_outbox(connection, outbox, envelopes)
            for reminder_id, generation in sorted({(c.reminder_id, c.generation) for c in current}):
                await self._finalize(connection, reminder_id, generation)
        return len(claims)

    def _spawn_sends(self, claims: list[Claim]) -> None:
        for claim in claims:
            task = asyncio.create_task(self.send(claim), name=f"notify-{claim.id}")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def send(self, claim: Claim) -> None:
        """Send one EMAIL, WEBHOOK or PUSH delivery and record what happened."""
        sent_at = datetime.now(UTC)
        error: DeliveryError | None = None
        # Why the delivery no longer has a destination (its webhook or browser went away).
        cancelled: str | None = None
        try:
            if claim.channel == "EMAIL":
                user = await self.gateway.get_user(GetUser(user_id=claim.user_id))
                await self.email.send(user.email, claim.message(sent_at))
            elif claim.channel == "WEBHOOK":
                hook = await self._webhook(claim)
                if hook is None:
                    cancelled = "webhook removed"
                else:
                    await self.webhook.send(hook[0], hook[1], claim.message(sent_at))
            elif claim.channel == "PUSH":
                browser = await self._push_subscription(claim)
                if browser is None:
                    cancelled = "push subscription removed"
                else:
                    cancelled = await self._push(claim, browser, sent_at)
            else:
                raise DeliveryError(f"unknown channel {claim.channel}", permanent=True)
        except DeliveryError as failure:
            error = failure
        except NotFound as failure:
            error = DeliveryError(failure.message, permanent=True)
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            # Unexpected (or the gateway unreachable): retry later like any failed send.
            if not isinstance(failure, TaskstreamError):
                log.exception("unexpected error sending a notification")
            error = DeliveryError(f"{type(failure).__name__}: {failure}")
        try:
            await self.record(claim, error, cancelled=cancelled)
        finally:
            self.wake()

    async def _webhook(self, claim: Claim) -> tuple[str, str] | None:
        """The webhook's URL and secret; None when the user removed it since the firing."""
        if claim.webhook_id is None:
            raise DeliveryError("no webhook is registered", permanent=True)
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(webhooks.c.url, webhooks.c.secret).where(
                        webhooks.c.id == claim.webhook_id, webhooks.c.user_id == claim.user_id
                    )
                )
            ).first()
        return (row.url, row.secret) if row is not None else None

    async def _push_subscription(self, claim: Claim) -> Subscription | None:
        """The browser's subscription; None when it was unsubscribed since the firing."""
        if not self.push.on:
            raise DeliveryError(PUSH_OFF, permanent=True)
        if claim.subscription_id is None:
            raise DeliveryError("no browser is subscribed to push", permanent=True)
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        push_subscriptions.c.endpoint,
                        push_subscriptions.c.p256dh,
                        push_subscriptions.c.auth,
                    ).where(
                        push_subscriptions.c.id == claim.subscription_id,
                        push_subscriptions.c.user_id == claim.user_id,
                    )
                )
            ).first()
        return Subscription(row.endpoint, row.p256dh, row.auth) if row is not None else None

    async def _push(self, claim: Claim, browser: Subscription, sent_at: datetime) -> str | None:
        """Push one reminder; None when sent. A subscription its push service no longer knows
        (404/410) is removed, and the delivery cancelled like a removed webhook's: the reason."""
        try:
            await self.push.send(browser, claim.message(sent_at))
        except SubscriptionGone as gone:
            async with self.engine.begin() as connection:
                await connection.execute(
                    delete(push_subscriptions).where(
                        push_subscriptions.c.id == claim.subscription_id,
                        push_subscriptions.c.endpoint == browser.endpoint,
                    )
                )
            return gone.reason
        return None

    async def record(
        self, claim: Claim, error: DeliveryError | None, *, cancelled: str | None
    ) -> None:
        """Store a send's result: SENT, retry later, or FAILED when retries ran out."""
        async with self.engine.begin() as connection:
            await self._lock_reminders(connection, [claim])
            if not await self._still_ours(connection, [claim]):
                return
            now = await db_now(connection)
            values: dict[str, Any]
            envelope: Envelope | None = None
            common: dict[str, Any] = {
                "user_id": claim.user_id,
                "task_id": claim.task_id,
                "reminder_id": claim.reminder_id,
                "delivery_id": claim.id,
                "channel": claim.channel,
                "title": claim.title,
                "body": claim.body,
                "at": now,
                "attempts": claim.attempts,
                "webhook_id": claim.webhook_id,
            }
            if cancelled is not None:
                values = {"state": "CANCELLED", "last_error": cancelled}
            elif error is None:
                values = {"state": "SENT", "sent_at": now, "last_error": None}
                envelope = events.delivery_event(events.SENT, **common)
            elif error.permanent or claim.attempts >= self.policy.max_attempts:
                values = {"state": "FAILED", "last_error": error.reason}
                envelope = events.delivery_event(events.FAILED, error=error.reason, **common)
                log.warning(
                    "notification failed for good",
                    extra={"delivery": str(claim.id), "channel": claim.channel, "reason": error},
                )
            else:
                delay = self.policy.delay(claim.attempts)
                values = {
                    "state": "PENDING",
                    "last_error": error.reason,
                    "next_attempt_at": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay),
                }
                log.info(
                    "notification send failed; will retry",
                    extra={"delivery": str(claim.id), "in_seconds": round(delay, 2)},
                )
            await connection.execute(
                update(deliveries).where(deliveries.c.id == claim.id).values(**values)
            )
            if envelope is not None:
                await write_outbox(connection, outbox, [envelope])
            await self._finalize(connection, claim.reminder_id, claim.generation)

    async def _lock_reminders(self, connection: AsyncConnection, claims: Sequence[Claim]) -> None:
        """Serialise the results of one firing, so exactly one of them sees it complete."""
        await connection.execute(
            select(schedule.c.reminder_id)
            .where(schedule.c.reminder_id.in_({c.reminder_id for c in claims}))
            .order_by(schedule.c.reminder_id)
            .with_for_update()
        )

    async def _still_ours(
        self, connection: AsyncConnection, claims: Sequence[Claim]
    ) -> list[Claim]:
        """The claims whose lease we still hold (not cancelled, not re-claimed after expiry)."""
        rows = await connection.execute(
            select(deliveries.c.id, deliveries.c.attempts)
            .where(deliveries.c.id.in_([c.id for c in claims]), deliveries.c.state == "SENDING")
            .with_for_update()
        )
        held = {row.id: row.attempts for row in rows}
        return [c for c in claims if held.get(c.id) == c.attempts]

    async def _finalize(
        self,
        connection: AsyncConnection,
        reminder_id: uuid.UUID,
        generation: int,
        reason: str | None = None,
    ) -> None:
        await finalize(connection, reminder_id, generation, reason)

    # -- reporting ------------------------------------------------------------------------

    async def claim_reports(self) -> list[Any]:
        """Take the lease of outcomes the gateway has not recorded yet."""
        limit = self._free(self._reporting)
        if limit <= 0:
            return []
        async with self.engine.begin() as connection:
            return list(
                await connection.execute(
                    CLAIM_REPORTS, {"limit": limit, "lease": self.lease_seconds}
                )
            )

    def _spawn_reports(self, rows: list[Any]) -> None:
        for row in rows:
            task = asyncio.create_task(self.report(row), name=f"outcome-{row.reminder_id}")
            self._reporting.add(task)
            task.add_done_callback(self._reporting.discard)

    async def report(self, row: Any) -> None:
        """Tell the gateway a reminder was sent (or failed); CANCELLED if it is gone."""
        values: dict[str, Any]
        try:
            await self.gateway.record_reminder_outcome(
                RecordReminderOutcome(
                    reminder_id=row.reminder_id,
                    user_id=row.user_id,
                    sent=bool(row.outcome_sent),
                    at=row.outcome_at,
                    source=events.SOURCE,
                )
            )
            values = {"state": "SENT" if row.outcome_sent else "FAILED"}
            if row.outcome_sent:
                values["sent_at"] = row.outcome_at
        except (NotFound, Conflict) as gone:
            # 404: the task is gone; 409: the reminder was cancelled or moved meanwhile.
            values = {"state": "CANCELLED", "last_error": gone.message}
        except asyncio.CancelledError:
            raise
        except Exception as failure:
            if not isinstance(failure, TaskstreamError):
                log.exception("unexpected error reporting a reminder outcome")
            delay = self.policy.delay(row.report_attempts)
            values = {
                "report_after": func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay),
                "last_error": f"reporting the outcome: {failure}",
            }
        values["updated_at"] = func.now()
        async with self.engine.begin() as connection:
            await connection.execute(
                update(schedule)
                .where(
                    schedule.c.reminder_id == row.reminder_id,
                    schedule.c.generation == row.generation,
                    schedule.c.state == "FIRING",
                )
                .values(**values)
            )
        # A retry's time was set: the loop may be asleep until later than it.
        self.wake()


async def _destinations(
    connection: AsyncConnection, table: Table, rows: Sequence[Any], channel: str
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The ids in `table` (webhooks, push subscriptions) of each recipient of the reminders
    that go to `channel`, oldest first."""
    users = {row.recipient_id for row in rows if channel in row.channels}
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if users:
        for row in await connection.execute(
            select(table.c.id, table.c.user_id)
            .where(table.c.user_id.in_(users))
            .order_by(table.c.created_at)
        ):
            found.setdefault(row.user_id, []).append(row.id)
    return found


async def finalize(
    connection: AsyncConnection,
    reminder_id: uuid.UUID,
    generation: int,
    reason: str | None = None,
) -> None:
    """When every delivery of a firing is final, give the reminder its outcome."""
    counts = (
        await connection.execute(
            select(
                func.count().filter(deliveries.c.state.notin_(FINAL)).label("open"),
                func.count().filter(deliveries.c.state == "SENT").label("sent"),
                func.count().filter(deliveries.c.state == "FAILED").label("failed"),
                func.string_agg(deliveries.c.channel + ": " + deliveries.c.last_error, "; ")
                .filter(deliveries.c.state == "FAILED")
                .label("errors"),
            ).where(
                deliveries.c.reminder_id == reminder_id,
                deliveries.c.generation == generation,
            )
        )
    ).one()
    if counts.open:
        return
    # SENT means every channel delivered; one that ran out of retries makes it FAILED.
    sent = counts.sent > 0 and counts.failed == 0
    await connection.execute(
        update(schedule)
        .where(
            schedule.c.reminder_id == reminder_id,
            schedule.c.generation == generation,
            schedule.c.state == "FIRING",
            schedule.c.outcome_sent.is_(None),
        )
        .values(
            outcome_sent=sent,
            outcome_at=func.now(),
            report_after=func.now(),
            last_error=None if sent else (counts.errors or reason or "nothing was delivered"),
        )
    )
