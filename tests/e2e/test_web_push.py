"""Web Push, the PUSH channel, through the whole system in `up`.

A real push service stand-in (Starlette under uvicorn on 127.0.0.1) receives what the
notifications service POSTs, checks the VAPID JWT's signature against the key the API hands
browsers, and decrypts the body with http_ece (RFC 8291) using the browser's keys, which the
test generates as a browser would. The only thing not real is the push service's forwarding.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import http_ece  # type: ignore[import-untyped]
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracts.notifications import PUSH_SUBSCRIPTIONS_MAX
from taskstream.auth import new_vapid_private_key
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_notifications_flow import (
    create,
    free_port,
    running,
    serving,
    soon,
    until_state,
    user,
)
from workers.notifications.tables import deliveries, outbox, push_subscriptions

pytestmark = pytest.mark.e2e

SETUP = "{ pushSetup { publicKey subscriptions { id endpoint createdAt } } }"
SUBSCRIBE = """
mutation($e: String!, $k: String!, $a: String!) {
  subscribePush(endpoint: $e, p256dh: $k, auth: $a) { id endpoint }
}
"""
UNSUBSCRIBE = "mutation($e: String!) { unsubscribePush(endpoint: $e) }"
SUBJECT = "mailto:ops@taskstream.example"


def b64url(data: bytes) -> str:
    """Unpadded base64url, as browsers spell subscription keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Bytes of unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push subscription keys (what PushManager.subscribe makes)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        """The subscription's public key."""
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def decrypt(self, body: bytes) -> Any:
        """The pushed JSON, decrypted as the browser does (aes128gcm, RFC 8291)."""
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


@dataclass
class Inbox:
    """One subscription's endpoint at the push service: the statuses it answers, what came."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


class PushService:
    """A push service on 127.0.0.1: /push/{name} records each POST and answers 201 (or the
    statuses queued for that name first)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inboxes: dict[str, Inbox] = {}

    def endpoint(self, name: str, *statuses: int) -> str:
        """A new subscription endpoint answering `statuses` first, then 201."""
        self.inboxes[name] = Inbox(statuses=list(statuses))
        return f"http://127.0.0.1:{self.port}/push/{name}"

    async def receive(self, request: Request) -> Response:
        """Record the push and answer."""
        inbox = self.inboxes[request.path_params["name"]]
        inbox.received.append((dict(request.headers), await request.body()))
        status = inbox.statuses.pop(0) if inbox.statuses else 201
        return Response(status_code=status)

    def app(self) -> Starlette:
        """The service's ASGI app."""
        return Starlette(routes=[Route("/push/{name}", self.receive, methods=["POST"])])


@pytest.fixture(scope="module")
async def push_service() -> AsyncIterator[PushService]:
    """A real HTTP push service on 127.0.0.1."""
    service = PushService(free_port())
    async with serving(service.app(), service.port):
        yield service


@pytest.fixture(scope="module")
def push_settings(settings: Settings) -> Settings:
    """The test settings with a VAPID key, loopback destinations allowed, quick retries."""
    return settings.model_copy(
        update={
            "vapid_private_key": SecretStr(new_vapid_private_key()),
            "vapid_subject": SUBJECT,
            "webhook_allow_private": True,
            "notification_retry_seconds": 0.2,
            "notification_max_attempts": 4,
        }
    )


