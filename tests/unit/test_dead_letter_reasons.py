"""Why a message was dead-lettered travels with it; `taskstream dlq` says when it cannot look."""

from __future__ import annotations

import argparse

import pytest

from cli.dlq import command_dlq
from taskstream.messaging.bus import Message, Outcome, Subscription
from taskstream.messaging.kafka import HEADER_ATTEMPTS, HEADER_GROUP, HEADER_REASON
from taskstream.messaging.memory import MemoryTransport
from taskstream.messaging.retry import MAX_REASON_CHARS, Failure, RetryPolicy, describe_error

FAST = RetryPolicy(attempts=2, first_delay=0.001, max_delay=0.001)


def message(n: int) -> Message:
    """A minimal CloudEvent-shaped message."""
    return Message("reasons", "k", {"id": f"e{n}", "data": {"n": n}})


async def test_the_last_error_is_the_reason() -> None:
    transport = MemoryTransport(policy=FAST)

    async def poisoned(received: Message) -> Outcome:
        if received.body["data"]["n"] == 1:
            raise ValueError("no rule for n=1")
        return Outcome.RETRY if received.body["data"]["n"] == 2 else Outcome.SUCCESS

    await transport.subscribe([Subscription("reasons", "reason-group", poisoned)])
    await transport.publish([message(1), message(2), message(3)])
    assert [m.body["id"] for m in transport.dead_letters] == ["e1", "e2"]
    assert transport.failures == [
        Failure("reason-group", "ValueError: no rule for n=1", 2),
        Failure("reason-group", "the handler answered RETRY", 2),
    ]


def test_a_reason_is_bounded() -> None:
    reason = describe_error(RuntimeError("x" * 5000))
    assert len(reason) == MAX_REASON_CHARS
    assert reason.startswith("RuntimeError: xxx")


def test_the_kafka_headers_name_group_reason_and_attempts() -> None:
    from taskstream.messaging.deadletters import from_record
    from taskstream.messaging.kafka import failure_headers

    headers = failure_headers(Failure("audit", "KeyError: 'task'", 5))
    letter = from_record("task-events.dlq", 2, 7, b"user", b'{"id": "e9", "type": "t"}', headers)
    assert {name for name, _ in headers} >= {HEADER_GROUP, HEADER_REASON, HEADER_ATTEMPTS}
    assert (letter.group, letter.reason, letter.attempts) == ("audit", "KeyError: 'task'", 5)
    assert (letter.id, letter.position, letter.original_topic) == (
        "e9",
        "task-events.dlq/2/7",
        "task-events",
    )


@pytest.mark.parametrize(
    ("bus", "says"),
    [("memory://", "inside the process"), ("dapr://127.0.0.1:3500", "no API to read a topic")],
)
def test_dlq_says_why_it_cannot_reach_the_dead_letters(
    bus: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(bus=bus, topic=None, dlq_command="list", pending=False, json=False)
    assert command_dlq(args) == 2
    assert says in capsys.readouterr().err
