"""How the Dapr transport splits a batch into publish rounds and bulk requests."""

from __future__ import annotations

from taskstream.messaging import dapr
from taskstream.messaging.bus import Message


def message(topic: str, key: str, n: int, size: int = 0) -> Message:
    """A message numbered n, padded to about `size` bytes."""
    return Message(topic, key, {"id": str(n), "data": {"n": n, "pad": "x" * size}})


def numbers(round_: list[Message]) -> list[int]:
    """The numbers of a round's messages."""
    return [m.body["data"]["n"] for m in round_]


def test_a_round_holds_the_next_message_of_each_key_in_batch_order() -> None:
    batch = [message("t", f"k{n % 3}", n) for n in range(7)]
    rounds = dapr.publish_rounds(batch)
    assert [numbers(r) for r in rounds] == [[0, 1, 2], [3, 4, 5], [6]]


def test_no_round_holds_two_messages_of_one_key_and_every_key_keeps_its_order() -> None:
    keys = ["a", "a", "b", "a", "c", "b", "b", "a"]
    batch = [message("t", key, n) for n, key in enumerate(keys)]
    rounds = dapr.publish_rounds(batch)
    assert sum(len(r) for r in rounds) == len(batch)
    for round_ in rounds:
        assert len({m.key for m in round_}) == len(round_)
    for key in set(keys):
        sent = [m.body["data"]["n"] for r in rounds for m in r if m.key == key]
        assert sent == [n for n, k in enumerate(keys) if k == key]
    # One round per message of the busiest key ("a": 4), not one per message (8).
    assert len(rounds) == 4


def test_the_same_key_on_two_topics_is_two_lanes() -> None:
    rounds = dapr.publish_rounds([message("t1", "k", 0), message("t2", "k", 1)])
    assert [numbers(r) for r in rounds] == [[0, 1]]


def test_a_round_is_one_bulk_per_topic_split_by_size() -> None:
    big = dapr.BULK_BYTES // 3
    round_ = [message("t1", f"k{n}", n, size=big) for n in range(5)] + [message("t2", "k", 9)]
    bulks = dapr._bulks(round_)
    assert [(topic, len(chunk)) for topic, chunk in bulks] == [
        ("t1", 2),
        ("t1", 2),
        ("t1", 1),
        ("t2", 1),
    ]
    for _, chunk in bulks:
        assert sum(len(event) for _, event in chunk) <= dapr.BULK_BYTES or len(chunk) == 1
        for sent, event in chunk:
            assert event == sent.encode()