@pytest.fixture
async def push_system(
    push_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole in-process system with those settings."""
    async with running(push_settings, engine) as client:
        yield client


async def subscribe(client: GraphQLClient, endpoint: str, browser: Browser) -> dict[str, Any]:
    """Subscribe the browser at `endpoint` for the client's account."""
    subscribed: dict[str, Any] = (
        await client.data(
            SUBSCRIBE, {"e": endpoint, "k": browser.p256dh, "a": b64url(browser.auth)}
        )
    )["subscribePush"]
    return subscribed


def verify_vapid(authorization: str, public_key: str, endpoint: str) -> dict[str, Any]:
    """The VAPID JWT's claims once its ES256 signature checks out against `public_key`
    (RFC 8292: `vapid t=<jwt>, k=<key>`, `k` being the key browsers subscribed with)."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(fields["k"]))
    origin = "/".join(endpoint.split("/")[:3])
    claims: dict[str, Any] = jwt.decode(
        fields["t"], key=point, algorithms=["ES256"], audience=origin
    )
    return claims


async def test_a_reminder_is_pushed_encrypted_and_vapid_signed_to_every_subscribed_browser(
    push_system: httpx.AsyncClient, push_service: PushService, engine: AsyncEngine
) -> None:
    dana, _ = await user(push_system)
    setup = (await dana.data(SETUP))["pushSetup"]
    assert setup["subscriptions"] == [] and setup["publicKey"]
    assert len(b64url_decode(setup["publicKey"])) == 65  # an uncompressed P-256 point
    laptop, phone = Browser(), Browser()
    laptop_url = push_service.endpoint("dana-laptop")
    phone_url = push_service.endpoint("dana-phone", 503)  # the push service is busy once
    await subscribe(dana, laptop_url, laptop)
    await subscribe(dana, phone_url, phone)
    listed = (await dana.data(SETUP))["pushSetup"]["subscriptions"]
    assert [s["endpoint"] for s in listed] == [laptop_url, phone_url]

    task = await create(
        dana,
        title="Water the plants",
        dueAt=soon(3600),
        reminders=[{"remindAt": soon(0.5), "channels": ["PUSH"]}],
    )
    remind_at = datetime.fromisoformat(task["reminders"][0]["remindAt"])
    await until_state(dana, task["id"], "SENT", by=remind_at + timedelta(seconds=10))

    for name, browser, endpoint, posts in (
        ("dana-laptop", laptop, laptop_url, 1),
        ("dana-phone", phone, phone_url, 2),
    ):
        received = push_service.inboxes[name].received
        assert len(received) == posts, name
        headers, body = received[-1]
        assert headers["content-encoding"] == "aes128gcm"
        assert int(headers["ttl"]) > 0
        claims = verify_vapid(headers["authorization"], setup["publicKey"], endpoint)
        assert claims["sub"] == SUBJECT
        assert 0 < claims["exp"] - datetime.now(UTC).timestamp() <= 24 * 3600
        pushed = browser.decrypt(body)
        assert pushed["title"] == "Water the plants"
        assert pushed["taskId"] == task["id"]
        assert pushed["reminderId"] == task["reminders"][0]["id"]
        # Another browser's keys cannot read it.
        with pytest.raises(Exception):  # noqa: B017, PT011 - http_ece raises InvalidTag
            Browser().decrypt(body)

    async with engine.connect() as connection:
        sent = (
            await connection.execute(
                select(outbox.c.payload["data"]["channel"].astext).where(
                    outbox.c.type == "taskstream.notification.sent.v1",
                    outbox.c.payload["data"]["reminderId"].astext == task["reminders"][0]["id"],
                )
            )
        ).all()
    assert [row[0] for row in sent] == ["PUSH", "PUSH"]


async def test_a_subscription_the_push_service_no_longer_knows_is_removed(
    push_system: httpx.AsyncClient, push_service: PushService, engine: AsyncEngine
) -> None:
    erin, _ = await user(push_system)
    gone_url = push_service.endpoint("erin-old", 410)
    await subscribe(erin, gone_url, Browser())
    task = await create(
        erin, title="Old browser", reminders=[{"remindAt": soon(0.3), "channels": ["PUSH"]}]
    )
    # Its only delivery had nowhere to go: nothing was delivered.
    await until_state(erin, task["id"], "FAILED", by=datetime.now(UTC) + timedelta(seconds=10))
    assert len(push_service.inboxes["erin-old"].received) == 1  # not retried
    assert (await erin.data(SETUP))["pushSetup"]["subscriptions"] == []
    async with engine.connect() as connection:
        delivery = (
            await connection.execute(
                select(deliveries.c.state, deliveries.c.last_error).where(
                    deliveries.c.reminder_id == uuid.UUID(task["reminders"][0]["id"])
                )
            )
        ).one()
    assert tuple(delivery) == ("CANCELLED", "push service answered 410: subscription gone")


async def test_push_with_no_browser_subscribed_fails_and_says_so(
    push_system: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    fay, _ = await user(push_system)
    task = await create(
        fay, title="Nobody listens", reminders=[{"remindAt": soon(0.3), "channels": ["PUSH"]}]
    )
    await until_state(fay, task["id"], "FAILED", by=datetime.now(UTC) + timedelta(seconds=10))
    async with engine.connect() as connection:
        error = await connection.scalar(
            select(deliveries.c.last_error).where(
                deliveries.c.reminder_id == uuid.UUID(task["reminders"][0]["id"])
            )
        )
    assert error == "no browser is subscribed to push"


async def test_bad_subscriptions_are_refused_naming_the_field_and_change_nothing(
    push_system: httpx.AsyncClient, push_service: PushService, engine: AsyncEngine
) -> None:
    gus, profile = await user(push_system)
    good = Browser()
    cases = [
        ({"e": "http://push.example.com/x"}, "endpoint", "https"),
        ({"e": "ftp://push.example.com/x"}, "endpoint", "http"),
        ({"e": "https://push.example.com/" + "x" * 2100}, "endpoint", ""),
        ({"k": b64url(os.urandom(65))}, "p256dh", "P-256"),
        ({"k": "not base64!"}, "p256dh", "P-256"),
        ({"a": b64url(os.urandom(8))}, "auth", "16-byte"),
    ]
    for override, field_name, words in cases:
        variables = {
            "e": push_service.endpoint("gus"),
            "k": good.p256dh,
            "a": b64url(good.auth),
            **override,
        }
        error = await gus.error(SUBSCRIBE, variables)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
        assert field_name in error["message"] and words in error["message"], error
    async with engine.connect() as connection:
        stored = await connection.scalar(
            select(push_subscriptions.c.id).where(
                push_subscriptions.c.user_id == uuid.UUID(profile["id"])
            )
        )
    assert stored is None

    # At most PUSH_SUBSCRIPTIONS_MAX browsers; the same endpoint again only replaces its keys.
    for n in range(PUSH_SUBSCRIPTIONS_MAX):
        await subscribe(gus, push_service.endpoint(f"gus-{n}"), Browser())
    again = await subscribe(gus, push_service.endpoint("gus-0"), Browser())
    error = await gus.error(
        SUBSCRIBE,
        {"e": push_service.endpoint("gus-extra"), "k": good.p256dh, "a": b64url(good.auth)},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"at most {PUSH_SUBSCRIPTIONS_MAX}" in error["message"]
    listed = (await gus.data(SETUP))["pushSetup"]["subscriptions"]
    assert len(listed) == PUSH_SUBSCRIPTIONS_MAX and listed[0]["id"] == again["id"]

    # Unsubscribing: once, and only one's own.
    hank, _ = await user(push_system)
    mine = push_service.endpoint("gus-1")
    assert (await hank.error(UNSUBSCRIBE, {"e": mine}))["extensions"]["code"] == "NOT_FOUND"
    await gus.data(UNSUBSCRIBE, {"e": mine})
    assert (await gus.error(UNSUBSCRIBE, {"e": mine}))["extensions"]["code"] == "NOT_FOUND"
    left = (await gus.data(SETUP))["pushSetup"]["subscriptions"]
    assert mine not in [s["endpoint"] for s in left] and len(left) == PUSH_SUBSCRIPTIONS_MAX - 1


async def test_push_is_off_without_a_vapid_key(carol: GraphQLClient) -> None:
    assert (await carol.data(SETUP))["pushSetup"]["publicKey"] is None
