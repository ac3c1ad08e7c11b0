"""Revocable sessions (CONTRACT.md "Sessions"): logOut, logOutEverywhere, changePassword and
deleteAccount, over HTTP and against open WebSockets, and the erasure of a deleted account in
every service's tables."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.sessions import KnownSessions
from gateway_core.live import LiveHub
from gateway_core.persistence.sessions import CACHED_REVOCATIONS
from gateway_core.services import accounts
from taskstream.auth import ALGORITHM
from taskstream.bootstrap import bootstrap
from taskstream.errors import Unauthenticated
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.docs.test_event_schemas import validator_for
from tests.e2e.test_live_updates import (
    TASK_EVENTS,
    account,
    close_code,
    connect,
    receive,
    send,
    server,
    subscribe,
)

pytestmark = pytest.mark.e2e

__all__ = ["server"]  # the fixture, shared with the live-update tests

PASSWORD = "correct horse"  # what GraphQLClient.sign_up uses
ME = "{ me { id } }"
LOG_IN = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"
CHANGE = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) "
    "{ token user { id } } }"
)
DELETE = "mutation($p: String!) { deleteAccount(password: $p) }"


async def log_in(client: GraphQLClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The whole response of a logIn."""
    return await client.execute(LOG_IN, {"e": email, "p": password}, token="")


async def second_token(client: GraphQLClient, email: str) -> str:
    """Another token of the same account (another device)."""
    body = await log_in(client, email)
    token: str = body["data"]["logIn"]["token"]
    return token


async def code_of(client: GraphQLClient, token: str, query: str = ME) -> str | None:
    """The error code of a query made with `token`, or None when it succeeded."""
    body = await client.execute(query, token=token)
    if not body.get("errors"):
        return None
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_log_out_revokes_only_the_token_it_was_sent_with(gql: GraphQLClient) -> None:
    user = await gql.sign_up()
    first = gql.token
    assert first is not None
    other = await second_token(gql, user["email"])
    assert (await gql.data("mutation { logOut }")) == {"logOut": True}
    assert await code_of(gql, first) == "UNAUTHENTICATED"
    assert await code_of(gql, first, "mutation { logOut }") == "UNAUTHENTICATED"
    assert await code_of(gql, other) is None


async def test_an_account_with_many_revoked_tokens_is_checked_in_the_database(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    """More revocations than a replica caches per account still refuse exactly those tokens."""
    user = await gql.sign_up()
    first = gql.token
    assert first is not None
    other = await second_token(gql, user["email"])
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO gateway.revoked_tokens (jti, user_id, expires_at) "
                "SELECT md5(random()::text), :u, now() + interval '1 hour' "
                "FROM generate_series(1, :n)"
            ),
            {"u": user["id"], "n": CACHED_REVOCATIONS + 1},
        )
    await gql.data("mutation { logOut }")
    assert await code_of(gql, first) == "UNAUTHENTICATED"
    assert await code_of(gql, other) is None


async def test_log_out_everywhere_revokes_every_token_issued_so_far(gql: GraphQLClient) -> None:
    user = await gql.sign_up()
    first = gql.token
    assert first is not None
    other = await second_token(gql, user["email"])
    assert (await gql.data("mutation { logOutEverywhere }")) == {"logOutEverywhere": True}
    assert await code_of(gql, first) == "UNAUTHENTICATED"
    assert await code_of(gql, other) == "UNAUTHENTICATED"
    # Logging in again starts a session that works.
    assert await code_of(gql, await second_token(gql, user["email"])) is None


async def test_change_password_answers_a_fresh_token_and_revokes_the_others(
    gql: GraphQLClient,
) -> None:
    user = await gql.sign_up()
    old = gql.token
    assert old is not None
    other = await second_token(gql, user["email"])
    changed = (await gql.data(CHANGE, {"c": PASSWORD, "n": "battery staple"}))["changePassword"]
    assert changed["user"]["id"] == user["id"]
    assert await code_of(gql, changed["token"]) is None
    assert await code_of(gql, old) == "UNAUTHENTICATED"
    assert await code_of(gql, other) == "UNAUTHENTICATED"
    assert (await log_in(gql, user["email"]))["errors"][0]["extensions"]["code"] == (
        "UNAUTHENTICATED"
    )
    assert "errors" not in await log_in(gql, user["email"], "battery staple")


