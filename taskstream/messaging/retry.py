"""Retry with exponential backoff, then dead letter: for transports that do not do it for us."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from taskstream.messaging.bus import (
    DeadLetter,
    Message,
    MessageHandler,
    Outcome,
    Subscription,
    Verdict,
)
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


async def handle_with_retries(
    handler: MessageHandler, message: Message, *, group: str, policy: RetryPolicy
) -> Verdict:
    """SUCCESS, DROP or DeadLetter as the handler said; after the last RETRY (or crash), RETRY."""
    for attempt in range(1, policy.attempts + 1):
        try:
            outcome = await handler(message)
        except Exception:
            log.exception(
                "handler crashed", extra={"group": group, "topic": message.topic, "id": message.id}
            )
            outcome = Outcome.RETRY
        if outcome is not Outcome.RETRY:
            # SUCCESS, DROP, or a DeadLetter: retrying cannot change a poison verdict.
            return outcome
        if attempt < policy.attempts:
            CONSUMER_METRICS.retried.labels(group, message.topic).inc()
            await asyncio.sleep(policy.delay(attempt))
    return Outcome.RETRY


async def settle_batch(
    subscription: Subscription, messages: Sequence[Message], *, policy: RetryPolicy
) -> list[Verdict]:
    """Each message's final outcome: the whole run at once when it can, else one by one.

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
            return outcomes
    return [
        await handle_with_retries(
            subscription.handler, message, group=subscription.group, policy=policy
        )
        for message in messages
    ]


async def settle_then_dead_letter(
    subscription: Subscription,
    messages: Sequence[Message],
    *,
    policy: RetryPolicy,
    dead_letter: Callable[[Subscription, Message, str], Awaitable[None]],
) -> None:
    """`settle_batch`, then hand each message that still failed or is poison to `dead_letter`."""
    outcomes = await settle_batch(subscription, messages, policy=policy)
    for message, outcome in zip(messages, outcomes, strict=True):
        if outcome is Outcome.RETRY:
            reason = f"still failing after {policy.attempts} attempts"
            await dead_letter(subscription, message, reason)
        elif isinstance(outcome, DeadLetter):
            await dead_letter(subscription, message, outcome.reason)
