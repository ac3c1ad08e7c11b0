"""Why a message was dead-lettered travels with it; `taskstream dlq` says when it cannot look."""

from __future__ import annotations

import argparse

import pytest

from cli.dlq import command_dlq
from taskstream.messaging.bus import (
    DEAD_LETTER_GROUP,
    DEAD_LETTER_REASON,
    Message,
    Outcome,
    Subscription,
)
from taskstream.messaging.memory import MemoryTransport
from taskstream.messaging.retry import MAX_REASON_CHARS, RetryPolicy, describe_error

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
    assert [
        (m.body[DEAD_LETTER_GROUP], m.body[DEAD_LETTER_REASON]) for m in transport.dead_letters
    ] == [
        ("reason-group", "still failing after 2 attempts: ValueError: no rule for n=1"),
        ("reason-group", "still failing after 2 attempts: the handler answered RETRY"),
    ]


def test_a_reason_is_bounded() -> None:
    reason = describe_error(RuntimeError("x" * 5000))
    assert len(reason) == MAX_REASON_CHARS
    assert reason.startswith("RuntimeError: xxx")


def test_a_dead_letter_record_names_its_group_and_reason_and_replays_as_it_was() -> None:
    from taskstream.messaging.deadletters import from_record

    value = (
        b'{"id": "e9", "type": "t", "deadletterreason": "KeyError: \'task\'",'
        b' "deadlettergroup": "audit"}'
    )
    letter = from_record("task-events.dlq", 2, 7, b"user", value)
    assert (letter.group, letter.reason) == ("audit", "KeyError: 'task'")
    assert letter.body == {"id": "e9", "type": "t"}
    assert (letter.id, letter.position, letter.original_topic) == (
        "e9",
        "task-events.dlq/2/7",
        "task-events",
    )


# memory:// (`up`) is reachable now: its dead letters are in PostgreSQL
# (tests/integration/test_up_dead_letters.py).
def test_dlq_says_why_it_cannot_reach_the_dead_letters(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        bus="dapr://127.0.0.1:3500", topic=None, dlq_command="list", pending=False, json=False
    )
    assert command_dlq(args) == 2
    assert "no API to read a topic" in capsys.readouterr().err
