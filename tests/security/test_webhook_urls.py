"""Webhook URLs: anything but a valid absolute http(s) URL is BAD_USER_INPUT and not stored.

The shape rule (host, port 1-65535, length, characters) is checked through GraphQL on the whole
system, with the list of the user's webhooks compared before and after; then Hypothesis drives
the shape check itself with arbitrary text.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskstream.errors import InvalidInput
from tests.conftest import GraphQLClient
from tests.security.conftest import FakeDns
from workers.notifications.webhooks import URL_MAX, check_url_shape

pytestmark = pytest.mark.e2e

REGISTER = "mutation($u: String!) { registerWebhook(url: $u) { webhook { id url } } }"
LIST = "{ webhooks { id url } }"
PUBLIC = "93.184.215.14"

MALFORMED = [
    "http://[1.2.3.4]/",
    "http://[93.184.215.14]/",
    "http://hooks.partner.test:99999/",
    "http://hooks.partner.test:65536/",
    "http://hooks.partner.test:-1/",
    "http://hooks.partner.test:0/",
    "http://hooks.partner.test:80a/",
    "http://hooks.partner.test:1_0/",
    f"http://{PUBLIC}:99999/",
    "http://[2606:2800:220:1::1%25eth0]/",
    "http://[not:an:address]/",
    "http://[::1/",
    "http://[2606:2800:220:1::1]0/",
    "http://[2606:2800:220:1::1]x:80/",
    "http://hooks..partner.test/",
    "http://-hooks.partner.test/",
    "http://" + "a" * 64 + ".partner.test/",
    "http://" + ("a" * 60 + ".") * 5 + "test/",
    "http://hooks partner.test/",
    "http://hooks.partner.test/a b",
    "http://hooks.partner.test/\x00",
    "http://hooks.partner.test\t/",
    "http://hooks%2Epartner.test/",
    "http://999.1.1.1/",
    "http:///path-only",
    "http:hooks.partner.test",
    "//hooks.partner.test/",
    "hooks.partner.test",
    "ftp://hooks.partner.test/",
    "",
    "   ",
    "https://hooks.partner.test/" + "x" * URL_MAX,
]


@pytest.fixture(scope="module")
async def user(whole: httpx.AsyncClient) -> GraphQLClient:
    """A user of the whole system."""
    client = GraphQLClient(whole)
    await client.sign_up()
    return client


async def test_malformed_urls_and_ports_are_bad_user_input_and_nothing_is_stored(
    user: GraphQLClient, resolver: FakeDns
) -> None:
    resolver["hooks.partner.test"] = [[PUBLIC]]
    before = (await user.data(LIST))["webhooks"]
    for url in MALFORMED:
        error = await user.error(REGISTER, {"u": url})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (url, error)
        assert error["message"].startswith("url: "), (url, error)
    assert (await user.data(LIST))["webhooks"] == before


async def test_ports_at_the_edges_of_the_range_and_usual_hosts_are_accepted(
    user: GraphQLClient, resolver: FakeDns
) -> None:
    resolver["hooks.partner.test"] = [[PUBLIC]]
    resolver["bücher.partner.test"] = [[PUBLIC]]
    resolver["hooks.partner.test."] = [[PUBLIC]]
    for url in (
        "https://hooks.partner.test:1/h",
        "https://hooks.partner.test:65535/h",
        f"http://{PUBLIC}:8080/h?x=1#f",
        "https://bücher.partner.test/h",
        "https://hooks.partner.test./h",
    ):
        registered = (await user.data(REGISTER, {"u": url}))["registerWebhook"]
        assert registered["webhook"]["url"] == url
        await user.data(
            "mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": registered["webhook"]["id"]}
        )


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(
    url=st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
            st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
            st.one_of(
                st.text(max_size=30),
                st.ip_addresses().map(str),
                st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
                st.ip_addresses(v=4).map(lambda a: f"[{a}]"),
            ),
            st.one_of(st.just(""), st.integers().map(lambda p: f":{p}"), st.text(max_size=6)),
            st.text(max_size=20),
        ),
    )
)
def test_the_shape_check_answers_any_text_with_a_url_and_host_or_bad_user_input(
    url: str,
) -> None:
    outcome: Any
    try:
        outcome = check_url_shape(url)
    except InvalidInput as error:
        outcome = error
    if isinstance(outcome, InvalidInput):
        assert outcome.field == "url"
        return
    cleaned, host = outcome
    parts = httpx.URL(cleaned)  # what the sender will parse: it must agree
    assert parts.scheme in ("http", "https") and host
    assert parts.port is None or 1 <= parts.port <= 65535
    assert len(cleaned) <= URL_MAX
