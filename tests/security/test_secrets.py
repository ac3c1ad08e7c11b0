"""Secrets stay secret: never in logs (even at DEBUG), errors, metrics or the database in clear.

One run of the whole system handles a password (sign-up, log-in, a wrong one, a too-short one),
bearer tokens, a webhook secret (registered, then used to sign a delivery that first fails and is
retried) and the JWT signing key, with every logger at DEBUG; then every captured record is
rendered by the production JSON formatter and searched, /metrics is scraped and searched, and
the database is searched row by row.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cli.composition import local_system
from taskstream.logs import JsonFormatter
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.security.conftest import free_port

pytestmark = pytest.mark.e2e

OWASP_MIN_MEMORY_KIB = 19_456  # OWASP Password Storage Cheat Sheet: argon2id m=19 MiB, t=2, p=1
OWASP_MIN_TIME = 2


class FlakyHook:
    """A webhook receiver that fails its first delivery (so error paths log too)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.calls = 0

    async def receive(self, request: Request) -> Response:
        """500 once, then 204."""
        self.calls += 1
        await request.body()
        return Response(status_code=500 if self.calls == 1 else 204)


@pytest.fixture
async def flaky_hook() -> AsyncIterator[FlakyHook]:
    """The receiver, served on loopback."""
    hook = FlakyHook(free_port())
    app = Starlette(routes=[Route("/hook", hook.receive, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=hook.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield hook
    server.should_exit = True
    await serving


async def test_no_secret_reaches_logs_errors_or_metrics(
    settings: Settings,
    engine: AsyncEngine,
    flaky_hook: FlakyHook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy pins its own loggers at WARNING; an operator debugging SQL would lower them to
    # INFO (statements and their parameters). DEBUG there dumps result rows by design: that is
    # asking for the data, and TASKSTREAM_LOG_LEVEL never turns it on.
    caplog.set_level(logging.INFO, logger="sqlalchemy")
    lenient = settings.model_copy(
        update={
            "webhook_allow_private": True,
            "notification_max_attempts": 3,
            "notification_retry_seconds": 0.1,
        }
    )
    password = "pw-" + uuid.uuid4().hex
    wrong_password = "wrong-" + uuid.uuid4().hex
    short_password = "s" + uuid.uuid4().hex[:6]
    email = f"secret-{uuid.uuid4().hex[:8]}@example.com"
    assert settings.jwt_secret is not None
    signing_key = settings.jwt_secret.get_secret_value()
    answers: list[str] = []

    async with (
        local_system(lenient, engine=engine, transport=MemoryTransport()) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
        ) as http,
    ):
        client = GraphQLClient(http)

        async def run(query: str, variables: dict[str, object] | None = None) -> dict[str, object]:
            body = await client.execute(query, variables)
            answers.append(str(body))
            return body

        sign_up = "mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }"
        short = await run(sign_up, {"e": "other-" + email, "p": short_password})
        assert short["errors"]
        signed = await run(sign_up, {"e": email, "p": password})
        token = signed["data"]["signUp"]["token"]  # type: ignore[index]
        log_in = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"
        await run(log_in, {"e": email, "p": wrong_password})
        token = (await run(log_in, {"e": email, "p": password}))["data"]["logIn"]["token"]  # type: ignore[index]
        client.token = token
        registered = await run(
            "mutation($u: String!) { registerWebhook(url: $u) { secret } }",
            {"u": f"http://127.0.0.1:{flaky_hook.port}/hook"},
        )
        webhook_secret = registered["data"]["registerWebhook"]["secret"]  # type: ignore[index]
        soon = (datetime.now(UTC) + timedelta(seconds=0.2)).isoformat()
        task = await run(
            'mutation($at: DateTime!) { createTask(input: {title: "t", reminders: '
            "[{remindAt: $at, channels: [WEBHOOK, IN_APP]}]}) { id } }",
            {"at": soon},
        )
        task_id = task["data"]["createTask"]["id"]  # type: ignore[index]
        async with asyncio.timeout(10):
            while flaky_hook.calls < 2:
                await asyncio.sleep(0.05)
        # A forged token and a broken request, so the refusal paths log as well.
        await client.execute("{ me { id } }", token=token[:-4] + "AAAA")
        await run("query($id: ID!) { task(id: $id) { id } }", {"id": task_id + "x"})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.state.metrics_app), base_url="http://metrics"
        ) as scraper:
            metrics = (await scraper.get("/metrics")).text
        assert "taskstream_http_requests_total" in metrics

    secrets = {
        "password": password,
        "wrong password": wrong_password,
        "too-short password": short_password,
        "bearer token": token,
        "token signature": token.rsplit(".", 1)[1],
        "webhook secret": webhook_secret,
        "JWT signing key": signing_key,
    }
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert len(caplog.records) > 20, "the log capture saw too little to prove anything"
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    for name, value in secrets.items():
        assert value not in logged, f"the {name} was logged"
        assert value not in metrics, f"the {name} is in /metrics"
    # Responses: only signUp/logIn return the token and only registerWebhook its secret.
    errors = "\n".join(a for a in answers if "errors" in a)
    for name, value in secrets.items():
        assert value not in errors, f"the {name} is in an error message"


async def test_passwords_are_stored_as_argon2id_at_owasp_parameters(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    first = await gql.sign_up()
    second = await gql.sign_up()  # same password ("correct horse") as the first
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT id::text, password_hash FROM gateway.users WHERE id IN (:a, :b)"),
                {"a": first["id"], "b": second["id"]},
            )
        ).all()
    hashes = {row[0]: row[1] for row in rows}
    assert len(hashes) == 2
    for stored in hashes.values():
        found = re.fullmatch(
            r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)",
            stored,
        )
        assert found, stored
        memory, time_cost, parallelism = (int(found[i]) for i in (1, 2, 3))
        assert memory >= OWASP_MIN_MEMORY_KIB and time_cost >= OWASP_MIN_TIME and parallelism >= 1
        assert len(found[4]) >= 22  # a salt of at least 16 bytes
        assert "correct horse" not in stored
    # Salted: one password, two different hashes.
    assert len(set(hashes.values())) == 2


async def test_no_password_or_signing_key_is_stored_in_clear(
    gql: GraphQLClient, engine: AsyncEngine, settings: Settings
) -> None:
    password = "plain-" + uuid.uuid4().hex
    await gql.data(
        "mutation($e: String!, $p: String!) { signUp(email: $e, password: $p) { token } }",
        {"e": f"clear-{uuid.uuid4().hex[:8]}@example.com", "p": password},
    )
    assert settings.jwt_secret is not None
    needles = [password, settings.jwt_secret.get_secret_value()]
    async with engine.connect() as connection:
        tables = (
            await connection.execute(
                text(
                    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
                    "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                    "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
        ).scalars()
        for table in list(tables):
            for needle in needles:
                hit = await connection.scalar(
                    text(f"SELECT count(*) FROM {table} AS t WHERE t::text LIKE :n"),
                    {"n": f"%{needle}%"},
                )
                assert hit == 0, f"{table} holds a secret in clear"