async def test_a_wrong_current_password_or_a_short_new_one_changes_nothing(
    gql: GraphQLClient,
) -> None:
    user = await gql.sign_up()
    token = gql.token
    assert token is not None
    wrong_login = (await log_in(gql, user["email"], "not the password"))["errors"][0]
    wrong = await gql.error(CHANGE, {"c": "not the password", "n": "battery staple"})
    # Exactly what a wrong password at logIn answers.
    assert wrong["extensions"]["code"] == "UNAUTHENTICATED"
    assert wrong["message"] == wrong_login["message"]
    short = await gql.error(CHANGE, {"c": PASSWORD, "n": "short"})
    assert short["extensions"]["code"] == "BAD_USER_INPUT"
    assert "newPassword" in short["message"] and "8" in short["message"]
    assert await code_of(gql, token) is None
    assert "errors" not in await log_in(gql, user["email"])
    assert "errors" in await log_in(gql, user["email"], "battery staple")


async def test_tokens_issued_before_sessions_were_revocable_keep_working(
    gql: GraphQLClient, settings: Settings
) -> None:
    user = await gql.sign_up()
    now = datetime.now(UTC)
    assert settings.jwt_secret is not None
    # The claims tokens had before this change: no session generation.
    legacy = jwt.encode(
        {
            "sub": user["id"],
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
            "jti": uuid.uuid4().hex,
        },
        settings.jwt_secret.get_secret_value(),
        algorithm=ALGORITHM,
    )
    assert await code_of(gql, legacy) is None
    await gql.data("mutation { logOutEverywhere }")
    assert await code_of(gql, legacy) == "UNAUTHENTICATED"


async def test_delete_account_with_a_wrong_password_is_refused_like_log_in(
    gql: GraphQLClient,
) -> None:
    user = await gql.sign_up()
    await gql.data('mutation { createTask(input: {title: "keep me"}) { id } }')
    wrong_login = (await log_in(gql, user["email"], "not the password"))["errors"][0]
    wrong = await gql.error(DELETE, {"p": "not the password"})
    assert (wrong["extensions"]["code"], wrong["message"]) == (
        wrong_login["extensions"]["code"],
        wrong_login["message"],
    )
    tasks = (await gql.data("{ tasks(first: 5) { totalCount } }"))["tasks"]
    assert tasks == {"totalCount": 1}


