"""The Idempotency-Key rules that need no store: the key's shape, the request's fingerprint,
which responses free the key, which shared-state adapter the settings choose, and how a retry
waits for the first request (on a store in memory)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.graphql_http import RequestError
from gateway.idempotency import Claim, Idempotency, Replay, fingerprint, frees_the_key, parse_key
from taskstream.settings import Settings
from tests.unit.memory_state import SlowState


@pytest.mark.parametrize("key", ["a", "x" * 255, "create-3f1c", "!~{}[]()", "0"])
def test_visible_ascii_keys_of_1_to_255_characters_are_accepted(key: str) -> None:
    assert parse_key(key) == key


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 256, "caf\u00e9", "tab\t", "\x7f"])
def test_other_keys_are_bad_user_input_naming_the_header(key: str) -> None:
    with pytest.raises(RequestError) as refused:
        parse_key(key)
    assert refused.value.code == "BAD_USER_INPUT"
    assert refused.value.message.startswith("Idempotency-Key: must be 1 to 255 visible ASCII")


def test_no_header_is_no_key() -> None:
    assert parse_key(None) is None


def test_the_fingerprint_is_the_request_whatever_the_order_of_its_variables() -> None:
    query = "mutation($a: String!, $b: Int) { x }"
    same = fingerprint(query, "M", {"a": "1", "b": 2})
    assert fingerprint(query, "M", {"b": 2, "a": "1"}) == same
    assert fingerprint(query, "M", {"a": "1", "b": 3}) != same
    assert fingerprint(query, "N", {"a": "1", "b": 2}) != same
    assert fingerprint(query + " ", "M", {"a": "1", "b": 2}) != same
    assert fingerprint(query, None, None) == fingerprint(query, None, {})


def error(code: str, path: list[str] | None = None) -> dict[str, object]:
    """A GraphQL error with a code (and a path: a field error)."""
    found: dict[str, object] = {"message": "m", "extensions": {"code": code}}
    if path is not None:
        found["path"] = path
    return found


@pytest.mark.parametrize(
    ("response", "frees"),
    [
        ({"data": {"createTask": {"id": "1"}}}, False),
        ({"data": None, "errors": [error("NOT_FOUND", ["deleteTask"])]}, False),
        ({"data": None, "errors": [error("BAD_USER_INPUT", ["createTask"])]}, False),
        ({"errors": [error("BAD_USER_INPUT")]}, True),  # a request error: nothing ran
        ({"data": None, "errors": [error("RATE_LIMITED", ["createTask"])]}, True),
        ({"data": None, "errors": [error("TIMEOUT", ["createTask"])]}, True),
        ({"data": None, "errors": [error("INTERNAL", ["createTask"])]}, True),
        ({"data": None, "errors": [error("UNAUTHENTICATED", ["createTask"])]}, True),
        (
            {"data": {"a": {"id": "1"}, "b": None}, "errors": [error("INTERNAL", ["b"])]},
            False,  # one field changed something: its response is kept
        ),
    ],
)
def test_only_responses_that_changed_nothing_free_the_key(
    response: dict[str, object], frees: bool
) -> None:
    assert frees_the_key(response) is frees


@pytest.mark.parametrize(
    ("given", "bus", "chosen"),
    [
        ("auto", "memory://", "database"),
        ("auto", "kafka://127.0.0.1:9092", "database"),
        ("auto", "dapr://127.0.0.1:3500", "dapr"),
        ("database", "dapr://127.0.0.1:3500", "database"),
        ("dapr", "memory://", "dapr"),
    ],
)
def test_the_shared_state_adapter_follows_the_settings(given: str, bus: str, chosen: str) -> None:
    settings = Settings(shared_state=given, bus_url=bus)
    assert settings.shared_state_adapter == chosen


PRINT = fingerprint("mutation { a }", None, {})


async def claimed_and_awaited(
    state: SlowState, polls: int
) -> tuple[Idempotency, Claim, asyncio.Task[Claim | Replay]]:
    """A first request's claim, and a retry of it that has polled `polls` times meanwhile."""
    keys = Idempotency(state, ttl_seconds=60, pending_seconds=60)
    account = uuid.uuid4()
    answer_by = asyncio.get_running_loop().time() + 5
    claim = await keys.begin(account, "key-1", PRINT, answer_by=answer_by)
    assert isinstance(claim, Claim)
    waiting = asyncio.create_task(keys.begin(account, "key-1", PRINT, answer_by=answer_by))
    while state.reads < polls:
        await asyncio.sleep(0.01)
    return keys, claim, waiting


async def test_a_retry_waiting_for_the_first_response_reads_without_claiming_again() -> None:
    state = SlowState(0)
    keys, claim, waiting = await claimed_and_awaited(state, polls=3)
    await keys.finish(claim, {"data": {"a": 1}})
    replay = await waiting
    assert isinstance(replay, Replay)
    assert replay.response == {"data": {"a": 1}}
    # One claim each: a key that is taken costs the waiter reads, not failing inserts (which
    # a state store may answer slowly, as state.postgresql through Dapr does).
    assert [absent for _, absent in state.writes] == [True, True, False]


async def test_a_retry_claims_the_key_once_the_first_request_frees_it() -> None:
    keys, claim, waiting = await claimed_and_awaited(SlowState(0), polls=2)
    await keys.finish(claim, {"errors": [{"message": "slow", "extensions": {"code": "TIMEOUT"}}]})
    second = await waiting
    assert isinstance(second, Claim)
    assert second.owner != claim.owner


async def test_a_retry_still_waiting_near_its_deadline_answers_conflict_in_time() -> None:
    keys = Idempotency(SlowState(0), ttl_seconds=60, pending_seconds=60)
    account = uuid.uuid4()
    loop = asyncio.get_running_loop()
    claim = await keys.begin(account, "key-1", PRINT, answer_by=loop.time() + 5)
    assert isinstance(claim, Claim)
    answer_by = loop.time() + 0.4
    with pytest.raises(RequestError, match="still being processed") as refused:
        await keys.begin(account, "key-1", PRINT, answer_by=answer_by)
    assert refused.value.code == "CONFLICT"
    assert loop.time() < answer_by
