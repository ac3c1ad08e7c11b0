"""The trusted-documents policy holds on WebSockets as on HTTP (one schema extension)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import websockets

from graphql_schema.persisted import sha256_hex
from taskstream.settings import Settings
from tests.e2e.test_live_updates import PROTOCOL, receive, send, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

SIGN_UP = (
    'mutation SignUp($email: String!) { signUp(email: $email, password: "correct horse") '
    "{ token } }"
)
CREATE = 'mutation Create { createTask(input: {title: "trusted"}) { id } }'
EVENTS = "subscription Events { taskEvents { kind task { title } } }"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """Only the three documents above for every account."""
    manifest = tmp_path / "trusted-documents.json"
    manifest.write_text(json.dumps({sha256_hex(t): t for t in (SIGN_UP, CREATE, EVENTS)}))
    return settings.model_copy(
        update={"graphql_trusted_documents": manifest, "graphql_trusted_documents_only": True}
    )


async def test_sockets_run_registered_documents_only(server: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}") as http:
        signed = await http.post(
            "/graphql", json={"query": SIGN_UP, "variables": {"email": "ws-trusted@example.com"}}
        )
        token = signed.json()["data"]["signUp"]["token"]
        async with websockets.connect(
            f"ws://{server}/graphql",
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
        ) as ws:
            init = {"authorization": f"Bearer {token}"}
            await send(ws, {"type": "connection_init", "payload": init})
            assert (await receive(ws))["type"] == "connection_ack"
            other = "subscription { taskEvents { kind } }"
            await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": other}})
            refused = await receive(ws)
            assert refused["type"] == "error" and refused["id"] == "1", refused
            assert refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
            await send(ws, {"id": "2", "type": "subscribe", "payload": {"query": EVENTS}})
            auth = {"Authorization": f"Bearer {token}"}
            # The subscription starts asynchronously: create until its first event arrives, a
            # few at most (each is an event the socket must hold until it is read).
            for _attempt in range(20):
                made = await http.post("/graphql", json={"query": CREATE}, headers=auth)
                assert made.json()["data"]["createTask"]["id"]
                try:
                    message = await receive(ws, seconds=2.0)
                except TimeoutError:
                    continue
                break
            else:
                pytest.fail("the registered subscription never delivered an event")
            assert message["type"] == "next" and message["id"] == "2", message
            assert message["payload"]["data"]["taskEvents"]["task"]["title"] == "trusted"
