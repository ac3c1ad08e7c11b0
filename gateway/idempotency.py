"""Idempotent mutations: the `Idempotency-Key` header (docs/contract/CONTRACT.md).

A mutation sent over HTTP by an account with the header is run at most once per key: the first
request claims the key in the shared state (first writer wins, so concurrent requests on any
replica race for one claim), runs, and stores its response beside the request's fingerprint.
A retry with the same key and the same request gets that response again (header
`Idempotent-Replayed: true`) without running; the same key with another request is CONFLICT.
A retry that arrives while the first is still running waits for its response, up to the
request deadline, then answers CONFLICT ("still being processed", retryable).

Keys are per account (another account's key of the same text is another key) and kept for
`TASKSTREAM_IDEMPOTENCY_TTL_SECONDS` (24 h). Anonymous requests (signUp, logIn) have no
account to scope a key to; the header is ignored for them. A response that changed nothing
and says so with a retryable code (RATE_LIMITED, TIMEOUT, INTERNAL, UNAUTHENTICATED,
UNAVAILABLE), and a request error (nothing ran), free the key, so the retry runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.graphql_http import RequestError, is_request_error
from taskstream.sharedstate import KEEP, ETagMismatch, SharedState

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
# 1 to 255 visible ASCII characters (CONTRACT.md).
KEY = re.compile(r"[\x21-\x7e]{1,255}")
RETRYABLE = frozenset({"RATE_LIMITED", "TIMEOUT", "INTERNAL", "UNAUTHENTICATED", "UNAVAILABLE"})
# How often a waiting retry looks for the first request's response.
POLL_SECONDS = 0.05
# A waiting retry gives up this long before its own deadline, so that it answers CONFLICT
# ("still being processed") rather than running into the deadline's TIMEOUT.
ANSWER_MARGIN_SECONDS = 0.25


def parse_key(header: str | None) -> str | None:
    """The header's key; BAD_USER_INPUT naming the header when it is not a valid one."""
    if header is None:
        return None
    if KEY.fullmatch(header) is None:
        raise RequestError(
            "Idempotency-Key: must be 1 to 255 visible ASCII characters (no spaces), "
            "unique per user action",
            well_formed=True,
        )
    return header


def fingerprint(query: str | None, operation_name: str | None, variables: Any) -> str:
    """What makes two requests the same request: document text, operation and variables."""
    canonical = json.dumps(
        {"query": query, "operationName": operation_name, "variables": variables or {}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: it runs, then stores its response (or frees the key)."""

    state_key: str
    fingerprint: str
    owner: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's first response, to be answered again."""

    response: dict[str, Any]


class Idempotency:
    """Claims, replays and conflicts of Idempotency-Keys in the shared state."""

    def __init__(
        self,
        state: SharedState,
        *,
        ttl_seconds: float,
        pending_seconds: float,
    ) -> None:
        self.state = state
        self.ttl = ttl_seconds
        # A claim whose holder died vanishes after this; a retry then runs.
        self.pending = pending_seconds

    def state_key(self, account: uuid.UUID, key: str) -> str:
        """The store key of an account's Idempotency-Key (hashed: bounded and opaque)."""
        return f"idempotency:{account}:{hashlib.sha256(key.encode()).hexdigest()}"

    async def begin(
        self, account: uuid.UUID, key: str, print_: str, *, answer_by: float
    ) -> Claim | Replay:
        """Claim the key, or the first response under it; CONFLICT for another request or
        for one still running shortly before `answer_by` (the event loop's time)."""
        state_key = self.state_key(account, key)
        owner = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = answer_by - ANSWER_MARGIN_SECONDS
        while True:
            try:
                await self.state.set(
                    state_key,
                    {"fingerprint": print_, "owner": owner},
                    absent=True,
                    ttl=self.pending,
                )
            except ETagMismatch:
                pass
            else:
                return Claim(state_key, print_, owner)
            # Taken: wait for the holder's response with reads only, and claim again only
            # once the key is free (the holder freed it, or its claim lapsed).
            response = await self._await_response(state_key, print_, deadline)
            if response is not None:
                return Replay(response)
            if loop.time() >= deadline:
                raise RequestError(
                    "Idempotency-Key: the key is being claimed by another request; retry it",
                    code="CONFLICT",
                    well_formed=True,
                )

    async def _await_response(
        self, state_key: str, print_: str, deadline: float
    ) -> dict[str, Any] | None:
        """The response stored under a taken key, or None once the key is free; CONFLICT for
        another request's key, or one still running at the deadline."""
        loop = asyncio.get_running_loop()
        while (entry := await self.state.get(state_key)) is not None:
            stored = entry.value if isinstance(entry.value, dict) else {}
            if stored.get("fingerprint") != print_:
                raise RequestError(
                    "Idempotency-Key: this key was already used for a different request; "
                    "use a new key for each user action",
                    code="CONFLICT",
                    well_formed=True,
                )
            response = stored.get("response")
            if isinstance(response, dict):
                return response
            if loop.time() >= deadline:
                raise RequestError(
                    "Idempotency-Key: the first request with this key is still being "
                    "processed; retry it shortly to get its response",
                    code="CONFLICT",
                    well_formed=True,
                )
            # The first request runs on this or another replica: its response is awaited.
            await asyncio.sleep(POLL_SECONDS)
        return None

    async def finish(self, claim: Claim, response: Mapping[str, Any]) -> None:
        """Store the response for retries, or free the key when nothing ran or may have."""
        if frees_the_key(response):
            await self.release(claim)
            return
        await self.state.set(
            claim.state_key,
            {"fingerprint": claim.fingerprint, "response": dict(response)},
            ttl=self.ttl,
        )

    async def release(self, claim: Claim) -> None:
        """Free the key, if this request still holds it."""

        def free(value: Any) -> tuple[Any, None]:
            mine = isinstance(value, dict) and value.get("owner") == claim.owner
            return (None if mine else KEEP), None

        await self.state.update(claim.state_key, free)


def frees_the_key(response: Mapping[str, Any]) -> bool:
    """Whether a response changed nothing: a request error, or only retryable errors."""
    if is_request_error(response):
        return True
    data = response.get("data")
    if data and any(value is not None for value in data.values()):
        return False
    errors = response.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    return bool(errors) and codes <= RETRYABLE
