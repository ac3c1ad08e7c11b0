"""Sign-up, log-in, tokens and the UNAUTHENTICATED rule, over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

ME = "{ me { id email timezone } }"
LOG_IN = (
    "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token user { id } } }"
)


async def test_sign_up_returns_a_token_that_identifies_the_user(gql: GraphQLClient) -> None:
    user = await gql.sign_up(email="Ada@Example.com", timezone="Europe/Berlin")
    me = (await gql.data(ME))["me"]
    assert me == {"id": user["id"], "email": "Ada@Example.com", "timezone": "Europe/Berlin"}


async def test_emails_are_unique_case_insensitively(gql: GraphQLClient) -> None:
    email = f"Grace-{uuid.uuid4().hex[:8]}@Example.com"
    await gql.sign_up(email=email)
    error = await gql.error(
        'mutation($e: String!) { signUp(email: $e, password: "long enough") { token } }',
        {"e": email.upper()},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert "email" in error["message"]


@pytest.mark.parametrize(
    ("email", "password", "timezone", "field"),
    [
        ("x@example.com", "short", None, "password"),
        ("not-an-email", "long enough", None, "email"),
        ("y@example.com", "long enough", "Mars/Olympus", "timezone"),
    ],
)
async def test_sign_up_refuses_bad_input_naming_the_field(
    gql: GraphQLClient, email: str, password: str, timezone: str | None, field: str
) -> None:
    error = await gql.error(
        "mutation($e: String!, $p: String!, $tz: String) "
        "{ signUp(email: $e, password: $p, timezone: $tz) { token } }",
        {"e": email, "p": password, "tz": timezone},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(field)


async def test_log_in_with_the_right_password_only(gql: GraphQLClient) -> None:
    email = f"log-{uuid.uuid4().hex[:8]}@example.com"
    user = await gql.sign_up(email=email)
    gql.token = None
    good = await gql.data(LOG_IN, {"e": email.upper(), "p": "correct horse"})
    assert good["logIn"]["user"]["id"] == user["id"]
    wrong = await gql.error(LOG_IN, {"e": email, "p": "wrong horse"})
    assert wrong["extensions"]["code"] == "UNAUTHENTICATED"
    unknown = await gql.error(LOG_IN, {"e": "nobody@example.com", "p": "correct horse"})
    assert unknown["extensions"]["code"] == "UNAUTHENTICATED"
    assert unknown["message"] == wrong["message"]


@pytest.mark.parametrize(
    "operation",
    [
        ME,
        "{ tasks { totalCount } }",
        "{ tags { id } }",
        'mutation { createTask(input: {title: "x"}) { id } }',
        "{ webhooks { id } }",
        "{ verifyAuditLog { ok } }",
    ],
)
async def test_everything_but_sign_up_and_log_in_needs_a_token(
    gql: GraphQLClient, operation: str
) -> None:
    error = await gql.error(operation)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_forged_expired_and_unsigned_tokens_are_refused(
    alice: GraphQLClient, settings: object
) -> None:
    me = (await alice.data(ME))["me"]
    now = datetime.now(UTC)
    claims = {
        "sub": me["id"],
        "iss": "taskstream",
        "aud": "taskstream-api",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    secret = alice_secret(settings)
    expired = jwt.encode(
        {**claims, "exp": int((now - timedelta(seconds=5)).timestamp())}, secret, "HS256"
    )
    wrong_key = jwt.encode(claims, "not-the-key-" + "x" * 40, "HS256")
    wrong_audience = jwt.encode({**claims, "aud": "someone-else"}, secret, "HS256")
    unsigned = jwt.encode(claims, "", "none")  # the "none" algorithm takes no key
    valid = jwt.encode(claims, secret, "HS256")
    assert (await alice.execute(ME, token=valid))["data"]["me"]["id"] == me["id"]
    for token in (expired, wrong_key, wrong_audience, unsigned, valid[:-2] + "xx"):
        body = await alice.execute(ME, token=token)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token


def alice_secret(settings: object) -> str:
    """The test signing key."""
    from taskstream.settings import Settings

    assert isinstance(settings, Settings) and settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


async def test_login_attempts_and_mutations_are_rate_limited(
    settings: Settings, engine: AsyncEngine
) -> None:
    strict = settings.model_copy(update={"login_attempts_per_minute": 3, "mutations_per_minute": 4})
    app = create_app(
        bootstrap(strict, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as http:
        client = GraphQLClient(http)
        email = f"limited-{uuid.uuid4().hex[:8]}@example.com"
        await client.sign_up(email=email)
        # Three log-ins of the account from this address a minute (signing up is not one).
        for _ in range(3):
            await client.error(LOG_IN, {"e": email, "p": "wrong password"})
        limited = await client.error(LOG_IN, {"e": email, "p": "correct horse"})
        assert limited["extensions"]["code"] == "RATE_LIMITED"
        assert "try again in" in limited["message"]
        for i in range(4):
            await client.data(f'mutation {{ createTask(input: {{title: "t{i}"}}) {{ id }} }}')
        error = await client.error('mutation { createTask(input: {title: "one too many"}) { id } }')
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert (await client.data("{ tasks { totalCount } }"))["tasks"]["totalCount"] == 4
