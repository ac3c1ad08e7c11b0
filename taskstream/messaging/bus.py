"""The transport-neutral side of messaging: messages, outcomes, publishers, transports.

Adapters (memory, kafka, dapr) implement `Transport`; which one runs is chosen by the scheme of
`TASKSTREAM_BUS_URL` in `transports.open_transport`, importing the adapter lazily.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any


class Outcome(enum.Enum):
    """What a consumer answers for one message (the Dapr subscriber vocabulary)."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


@dataclass(frozen=True, slots=True)
class Message:
    """One CloudEvent on a topic, keyed for per-key order."""

    topic: str
    key: str
    body: dict[str, Any]

    @property
    def id(self) -> str:
        """The CloudEvent id consumers deduplicate on."""
        return str(self.body.get("id", ""))

    def encode(self) -> bytes:
        """The structured-mode CloudEvent as UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


def dead_letter_topic(topic: str) -> str:
    """Where messages of `topic` go when they still fail after the retries."""
    return f"{topic}.dlq"


# CloudEvents extension attributes a dead-lettered event carries: why, and which group gave up.
DEAD_LETTER_REASON = "deadletterreason"
DEAD_LETTER_GROUP = "deadlettergroup"
# The dead-letter reason of a message that is not a JSON object, whichever transport found it.
NOT_AN_EVENT = "not a JSON object"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A verdict on a message that can never succeed: to the dead-letter topic now, with why."""

    reason: str


# What a handler answers for one message: a Dapr status, or dead-letter it with a reason.
Verdict = Outcome | DeadLetter


def dead_lettered(message: Message, *, group: str, reason: str) -> Message:
    """The message as its dead-letter topic receives it: the event, plus why and who gave up."""
    body = {**message.body, DEAD_LETTER_REASON: reason, DEAD_LETTER_GROUP: group}
    return Message(dead_letter_topic(message.topic), message.key, body)


@dataclass(frozen=True, slots=True)
class BulkSubscribe:
    """Deliveries of up to `max_messages` at once, waiting at most `max_await_ms` to fill one.

    `raw_payloads`: the sidecar passes each event's bytes rather than parsing and rewriting the
    CloudEvent, which costs it less than half the CPU per event; but its delivery spans read the
    event's `traceparent` from the parsed CloudEvent, so with tracing on it parses them.
    """

    max_messages: int = 500
    max_await_ms: int = 50
    raw_payloads: bool = True


class PublishError(Exception):
    """The transport did not acknowledge a publish; nothing may be assumed delivered."""


MessageHandler = Callable[[Message], Awaitable[Verdict]]
# Applies a run of messages at once: one verdict per message (SUCCESS, DROP or DeadLetter) when
# all of them were settled together, or None when nothing was applied and each must be handled
# on its own.
BatchHandler = Callable[[Sequence[Message]], Awaitable[list[Verdict] | None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A consumer group's interest in one topic; `batch` when it can apply runs of messages."""

    topic: str
    group: str
    handler: MessageHandler
    batch: BatchHandler | None = None


class Transport(ABC):
    """Publishes messages and runs subscriptions; one per process."""

    @abstractmethod
    async def start(self) -> None:
        """Connect; after this publish() may be called."""

    @abstractmethod
    async def close(self) -> None:
        """Flush what is in flight and disconnect."""

    @abstractmethod
    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in order and wait for the acknowledgement; PublishError when not acked."""

    @abstractmethod
    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Start delivering messages of these subscriptions (in the background)."""
