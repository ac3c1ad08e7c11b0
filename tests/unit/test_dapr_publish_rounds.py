"""How the Dapr transport splits a batch into runs per key, waves and bulk requests."""

from __future__ import annotations

from taskstream.messaging import dapr
from taskstream.messaging.bus import Message

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def message(topic: str, key: str, n: int, size: int = 0, traced: bool = False) -> Message:
    """A message numbered n, padded to about `size` bytes, with a traceparent when `traced`."""
    body = {"id": str(n), "data": {"n": n, "pad": "x" * size}}
    if traced:
        body["traceparent"] = TRACEPARENT
    return Message(topic, key, body)


def numbers(request: dapr.BulkRequest) -> list[int]:
    """The numbers of a request's messages, in the order they are sent."""
    return [m.body["data"]["n"] for m, _ in request[1]]


def test_a_batch_of_many_keys_is_one_request_each_key_in_order() -> None:
    keys = ["a", "a", "b", "a", "c", "b", "b", "a"]
    batch = [message("t", key, n) for n, key in enumerate(keys)]
    waves = dapr.publish_waves(batch)
    assert len(waves) == 1 and len(waves[0]) == 1
    (request,) = waves[0]
    sent = numbers(request)
    assert sorted(sent) == list(range(len(keys)))
    for key in set(keys):
        assert [n for n in sent if keys[n] == key] == [n for n, k in enumerate(keys) if k == key]
    for sent_message, event in request[1]:
        assert event == sent_message.encode()


def test_a_key_longer_than_a_request_goes_in_waves_one_run_at_a_time() -> None:
    batch = [message("t", "one", n) for n in range(dapr.BULK_ENTRIES * 2 + 1)]
    waves = dapr.publish_waves(batch)
    assert [[len(chunk) for _, chunk in wave] for wave in waves] == [
        [dapr.BULK_ENTRIES],
        [dapr.BULK_ENTRIES],
        [1],
    ]
    assert [n for wave in waves for request in wave for n in numbers(request)] == list(
        range(len(batch))
    )


def test_no_wave_holds_two_runs_of_one_key_and_runs_stay_whole() -> None:
    big = dapr.BULK_BYTES // 3
    # Key "a" needs two runs by size, "b" and "c" one each; three runs don't fit one request.
    batch = [
        message("t", "a", 0, size=big),
        message("t", "b", 1, size=big),
        message("t", "a", 2, size=big),
        message("t", "c", 3, size=big),
        message("t", "a", 4, size=big),
    ]
    waves = dapr.publish_waves(batch)
    for wave in waves:
        keys = [m.key for _, chunk in wave for m, _ in chunk]
        runs_of_a = sum(1 for _, chunk in wave if any(m.key == "a" for m, _ in chunk))
        assert runs_of_a <= 1, keys
        for _, chunk in wave:
            assert sum(len(event) for _, event in chunk) <= dapr.BULK_BYTES
    sent_a = [n for wave in waves for request in wave for n in numbers(request) if n in (0, 2, 4)]
    assert sent_a == [0, 2, 4]
    assert sorted(n for wave in waves for request in wave for n in numbers(request)) == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_the_same_key_on_two_topics_is_two_lanes_in_two_requests() -> None:
    waves = dapr.publish_waves([message("t1", "k", 0), message("t2", "k", 1)])
    assert [[(topic, numbers((topic, chunk))) for topic, chunk in wave] for wave in waves] == [
        [("t1", [0]), ("t2", [1])]
    ]


def test_a_traced_event_goes_alone_between_its_keys_runs() -> None:
    batch = [
        message("t", "k", 0),
        message("t", "k", 1),
        message("t", "k", 2, traced=True),
        message("t", "k", 3),
        message("t", "j", 4),
    ]
    waves = dapr.publish_waves(batch)
    assert [[numbers(request) for request in wave] for wave in waves] == [
        [[0, 1, 4]],
        [[2]],
        [[3]],
    ]
