"""Retry with exponential backoff, then dead letter: for transports that do not do it for us."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from taskstream.messaging.bus import Message, MessageHandler, Outcome
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
) -> Outcome:
    """SUCCESS or DROP as the handler said; after the last RETRY (or crash), RETRY for the DLQ."""
    for attempt in range(1, policy.attempts + 1):
        try:
            outcome = await handler(message)
        except Exception:
            log.exception(
                "handler crashed", extra={"group": group, "topic": message.topic, "id": message.id}
            )
            outcome = Outcome.RETRY
        if outcome is not Outcome.RETRY:
            return outcome
        if attempt < policy.attempts:
            CONSUMER_METRICS.retried.labels(group, message.topic).inc()
            await asyncio.sleep(policy.delay(attempt))
    return Outcome.RETRY
