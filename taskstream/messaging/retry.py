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


# A reason is a log line, not a traceback: enough to tell poison from an outage.
MAX_REASON_CHARS = 1000


def describe_error(error: BaseException) -> str:
    """`Type: message`, bounded, as a dead letter's reason."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


async def _attempts(
    handler: MessageHandler, message: Message, *, group: str, policy: RetryPolicy
) -> tuple[Verdict, str]:
    """The verdict after retries, and what the last failed attempt said (for a dead letter)."""
    last = "the handler answered RETRY"
    for attempt in range(1, policy.attempts + 1):
        try:
            outcome = await handler(message)
        except Exception as error:
            log.exception(
                "handler crashed", extra={"group": group, "topic": message.topic, "id": message.id}
            )
            last = describe_error(error)
            outcome = Outcome.RETRY
        else:
            if outcome is Outcome.RETRY:
                last = "the handler answered RETRY"
        if outcome is not Outcome.RETRY:
            # SUCCESS, DROP, or a DeadLetter: retrying cannot change a poison verdict.
            return outcome, last
        if attempt < policy.attempts:
            CONSUMER_METRICS.retried.labels(group, message.topic).inc()
            await asyncio.sleep(policy.delay(attempt))
    return Outcome.RETRY, last


async def handle_with_retries(
    handler: MessageHandler, message: Message, *, group: str, policy: RetryPolicy
) -> Verdict:
    """SUCCESS, DROP or DeadLetter as the handler said; after the last RETRY (or crash), RETRY."""
    verdict, _ = await _attempts(handler, message, group=group, policy=policy)
    return verdict


async def settle_batch(
    subscription: Subscription, messages: Sequence[Message], *, policy: RetryPolicy
) -> list[Verdict]:
    """Each message's final outcome: the whole run at once when it can, else one by one."""
    return [verdict for verdict, _ in await _settle(subscription, messages, policy=policy)]


async def _settle(
    subscription: Subscription, messages: Sequence[Message], *, policy: RetryPolicy
) -> list[tuple[Verdict, str]]:
    """Each message's final outcome and its last failure: the run at once, else one by one.

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
            return [(outcome, "the batch answered RETRY") for outcome in outcomes]
    return [
        await _attempts(subscription.handler, message, group=subscription.group, policy=policy)
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
    settled = await _settle(subscription, messages, policy=policy)
    for message, (outcome, last) in zip(messages, settled, strict=True):
        if outcome is Outcome.RETRY:
            reason = f"still failing after {policy.attempts} attempts: {last}"
            await dead_letter(subscription, message, reason)
        elif isinstance(outcome, DeadLetter):
            await dead_letter(subscription, message, outcome.reason)
