"""Webhook endpoints: URL rules, including the guard against reaching internal addresses."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from taskstream.domain.errors import InvalidInput

URL_MAX = 2048
WEBHOOKS_MAX = 20


@dataclass(frozen=True, slots=True)
class Webhook:
    """A URL that receives signed WEBHOOK-channel notifications."""

    id: uuid.UUID
    url: str
    created_at: datetime


def new_secret() -> str:
    """A fresh HMAC-SHA256 key, shown to the user once."""
    return secrets.token_hex(32)


def is_public_address(address: str) -> bool:
    """Whether an IP address is publicly routable (IPv4-mapped IPv6 is judged as IPv4)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_shape(url: str) -> tuple[str, str]:
    """The URL and its host when it is an absolute http(s) URL; InvalidInput otherwise."""
    candidate = url.strip()
    if len(candidate) > URL_MAX:
        raise InvalidInput("url", f"must be at most {URL_MAX} characters")
    parts = urlsplit(candidate)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise InvalidInput("url", "must name a host")
    if parts.username or parts.password:
        raise InvalidInput("url", "must not carry credentials")
    return candidate, parts.hostname


def check_destination(host: str, *, allow_private: bool) -> None:
    """Refuse hosts that are or resolve to loopback, link-local or private addresses."""
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput("url", f"host {host!r} does not resolve") from error
    for info in infos:
        if not is_public_address(str(info[4][0])):
            raise InvalidInput(
                "url",
                "must not point at loopback, link-local or private addresses "
                "(TASKSTREAM_WEBHOOK_ALLOW_PRIVATE=1 allows it for development)",
            )
