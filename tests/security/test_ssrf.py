"""Webhook SSRF: no spelling of an internal address gets registered, or reached at send time.

Registration is tested through GraphQL (the notifications service owns it); the resolver's
behaviour over time (DNS rebinding) through the kernel's `check_destination` with a patched
resolver; redirects at send time end to end, with a receiver on loopback.
"""

from __future__ import annotations

import httpx
import pytest

from taskstream.errors import InvalidInput
from tests.conftest import GraphQLClient
from tests.security.conftest import FakeDns
from workers.notifications.webhooks import check_destination, check_url_shape, is_public_address

pytestmark = pytest.mark.e2e

REGISTER = "mutation($u: String!) { registerWebhook(url: $u) { secret webhook { id url } } }"
PUBLIC_V4, PUBLIC_V6 = "93.184.215.14", "2606:2800:220:1::1"

INTERNAL_URLS = [
    # loopback, every spelling inet_aton accepts
    "http://127.0.0.1/",
    "http://localhost:8000/graphql",
    "http://LocalHost/",
    "http://127.1/",
    "http://127.0.0.255:6379/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://017700000001/",
    "http://127.000.000.001/",
    "http://\u2460\u2461\u2466.0.0.1/",  # circled digits: IDNA (NFKC) turns them into 127
    "http://0/",
    "http://0.0.0.0:8000/",
    # link-local and cloud metadata
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://[fe80::1]/",
    # private and other non-global IPv4
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://198.18.0.1/",
    "http://192.0.0.170/",
    "http://255.255.255.255/",
    "http://224.0.0.1/",
    # IPv6 loopback, unspecified, ULA, site-local, multicast
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",
    "http://[ff02::1]/",
    # IPv6 forms that embed an internal IPv4 address
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:0:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::169.254.169.254]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::1]/",
    "http://[2002:a9fe:a9fe::]/",
    # userinfo tricks (the real host is the internal one, or credentials would be sent)
    "http://evil.example@127.0.0.1/",
    "http://evil.example:443@127.0.0.1/",
    "http://user:pass@93.184.215.14/",
    "http://127.0.0.1:80@93.184.215.14/",
    "http://93.184.215.14\\@127.0.0.1/",
    # not http(s), or no host
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://93.184.215.14/",
    "dict://127.0.0.1:11211/stat",
    "javascript:alert(1)",
    "http:///path",
    "http://",
    "//93.184.215.14/",
    "93.184.215.14/",
]


@pytest.fixture(scope="module")
async def user(whole: httpx.AsyncClient) -> GraphQLClient:
    """One user of the whole system (private destinations not allowed: the default)."""
    client = GraphQLClient(whole)
    await client.sign_up()
    return client


async def assert_refused(user: GraphQLClient, url: str) -> None:
    """BAD_USER_INPUT naming the url, and no webhook registered."""
    body = await user.execute(REGISTER, {"u": url})
    assert body["data"] is None, (url, body)
    error = body["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}, (url, error)
    assert error["message"].startswith("url"), (url, error)
    assert (await user.data("{ webhooks { id } }"))["webhooks"] == []


@pytest.mark.parametrize("url", INTERNAL_URLS)
async def test_internal_destinations_are_refused_at_registration(
    user: GraphQLClient, url: str
) -> None:
    await assert_refused(user, url)


@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        ("metadata.attacker.test", ["169.254.169.254"]),
        ("loopback.attacker.test", ["127.0.0.1"]),
        ("v6loop.attacker.test", ["::1"]),
        ("mapped.attacker.test", ["::ffff:10.0.0.5"]),
        # One bad address among good ones is enough: the client may pick any of them.
        ("mixed.attacker.test", [PUBLIC_V4, "10.1.2.3"]),
        ("mixed6.attacker.test", [PUBLIC_V6, "fd00::5"]),
    ],
)
async def test_names_resolving_to_internal_addresses_are_refused(
    user: GraphQLClient, resolver: FakeDns, name: str, addresses: list[str]
) -> None:
    resolver[name] = [addresses]
    await assert_refused(user, f"https://{name}/hook")
    await assert_refused(user, f"https://{name.upper()}./hook")


async def test_a_public_destination_is_accepted(user: GraphQLClient, resolver: FakeDns) -> None:
    # The control: the same path accepts public addresses, literal or by name.
    resolver["hooks.partner.test"] = [[PUBLIC_V4, PUBLIC_V6]]
    for url in (
        f"https://{PUBLIC_V4}/h",
        f"https://[{PUBLIC_V6}]/h",
        "https://hooks.partner.test/h",
    ):
        registered = (await user.data(REGISTER, {"u": url}))["registerWebhook"]
        assert registered["webhook"]["url"] == url and len(registered["secret"]) >= 32
        await user.data(
            "mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": registered["webhook"]["id"]}
        )


def test_dns_rebinding_is_caught_by_the_check_at_send_time(
    resolver: FakeDns,
) -> None:
    # Public when registered, private when sending: the notifications service re-runs this
    # check before every delivery (workers/notifications/channels.py), and it must say no then.
    resolver["rebind.attacker.test"] = [[PUBLIC_V4], ["127.0.0.1"]]
    _, host = check_url_shape("https://rebind.attacker.test/hook")
    check_destination(host, allow_private=False)
    with pytest.raises(InvalidInput) as refused:
        check_destination(host, allow_private=False)
    assert refused.value.field == "url"


def test_unresolvable_names_are_refused(resolver: FakeDns) -> None:
    with pytest.raises(InvalidInput):
        check_destination("no-such-host.invalid", allow_private=False)


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::a9fe:a9fe", "2002:c0a8:101::1", "::ffff:0:a00:1", "::10.0.0.1", "fec0::1"],
)
def test_ipv6_forms_embedding_internal_ipv4_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", [PUBLIC_V4, PUBLIC_V6, "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"]
)
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public_address(address)


def test_private_destinations_are_allowed_only_when_configured() -> None:
    check_destination("127.0.0.1", allow_private=True)
    with pytest.raises(InvalidInput):
        check_destination("127.0.0.1", allow_private=False)
