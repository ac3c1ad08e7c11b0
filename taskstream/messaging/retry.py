"""Retry with exponential backoff, then dead letter: for transports that do not do it for us."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from taskstream.messaging.bus import Message, MessageHandler, Outcome, Subscription
from taskstream.messaging.metrics import CONSUMER_METRICS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failing message is tried again."""

    attempts: int = 5
    first_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the given retry (1-based)."""
        return float(min(self.max_delay, self.first_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message still failed after its retries: kept with it in the dead-letter topic."""

    group: str
    reason: str
    attempts: int


# A reason is a log line, not a traceback: enough to tell poison from an outage.
MAX_REASON_CHARS = 1000


def describe_error(error: BaseException) -> str:
    """`Type: message`, bounded, as a dead letter's reason."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


async def _retried(
    handler: MessageHandler, message: Message, *, group: str, policy: RetryPolicy
) -> tuple[Outcome, Failure | None]:
    reason = "the handler answered RETRY"
    for attempt in range(1, policy.attempts + 1):
        try:
            outcome = await handler(message)
        except Exception as error:
            log.exception(
                "handler crashed", extra={"group": group, "topic": message.topic, "id": message.id}
            )
            reason = describe_error(error)
            outcome = Outcome.RETRY
        else:
            if outcome is Outcome.RETRY:
                reason = "the handler answered RETRY"
        if outcome is not Outcome.RETRY:
            return outcome, None
        if attempt < policy.attempts:
            CONSUMER_METRICS.retried.labels(group, message.topic).inc()
            await asyncio.sleep(policy.delay(attempt))
    return Outcome.RETRY, Failure(group=group, reason=reason, attempts=policy.attempts)


async def handle_with_retries(
    handler: MessageHandler, message: Message, *, group: str, policy: RetryPolicy
) -> Outcome:
    """SUCCESS or DROP as the handler said; after the last RETRY (or crash), RETRY for the DLQ."""
    outcome, _ = await _retried(handler, message, group=group, policy=policy)
    return outcome


async def settle_batch(
    subscription: Subscription, messages: Sequence[Message], *, policy: RetryPolicy
) -> list[Outcome]:
    """Each message's final outcome: the whole run at once when it can, else one by one."""
    return [outcome for outcome, _ in await _settle(subscription, messages, policy=policy)]


async def _settle(
    subscription: Subscription, messages: Sequence[Message], *, policy: RetryPolicy
) -> list[tuple[Outcome, Failure | None]]:
    """Each message's final outcome (and why it failed): the run at once, else one by one.

    A batch is all or nothing. When it fails nothing of it was applied, and every message is
    handled on its own, in order, with retries: a poison message is then retried and
    dead-lettered (RETRY) alone while the others still succeed.
    """
    if subscription.batch is not None and len(messages) > 1:
        try:
            outcomes = await subscription.batch(messages)
        except Exception:
            log.warning(
                "batch failed; handling its messages one by one",
                exc_info=True,
                extra={"group": subscription.group, "topic": subscription.topic},
            )
            outcomes = None
        if outcomes is not None:
            return [(outcome, None) for outcome in outcomes]
    return [
        await _retried(subscription.handler, message, group=subscription.group, policy=policy)
        for message in messages
    ]


async def settle_then_dead_letter(
    subscription: Subscription,
    messages: Sequence[Message],
    *,
    policy: RetryPolicy,
    dead_letter: Callable[[Subscription, Message, Failure], Awaitable[None]],
) -> None:
    """`settle_batch`, then hand each message that still failed (RETRY) to `dead_letter`."""
    settled = await _settle(subscription, messages, policy=policy)
    for message, (outcome, failure) in zip(messages, settled, strict=True):
        if outcome is Outcome.RETRY:
            await dead_letter(
                subscription,
                message,
                failure or Failure(subscription.group, "the batch answered RETRY", policy.attempts),
            )
