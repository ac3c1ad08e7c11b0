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


# IPv6 prefixes that carry an IPv4 address in their last 32 bits and can end up delivering to
# it: NAT64 (RFC 6052), IPv4-translated (RFC 2765) and the deprecated IPv4-compatible form.
_EMBEDDING_V4 = tuple(
    ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96")
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is one of the embedding forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in network for network in _EMBEDDING_V4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(address: str) -> bool:
    """Whether an IP address is publicly routable; IPv6 forms embedding IPv4 are judged by both."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
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


def resolve_destination(host: str, *, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, once; InvalidInput if any is internal (unless allowed).

    Connect only to an address this returned: resolving the name again would let a DNS server
    answer differently the second time (DNS rebinding).
    """
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInput("url", f"host {host!r} does not resolve") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise InvalidInput(
            "url",
            "must not point at loopback, link-local or private addresses "
            "(TASKSTREAM_WEBHOOK_ALLOW_PRIVATE=1 allows it for development)",
        )
    return addresses


def check_destination(host: str, *, allow_private: bool) -> None:
    """Refuse hosts that are or resolve to loopback, link-local or private addresses."""
    if allow_private:
        return
    resolve_destination(host, allow_private=False)
