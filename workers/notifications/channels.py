"""Senders of the EMAIL and WEBHOOK channels (IN_APP is a database write, see firing.py; PUSH
is push.py, over the webhook sender's checked POST)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import anyio
import httpx

from taskstream.errors import InvalidInput
from workers.notifications.webhooks import check_url_shape, resolve_destination

SIGNATURE_HEADER = "X-Taskstream-Signature"
DELIVERY_HEADER = "X-Taskstream-Delivery"
WEBHOOK_TIMEOUT_SECONDS = 5.0
SMTP_TIMEOUT_SECONDS = 10.0
EMAIL_OFF = "email is off: TASKSTREAM_SMTP_URL is not set"


class DeliveryError(Exception):
    """A send that did not succeed; `permanent` ones are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Message:
    """What one reminder says, whatever the channel."""

    delivery_id: str
    reminder_id: str
    task_id: str
    title: str
    body: str
    remind_at: str
    sent_at: str

    def payload(self) -> dict[str, Any]:
        """The webhook's JSON body."""
        return {
            "type": "reminder",
            "deliveryId": self.delivery_id,
            "reminderId": self.reminder_id,
            "taskId": self.task_id,
            "title": self.title,
            "body": self.body,
            "remindAt": self.remind_at,
            "sentAt": self.sent_at,
        }


def sign(body: bytes, secret: str) -> str:
    """The X-Taskstream-Signature value of a raw body: sha256=<hex HMAC-SHA256>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where and how to submit mail, from `smtp://[user:pass@]host:port` (or smtps://)."""

    hostname: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """The target of an SMTP URL; ValueError when it is not one."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("TASKSTREAM_SMTP_URL must look like smtp://host:port")
        use_tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            use_tls=use_tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class EmailSender:
    """Sends reminder e-mails through the configured SMTP server."""

    def __init__(self, smtp_url: str | None, sender: str) -> None:
        self.target = SmtpTarget.parse(smtp_url) if smtp_url else None
        self.sender = sender

    @property
    def on(self) -> bool:
        """Whether email is on (TASKSTREAM_SMTP_URL is set)."""
        return self.target is not None

    async def send(self, to: str, message: Message) -> None:
        """Submit one reminder e-mail; DeliveryError when the server refuses or cannot be
        reached."""
        await self.send_text(
            to,
            subject=f"Reminder: {message.title}",
            body=f"{message.title}\n\n{message.body}\n",
            message_id=message.delivery_id,
        )

    async def send_text(self, to: str, *, subject: str, body: str, message_id: str) -> None:
        """Submit one e-mail; `message_id` names it the same on every retry (receivers can
        drop a copy). DeliveryError when the server refuses or cannot be reached."""
        if self.target is None:
            raise DeliveryError(EMAIL_OFF, permanent=True)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = f"<{message_id}@taskstream>"
        mail.set_content(body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.target.hostname,
                port=self.target.port,
                use_tls=self.target.use_tls,
                username=self.target.username,
                password=self.target.password,
                timeout=SMTP_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(f"recipient refused: {error}", permanent=True) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"smtp: {error}") from error


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL aimed at `address`, and the Host header and TLS name of the URL's own host.

    The request goes to the address that was checked, while the server still sees the name it
    expects (Host), and TLS still sends that name (SNI) and verifies the certificate against it.
    """
    original = httpx.URL(url)
    pinned = original.copy_with(host=address)
    host = original.raw_host.decode("ascii")
    return str(pinned), {"Host": original.netloc.decode("ascii")}, {"sni_hostname": host}


class WebhookSender:
    """POSTs signed JSON to a user's webhook; never follows redirects."""

    def __init__(self, *, allow_private: bool, client: httpx.AsyncClient | None = None) -> None:
        self.allow_private = allow_private
        # No kept-alive connections: they are pooled by address, so a connection opened (and
        # TLS-verified) for one name could otherwise carry a request for another name there.
        self.client = client or httpx.AsyncClient(
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def send(self, url: str, secret: str, message: Message) -> None:
        """Deliver one reminder; DeliveryError unless the endpoint answers 2xx."""
        body = json.dumps(message.payload(), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, secret),
            DELIVERY_HEADER: message.delivery_id,
            "User-Agent": "taskstream-notifications",
        }
        response = await self.post(url, body, headers, what="webhook")
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"webhook answered {response.status_code}")

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, what: str
    ) -> httpx.Response:
        """POST to a user-given URL, only ever to an address checked now (webhooks and push
        endpoints); DeliveryError when it is refused or unreachable (`what` names it)."""
        try:
            cleaned, host = check_url_shape(url)
            # Resolved once, at send time (the name may resolve elsewhere than at registration),
            # and every answer checked; the connection then goes to a checked address only.
            addresses = await anyio.to_thread.run_sync(
                lambda: resolve_destination(host, allow_private=self.allow_private)
            )
        except InvalidInput as error:
            raise DeliveryError(f"refused destination: {error.message}", permanent=True) from error
        failure: httpx.HTTPError | None = None
        for address in addresses:
            target, pinned_host, extensions = pinned_request(cleaned, address)
            try:
                return await self.client.post(
                    target,
                    content=body,
                    headers={**headers, **pinned_host},
                    extensions=extensions,
                )
            except httpx.ConnectError as error:
                failure = error  # the next address of the name may answer
            except httpx.HTTPError as error:
                failure = error
                break
        assert failure is not None
        raise DeliveryError(f"{what} unreachable: {type(failure).__name__}: {failure}") from failure

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
