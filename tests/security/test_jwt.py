"""Bearer tokens: everything that is not a token we issued, for an account that exists, is refused.

tests/e2e/test_auth.py already shows a plain expired token, an HS256 token signed with another
key, a wrong audience, `alg: none` and a broken signature refused; this adds the rest of the
usual JWT attacks. Every one must be UNAUTHENTICATED with no data, over HTTP and WebSocket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import websockets
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.persistence import tables
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

# A non-null root field (so an error nulls all data) and a list read that would leak if let in.
PROBES = ["{ me { id email } }", "{ tasks { totalCount edges { node { id } } } }"]
RSA_LOOKING_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "-----END PUBLIC KEY-----\n"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand, as an attacker would, with whatever header and signature."""
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


def claims_for(user_id: str, **changes: Any) -> dict[str, Any]:
    """Claims exactly like the gateway issues, with `changes` applied (None removes a claim)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "iss": "taskstream",
        "aud": "taskstream-api",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _future(hours: int = 1) -> int:
    return int((datetime.now(UTC) + timedelta(hours=hours)).timestamp())


def _tampered(key: str, user_id: str) -> str:
    """A genuine token of someone else whose payload is swapped for ours, signature kept."""
    genuine = jwt.encode(claims_for(str(uuid.uuid4())), key, "HS256")
    head, _, signature = genuine.split(".")
    return ".".join([head, _b64(json.dumps(claims_for(user_id)).encode()), signature])


def hmac_token(key: str, user_id: str, *, alg: str = "HS256", **header: str) -> str:
    """A token MACed by hand (PyJWT itself refuses PEM keys and warns on short ones)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    head = _b64(json.dumps({"alg": alg, "typ": "JWT", **header}).encode())
    body = _b64(json.dumps(claims_for(user_id)).encode())
    mac = hmac.new(key.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{_b64(mac)}"


# name -> token for (signing key, victim's user id)
ATTACKS: dict[str, Callable[[str, str], str]] = {
    "alg None (capitalized)": lambda k, u: craft({"alg": "None", "typ": "JWT"}, claims_for(u)),
    "alg NONE with a signature": lambda k, u: craft({"alg": "NONE"}, claims_for(u), b"sig"),
    "no alg at all": lambda k, u: craft({"typ": "JWT"}, claims_for(u)),
    "HS384 with the right key": lambda k, u: hmac_token(k, u, alg="HS384"),
    "HS512 with the right key": lambda k, u: hmac_token(k, u, alg="HS512"),
    "RS256 header, garbage signature": lambda k, u: craft(
        {"alg": "RS256", "typ": "JWT"}, claims_for(u), b"\x00" * 256
    ),
    "ES256 header, garbage signature": lambda k, u: craft(
        {"alg": "ES256"}, claims_for(u), b"\x01" * 64
    ),
    # The RS/HS confusion: a public key (here any PEM text) used as the HMAC secret.
    "HS256 keyed with a public key": lambda k, u: hmac_token(RSA_LOOKING_KEY, u),
    "HS256 keyed with the empty key": lambda k, u: hmac_token("", u),
    # What a server that reads keys from `kid` paths would verify with: an empty file.
    "kid pointing at an empty file": lambda k, u: hmac_token("", u, kid="../../../dev/null"),
    "jku pointing elsewhere": lambda k, u: craft(
        {"alg": "RS256", "jku": "https://evil.example/jwks.json"}, claims_for(u), b"x"
    ),
    "wrong issuer": lambda k, u: jwt.encode(claims_for(u, iss="someone-else"), k, "HS256"),
    "no issuer": lambda k, u: jwt.encode(claims_for(u, iss=None), k, "HS256"),
    "no audience": lambda k, u: jwt.encode(claims_for(u, aud=None), k, "HS256"),
    "audience list without ours": lambda k, u: jwt.encode(
        claims_for(u, aud=["other-api", "taskstream"]), k, "HS256"
    ),
    "no expiry": lambda k, u: jwt.encode(claims_for(u, exp=None), k, "HS256"),
    "expired a day ago": lambda k, u: jwt.encode(
        claims_for(u, exp=_future(-24), iat=_future(-48)), k, "HS256"
    ),
    "not valid before an hour from now": lambda k, u: jwt.encode(
        claims_for(u, nbf=_future(1)), k, "HS256"
    ),
    "issued an hour in the future": lambda k, u: jwt.encode(
        claims_for(u, iat=_future(1), exp=_future(2)), k, "HS256"
    ),
    "no iat": lambda k, u: jwt.encode(claims_for(u, iat=None), k, "HS256"),
    "tampered payload": _tampered,
    "no sub": lambda k, u: jwt.encode(claims_for(u, sub=None), k, "HS256"),
    "sub not a uuid": lambda k, u: jwt.encode(claims_for("admin"), k, "HS256"),
    "sub of nobody": lambda k, u: jwt.encode(claims_for(str(uuid.uuid4())), k, "HS256"),
    "sub as a number": lambda k, u: jwt.encode(claims_for(u, sub=12345), k, "HS256"),
    "garbage": lambda k, u: "garbage",
    "three dots": lambda k, u: "a.b.c",
    "empty segments": lambda k, u: "..",
    "huge": lambda k, u: "A" * 16_000,
    "non-json header": lambda k, u: _b64(b"not json") + "." + _b64(b"{}") + "." + _b64(b"x"),
}


def _key(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


def assert_refused(body: dict[str, Any]) -> None:
    """UNAUTHENTICATED, and no object data at all."""
    assert body.get("errors"), body
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}, body
    assert body.get("data") is None, body


async def test_the_genuine_token_works(alice: GraphQLClient, settings: Settings) -> None:
    # The control: a token crafted like the attacks but honest is accepted.
    me = (await alice.data("{ me { id } }"))["me"]
    token = jwt.encode(claims_for(me["id"]), _key(settings), "HS256")
    assert (await alice.execute("{ me { id } }", token=token))["data"]["me"]["id"] == me["id"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_forged_tokens_are_unauthenticated_with_no_data(
    alice: GraphQLClient, settings: Settings, attack: str
) -> None:
    me = (await alice.data("{ me { id } }"))["me"]
    token = ATTACKS[attack](_key(settings), me["id"])
    for probe in PROBES:
        assert_refused(await alice.execute(probe, token=token))
    # A mutation with it changes nothing.
    assert_refused(
        await alice.execute('mutation { createTask(input: {title: "forged"}) { id } }', token=token)
    )
    assert (await alice.data("{ tasks { totalCount } }"))["tasks"]["totalCount"] == 0


@pytest.mark.parametrize(
    "header", ["Basic {t}", "Bearer", "Bearer  ", "Token {t}", "{t}", "Bearer {t} extra"]
)
async def test_only_a_bearer_header_carries_a_token(alice: GraphQLClient, header: str) -> None:
    assert alice.token is not None
    response = await alice.http.post(
        "/graphql",
        json={"query": PROBES[0]},
        headers={"Authorization": header.format(t=alice.token)},
    )
    assert_refused(response.json())


async def test_a_token_of_a_deleted_account_is_refused(
    gql: GraphQLClient, engine: AsyncEngine
) -> None:
    # Signed by us and unexpired, but its account is gone: it must authenticate no one.
    user = await gql.sign_up()
    async with engine.begin() as connection:
        await connection.execute(
            delete(tables.users).where(tables.users.c.id == uuid.UUID(user["id"]))
        )
    for probe in PROBES:
        assert_refused(await gql.execute(probe))
    assert_refused(await gql.execute('mutation { createTask(input: {title: "ghost"}) { id } }'))


async def test_a_socket_with_a_token_of_nobody_is_closed_4403(
    served: str, settings: Settings
) -> None:
    token = jwt.encode(claims_for(str(uuid.uuid4())), _key(settings), "HS256")
    url = served.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
