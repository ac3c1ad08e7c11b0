"""In-process transport for `taskstream up` and tests: the same consumer code, no broker.

publish() returns only once every subscribed group has settled the messages (handled,
dropped or dead-lettered). The outbox marks rows published after that, so a crash in between
means the rows are published again on restart and consumers skip what they already did:
at-least-once end to end, as with a broker.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from taskstream.messaging.bus import (
    Message,
    Subscription,
    Transport,
    dead_lettered,
)
from taskstream.messaging.metrics import CONSUMER_METRICS
from taskstream.messaging.retry import RetryPolicy, settle_then_dead_letter


class MemoryTransport(Transport):
    """Delivers to subscribers in the same process, one group at a time in publish order."""

    _instances: ClassVar[dict[str, MemoryTransport]] = {}

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self._subscriptions: dict[str, list[Subscription]] = defaultdict(list)
        self._group_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.dead_letters: list[Message] = []
        # Where dead letters are kept beyond this process (`up`: PostgreSQL, see
        # taskstream/persistence/dead_letters.py); awaited before the delivery settles, so
        # none is lost.
        self.keep_dead_letter: Callable[[Message], Awaitable[None]] | None = None

    @classmethod
    def shared(cls, url: str) -> MemoryTransport:
        """The one transport of this URL in this process (gateway and workers share it)."""
        if url not in cls._instances:
            cls._instances[url] = cls()
        return cls._instances[url]

    async def start(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to flush: publish() waits for delivery."""

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Register the subscriptions; messages published from now on reach them."""
        for subscription in subscriptions:
            self._subscriptions[subscription.topic].append(subscription)
            self._group_locks.setdefault((subscription.topic, subscription.group), asyncio.Lock())

    async def publish(self, messages: Sequence[Message]) -> None:
        """Deliver to every group, groups concurrently, each group in order."""
        by_group: dict[tuple[str, str], list[tuple[Subscription, Message]]] = defaultdict(list)
        for message in messages:
            for subscription in self._subscriptions.get(message.topic, []):
                by_group[(message.topic, subscription.group)].append((subscription, message))
        await asyncio.gather(*(self._deliver(key, items) for key, items in by_group.items()))

    async def _deliver(
        self, key: tuple[str, str], items: list[tuple[Subscription, Message]]
    ) -> None:
        async with self._group_locks[key]:
            # Consecutive messages of one subscription go together, so a consumer that can
            # apply a batch in one transaction does (the outbox relay publishes in batches).
            runs: list[tuple[Subscription, list[Message]]] = []
            for subscription, message in items:
                if runs and runs[-1][0] is subscription:
                    runs[-1][1].append(message)
                else:
                    runs.append((subscription, [message]))
            for subscription, messages in runs:
                await settle_then_dead_letter(
                    subscription, messages, policy=self.policy, dead_letter=self._dead_letter
                )

    async def _dead_letter(self, subscription: Subscription, message: Message, reason: str) -> None:
        CONSUMER_METRICS.dead_lettered.labels(subscription.group, message.topic).inc()
        dead = dead_lettered(message, group=subscription.group, reason=reason)
        if self.keep_dead_letter is not None:
            await self.keep_dead_letter(dead)
        self.dead_letters.append(dead)
        await self.publish([dead])
