"""Who the client is: trusted proxies, forwarded headers and the per-address connection count."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.limits import SocketCounter, forwarded_hops
from taskstream.edge import ConnectionCounter, TrustedProxies
from taskstream.settings import Settings, parse_networks


def test_only_configured_networks_are_trusted() -> None:
    proxies = TrustedProxies(parse_networks("10.0.0.0/8, 192.0.2.1,::1"))
    assert "10.1.2.3" in proxies
    assert "192.0.2.1" in proxies
    assert "::ffff:10.0.0.1" in proxies
    assert "::1" in proxies
    assert "127.0.0.1" not in proxies
    assert "not-an-address" not in proxies
    assert "127.0.0.1" not in TrustedProxies(())


def test_the_client_is_the_rightmost_hop_not_written_by_a_trusted_proxy() -> None:
    proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
    # The client's own claims (left of the first untrusted hop) are never believed.
    assert proxies.client("10.0.0.1", ["1.1.1.1", "203.0.113.5"]) == "203.0.113.5"
    assert proxies.client("10.0.0.1", ["1.1.1.1", "203.0.113.5", "10.0.0.2"]) == "203.0.113.5"
    assert proxies.client("10.0.0.1", ["10.0.0.3", "10.0.0.2"]) == "10.0.0.3"
    assert proxies.client("198.51.100.1", ["203.0.113.5"]) == "198.51.100.1"


def test_forwarded_headers_are_parsed() -> None:
    assert forwarded_hops(
        [(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2"), (b"x-forwarded-for", b"3.3.3.3")]
    ) == [
        "1.1.1.1",
        "2.2.2.2",
        "3.3.3.3",
    ]
    forwarded = b'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    assert forwarded_hops([(b"forwarded", forwarded), (b"x-forwarded-for", b"9.9.9.9")]) == [
        "192.0.2.60",
        "2001:db8:cafe::17",
    ]
    assert forwarded_hops([(b"forwarded", b'For="192.0.2.1:80"')]) == ["192.0.2.1"]
    assert forwarded_hops([]) == []


def test_a_bad_trusted_proxy_setting_names_the_entry() -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.300' is not an IP address or CIDR"):
        Settings(trusted_proxies="10.0.0.0/8,10.0.0.300")
    with pytest.raises(ValidationError, match=r"'proxy' is not an IP address or CIDR"):
        Settings(proxy_protocol_from="proxy")


def test_connection_counts_are_per_address_and_given_back() -> None:
    counter = ConnectionCounter(2)
    first, second, third = object(), object(), object()
    assert counter.acquire(first, "a") and counter.acquire(second, "a")
    assert not counter.acquire(third, "a")
    assert counter.acquire(third, "b")
    counter.release(first)
    counter.release(first)  # twice is harmless
    assert counter.count("a") == 1
    assert counter.acquire(first, "a")
    assert ConnectionCounter(None).acquire(object(), "a")


def test_websockets_are_counted_per_address_and_per_account() -> None:
    sockets = SocketCounter(per_address=2, per_account=1)
    one, two = sockets.open("a"), sockets.open("a")
    assert one is not None and two is not None
    assert sockets.open("a") is None
    assert one.claim_account("u")
    assert not two.claim_account("u")
    assert two.refusal is not None and "at most 1" in two.refusal
    one.release()
    assert two.claim_account("u")
    two.release()
    assert sockets.addresses == {} and sockets.accounts == {}