async def test_password_checks_are_limited_like_log_in(
    settings: Settings, engine: AsyncEngine
) -> None:
    strict = settings.model_copy(update={"login_attempts_per_minute": 3})
    app = create_app(
        bootstrap(strict, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        client = GraphQLClient(http)
        await client.sign_up()  # a sign-up is limited per address, not as a log-in
        codes = [
            (await client.error(DELETE, {"p": "not the password"}))["extensions"]["code"]
            for _ in range(4)
        ]
        changed = await client.error(CHANGE, {"c": "not the password", "n": "battery staple"})
    assert codes == ["UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]
    assert changed["extensions"]["code"] == "RATE_LIMITED"


async def test_a_replica_that_is_not_listening_checks_every_request(
    settings: Settings, engine: AsyncEngine, gql: GraphQLClient
) -> None:
    """A revocation this replica could not hear still takes effect on its next request."""
    user = await gql.sign_up()
    assert gql.token is not None
    runtime = bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    services = create_app(runtime).state.services
    hub = LiveHub(settings.live_broadcast_url)
    await hub.start()
    try:
        sessions = KnownSessions(dataclasses.replace(services, live=hub))
        claims = services.tokens.claims(gql.token)
        await sessions.check(claims)  # now cached
        # Revoked in the database by another replica; its message never arrives here.
        await accounts.log_out_everywhere(uow=services.uow(), user_id=uuid.UUID(user["id"]))
        await sessions.check(claims)  # the cache vouches for it: the broadcast is what tells
        await hub.stop()  # no longer listening: nothing would tell this replica
        assert not hub.connected
        with pytest.raises(Unauthenticated, match="revoked"):
            await sessions.check(claims)
    finally:
        await hub.stop()


async def test_revoked_tokens_close_their_open_sockets_with_4403(server: str) -> None:
    token, client, http = await account(server)
    other_token, other_client, other_http = await account(server)
    me = (await client.data("{ me { email } }"))["me"]
    second = await second_token(client, me["email"])
    revoked = await subscribe(server, token, TASK_EVENTS)
    kept = await subscribe(server, second, TASK_EVENTS)
    stranger = await subscribe(server, other_token, TASK_EVENTS)
    await client.data("mutation { logOut }")
    assert await close_code(revoked) == 4403
    # The same account's other session and another account's socket stay open.
    for open_socket in (kept, stranger):
        await send(open_socket, {"type": "ping"})
        assert (await receive(open_socket))["type"] == "pong"
    # A revoked token cannot open a new socket either.
    again = await connect(server)
    await send(again, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert await close_code(again) == 4403
    client.token = second
    await client.data("mutation { logOutEverywhere }")
    assert await close_code(kept) == 4403
    await send(stranger, {"type": "ping"})
    assert (await receive(stranger))["type"] == "pong"
    await other_client.data(
        "mutation($p: String!) { deleteAccount(password: $p) }", {"p": PASSWORD}
    )
    assert await close_code(stranger) == 4403
    await http.aclose()
    await other_http.aclose()


async def rows_of(engine: AsyncEngine, user_id: str) -> dict[str, int]:
    """How many rows each table of every service holds for the user (user_id, id or key)."""
    async with engine.connect() as connection:
        tables = (
            await connection.execute(
                text(
                    "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema IN ('gateway', 'notifications', 'audit', 'recurrence') "
                    "AND column_name IN ('user_id', 'partition_key') "
                    "UNION SELECT 'gateway', 'users', 'id'"
                )
            )
        ).all()
        counts = {}
        for schema, table, column in tables:
            condition = f"{column}::text = :user"
            if schema == "gateway" and table == "outbox":
                # The deletion event itself stays until pruned: it holds nothing but the id.
                condition += " AND type <> 'taskstream.user.deleted.v1'"
            counts[f"{schema}.{table}"] = int(
                await connection.scalar(
                    text(f'SELECT count(*) FROM "{schema}"."{table}" WHERE {condition}'),
                    {"user": user_id},
                )
                or 0
            )
    return counts


async def fill(client: GraphQLClient) -> None:
    """A task with tags and a reminder that fires, a webhook, and their audit entries."""
    remind_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    await client.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {
            "i": {
                "title": "Personal",
                "notes": "private notes",
                "tags": ["home", "family"],
                "reminders": [{"remindAt": remind_at, "channels": ["IN_APP"]}],
            }
        },
    )
    await client.data(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        {
            "i": {
                "title": "Later",
                "dueAt": "2030-01-01T09:00:00Z",
                "reminders": [{"remindAt": "2029-12-31T09:00:00Z"}],
            }
        },
    )
    await client.data('mutation { registerWebhook(url: "https://93.184.215.14/h") { secret } }')
    # Wait until the notification was sent and the audit service caught up.
    async with asyncio.timeout(20):
        while True:
            data = await client.data(
                "{ notifications(first: 5) { totalCount } auditLog { edges { node { id } } } }"
            )
            if data["notifications"]["totalCount"] and len(data["auditLog"]["edges"]) >= 4:
                return
            await asyncio.sleep(0.1)


async def test_delete_account_erases_every_row_of_the_user_and_frees_the_email(
    server: str, engine: AsyncEngine
) -> None:
    _, doomed, doomed_http = await account(server)
    _, kept, kept_http = await account(server)
    me = (await doomed.data("{ me { id email } }"))["me"]
    other = (await kept.data("{ me { id } }"))["me"]
    await fill(doomed)
    await fill(kept)
    before = await rows_of(engine, me["id"])
    for table in (
        "gateway.tasks",
        "gateway.tags",
        "gateway.reminders",
        "audit.entries",
        "notifications.notifications",
        "notifications.webhooks",
    ):
        assert before[table] > 0, (table, before)
    kept_before = await rows_of(engine, other["id"])

    assert (await doomed.data(DELETE, {"p": PASSWORD})) == {"deleteAccount": True}

    assert await code_of(doomed, doomed.token or "") == "UNAUTHENTICATED"
    async with asyncio.timeout(60):  # the contract's minute
        while True:
            left = {t: n for t, n in (await rows_of(engine, me["id"])).items() if n}
            if not left:
                break
            await asyncio.sleep(0.2)
    assert await rows_of(engine, other["id"]) == kept_before
    assert (await kept.data("{ verifyAuditLog { ok } }"))["verifyAuditLog"] == {"ok": True}
    # The deletion event is a real event of its documented shape.
    async with engine.connect() as connection:
        [event] = (
            await connection.scalars(
                text(
                    "SELECT payload FROM gateway.outbox WHERE partition_key = :u "
                    "AND type = 'taskstream.user.deleted.v1'"
                ),
                {"u": me["id"]},
            )
        ).all()
    errors = list(validator_for("taskstream.user.deleted.v1").iter_errors(event))
    assert not errors, errors
    # The address is free again: a new, empty account.
    again = GraphQLClient(doomed_http)
    fresh = await again.sign_up(me["email"])
    assert fresh["id"] != me["id"]
    assert (await again.data("{ tasks(first: 5) { totalCount } }"))["tasks"]["totalCount"] == 0
    await doomed_http.aclose()
    await kept_http.aclose()
