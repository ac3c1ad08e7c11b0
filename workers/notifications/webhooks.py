"""Webhook endpoints: URL rules, including the guard against reaching internal addresses."""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import idna

from taskstream.errors import InvalidInput

URL_MAX = 2048


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


_SHAPE = (
    "must be an absolute http:// or https:// URL with a valid host name or IP address "
    "and, if any, a port from 1 to 65535"
)
# One label of a host name (LDH, plus the underscores some real names carry), after IDNA.
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_HOST_MAX = 253


def check_url_shape(url: str) -> tuple[str, str]:
    """The URL and its host when it is an absolute http(s) URL; InvalidInput otherwise.

    Only what every HTTP client reads the same way passes: no spaces or control characters
    (which parsers drop or keep differently), a host that is a DNS name, a dotted IPv4
    address or a bracketed IPv6 one, and a port within 1-65535.
    """
    candidate = url.strip()
    if not candidate:
        raise InvalidInput("url", _SHAPE)
    if len(candidate) > URL_MAX:
        raise InvalidInput("url", f"must be at most {URL_MAX} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
        raise InvalidInput("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(candidate)
        port, hostname = parts.port, parts.hostname
    except ValueError as error:
        # An unparsable authority: brackets around an IPv4 address, a port out of range or
        # not a number, ...
        if str(error).startswith("Port"):
            raise InvalidInput("url", "port must be a number from 1 to 65535") from error
        raise InvalidInput("url", _SHAPE) from error
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url", "must be an http:// or https:// URL")
    if "@" in parts.netloc:
        raise InvalidInput("url", "must not carry credentials")
    if not hostname:
        raise InvalidInput("url", "must name a host")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput("url", "port must be from 1 to 65535")
    bracketed = parts.netloc.startswith("[")
    after_address = parts.netloc.partition("]")[2]
    if bracketed and after_address and not after_address.startswith(":"):
        # "[::1]0": clients read what follows the bracket differently (httpx as a port).
        raise InvalidInput("url", _SHAPE)
    if not _valid_host(hostname, bracketed=bracketed):
        raise InvalidInput("url", _SHAPE)
    return candidate, hostname


def _valid_host(host: str, *, bracketed: bool) -> bool:
    """Whether `host` (as urlsplit gives it: lower case, no brackets) is a usable host."""
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        # A zone id ("%eth0") names an interface of this machine, never a public endpoint.
        return "%" not in host
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # Numeric hosts only as dotted quads: resolvers read "2130706433", "0x7f.1" or
        # "0177.0.0.1" as loopback, and clients disagree on such forms.
        try:
            return str(ipaddress.IPv4Address(name)) == name
        except ValueError:
            return False
    try:
        # IDNA 2008, as the sender's HTTP client (httpx) encodes names; the codec of the
        # standard library (IDNA 2003) accepts names httpx then refuses.
        encoded = name if name.isascii() else idna.encode(name.lower()).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return False
    return len(encoded) <= _HOST_MAX and all(
        _LABEL.fullmatch(label) for label in encoded.split(".")
    )


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
