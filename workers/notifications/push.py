"""The PUSH channel: Web Push (RFC 8030) with encrypted payloads (RFC 8291) and VAPID (RFC 8292).

A browser subscribes with the VAPID public key and hands us its push service's endpoint and its
p256dh/auth keys. Each reminder is encrypted for it (aes128gcm, with http_ece) and POSTed to the
endpoint with a VAPID JWT signed by the server's key (py_vapid); the push service wakes the
browser's service worker even with no tab open. A 404 or 410 means the subscription is gone.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import http_ece  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]

from taskstream.errors import InvalidInput
from workers.notifications.channels import DeliveryError, Message, WebhookSender
from workers.notifications.webhooks import check_url_shape

# How long a push service keeps an undelivered reminder (the browser may be offline).
PUSH_TTL_SECONDS = 24 * 3600
# A VAPID token's lifetime (RFC 8292 allows at most 24 hours).
VAPID_TOKEN_SECONDS = 12 * 3600
# The reminder's title as pushed: the payload must fit one 4 KiB record with room to spare.
PUSH_TITLE_MAX = 200
P256DH_BYTES = 65
AUTH_BYTES = 16
PUSH_OFF = "push is off: TASKSTREAM_VAPID_PRIVATE_KEY is not set"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Answers meaning the subscription is gone for good (the browser unsubscribed or it expired).
GONE = frozenset({404, 410})


def b64url_decode(value: str) -> bytes:
    """Bytes of unpadded (or padded) base64url; ValueError when it is not base64url."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("not base64url") from error


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push spells keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def vapid_public_key(private_key: str) -> str:
    """The application server key browsers subscribe with: the uncompressed public point."""
    public = Vapid02.from_raw(private_key.encode("ascii")).public_key
    return b64url(
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


@dataclass(frozen=True, slots=True)
class Subscription:
    """One browser's push subscription, as the browser's PushSubscription gives it."""

    endpoint: str
    p256dh: str
    auth: str


def check_subscription(endpoint: str, p256dh: str, auth: str, *, development: bool) -> Subscription:
    """The subscription when it is one a push service could accept; InvalidInput otherwise.

    The endpoint is https, or http on this machine's loopback outside production (tests run a
    push service there); the keys are a P-256 point and a 16-byte secret, in base64url.
    """
    try:
        cleaned, host = check_url_shape(endpoint)
    except InvalidInput as error:
        raise InvalidInput("endpoint", error.message.removeprefix("url: ")) from error
    scheme = urlsplit(cleaned).scheme
    if scheme != "https" and not (development and host in LOOPBACK_HOSTS):
        raise InvalidInput(
            "endpoint", "must be an https:// URL (http:// only on loopback in development)"
        )
    try:
        point = b64url_decode(p256dh.strip())
        if len(point) != P256DH_BYTES:
            raise ValueError("wrong length")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as error:
        raise InvalidInput(
            "p256dh", "must be the subscription's P-256 public key (65 bytes, base64url)"
        ) from error
    try:
        secret = b64url_decode(auth.strip())
    except ValueError as error:
        raise InvalidInput("auth", "must be base64url") from error
    if len(secret) != AUTH_BYTES:
        raise InvalidInput("auth", f"must be the subscription's {AUTH_BYTES}-byte auth secret")
    return Subscription(endpoint=cleaned, p256dh=b64url(point), auth=b64url(secret))


def push_payload(message: Message) -> bytes:
    """What the service worker receives (decrypted): the reminder as JSON."""
    title = message.title
    if len(title) > PUSH_TITLE_MAX:
        title = title[: PUSH_TITLE_MAX - 1] + "…"
    body = {**message.payload(), "title": title}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def encrypt(payload: bytes, subscription: Subscription) -> bytes:
    """The aes128gcm body (RFC 8188 header with the sender's ephemeral key, RFC 8291 keys)."""
    sender_key = ec.generate_private_key(ec.SECP256R1())
    encrypted: bytes = http_ece.encrypt(
        payload,
        salt=os.urandom(16),
        private_key=sender_key,
        dh=b64url_decode(subscription.p256dh),
        auth_secret=b64url_decode(subscription.auth),
        version="aes128gcm",
    )
    return encrypted


class PushSender:
    """Encrypts reminders for a browser and POSTs them to its push service, VAPID-signed."""

    def __init__(self, private_key: str | None, subject: str, *, http: WebhookSender) -> None:
        self.vapid = Vapid02.from_raw(private_key.encode("ascii")) if private_key else None
        self.public_key = vapid_public_key(private_key) if private_key else None
        self.subject = subject
        # The webhook sender's checked, pinned POST: a push endpoint is a user-given URL too.
        self.http = http

    @property
    def on(self) -> bool:
        """Whether push is on (a VAPID key is configured)."""
        return self.vapid is not None

    def authorization(self, endpoint: str) -> str:
        """The `vapid t=<JWT>, k=<public key>` header for the endpoint's push service."""
        if self.vapid is None:
            raise DeliveryError(PUSH_OFF, permanent=True)
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + VAPID_TOKEN_SECONDS,
            "sub": self.subject,
        }
        header: str = self.vapid.sign(claims)["Authorization"]
        return header

    async def send(self, subscription: Subscription, message: Message) -> None:
        """Deliver one reminder; DeliveryError unless the push service accepts it (2xx).

        `SubscriptionGone` when it answers 404 or 410: the caller removes the subscription.
        """
        headers = {
            "Authorization": self.authorization(subscription.endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(PUSH_TTL_SECONDS),
            "Urgency": "high",
            "User-Agent": "taskstream-notifications",
        }
        body = encrypt(push_payload(message), subscription)
        response = await self.http.post(subscription.endpoint, body, headers, what="push service")
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in GONE:
            raise SubscriptionGone(f"push service answered {status}: subscription gone")
        # Too many requests and server errors pass; other refusals (a bad VAPID token, a
        # payload too large) would be refused again.
        permanent = 400 <= status < 500 and status not in (408, 429)
        raise DeliveryError(f"push service answered {status}", permanent=permanent)


class SubscriptionGone(DeliveryError):
    """The push service no longer knows the subscription (404/410): it is removed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)
