"""Password hashing runs off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from taskstream import auth
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.integration


@pytest.fixture
async def one_hash_at_a_time(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway that computes one password hash at a time."""
    runtime = bootstrap(
        settings.model_copy(update={"password_hash_concurrency": 1}),
        app_id="gateway",
        engine=engine,
        transport=MemoryTransport(),
    )
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://taskstream.test") as c:
        yield c


async def test_hashes_run_in_threads_and_never_more_than_the_limit_at_once(
    one_hash_at_a_time: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    lock = threading.Lock()
    running, most, threads = 0, 0, set()
    real_hash, real_verify = auth.hash_password, auth.verify_password
    overlap = threading.Event()  # never set: waiting on it gives other hashes time to start

    def observed(work: str) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.get_ident())
        overlap.wait(0.05)
        with lock:
            running -= 1

    def hash_password(password: str) -> str:
        observed("hash")
        return real_hash(password)

    def verify_password(stored: str, password: str) -> bool:
        observed("verify")
        return real_verify(stored, password)

    monkeypatch.setattr(auth, "hash_password", hash_password)
    monkeypatch.setattr(auth, "verify_password", verify_password)
    clients = [GraphQLClient(one_hash_at_a_time) for _ in range(4)]
    emails = [f"hash-{uuid.uuid4().hex[:12]}@example.com" for _ in clients]
    await asyncio.gather(*(c.sign_up(e) for c, e in zip(clients, emails, strict=True)))
    log_in = 'mutation($e: String!) { logIn(email: $e, password: "wrong password") { token } }'
    pairs = zip(clients, emails, strict=True)
    answers = await asyncio.gather(*(c.execute(log_in, {"e": e}) for c, e in pairs))
    assert {a["errors"][0]["extensions"]["code"] for a in answers} == {"UNAUTHENTICATED"}
    assert most == 1
    assert threads and loop_thread not in threads
