"""docs/api/examples.md, executed: every documented request, message and snippet, in order.

The examples run against the whole in-process system served by uvicorn on a free port (real
HTTP, a real graphql-transport-ws WebSocket), with a local webhook receiver. Responses are
matched against the documented shapes; the conventions (`"<ID name>"`, `"..."`, ...) are
described at the top of the document.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection

from devstack.dapr_app import AppServer
from taskstream.settings import Settings
from tests.e2e.test_live_updates import PROTOCOL, server

pytestmark = pytest.mark.e2e
__all__ = ["server"]

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "api" / "examples.md"
COMPLIANCE = DOCS / "compliance.md"
DOCUMENTED_URL = "https://hooks.example.com/taskstream"
FENCE = re.compile(r"^```([\w-]*)(?: ([\w-]+))?\n(.*?)\n```$", re.MULTILINE | re.DOTALL)
PLACEHOLDER = re.compile(r"^<(ID|String|Int|Boolean|DateTime|Hash|JSON)(?: (\w+))?>$")
NOW_PLUS = re.compile(r'"<now \+ (\d+) seconds?>"')
WAIT_SECONDS = 8.0


@dataclass
class Block:
    """One fenced block: its language, its label (`json response`), its text."""

    language: str
    label: str
    text: str


def blocks(markdown: str) -> list[Block]:
    """The fenced blocks of a document, in order."""
    return [Block(m[1], m[2] or "", m[3]) for m in FENCE.finditer(markdown)]


def python_block(markdown: str, label: str) -> str:
    """The one `python <label>` block of a document."""
    found = [b.text for b in blocks(markdown) if b.language == "python" and b.label == label]
    assert len(found) == 1, f"expected one `python {label}` block"
    return found[0]


class Mismatch(AssertionError):
    """A response does not have the documented shape."""


def match(expected: Any, actual: Any, names: dict[str, Any], where: str = "$") -> None:
    """Check `actual` against a documented shape, binding `"<Kind name>"` values into names."""
    if isinstance(expected, str) and expected.startswith("<") and expected.endswith(">"):
        placeholder = PLACEHOLDER.match(expected)
        if placeholder is None:
            name = expected[1:-1]
            if name not in names:
                raise Mismatch(f"{where}: {expected} names nothing bound before")
            if actual != names[name]:
                raise Mismatch(f"{where}: {actual!r} is not {name} = {names[name]!r}")
            return
        _check_kind(placeholder[1], actual, where)
        if placeholder[2]:
            names[placeholder[2]] = actual
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise Mismatch(f"{where}: {actual!r} is not an object")
        keys = set(expected) - {"..."}
        if "..." in expected and not keys <= set(actual):
            raise Mismatch(f"{where}: lacks {sorted(keys - set(actual))}")
        if "..." not in expected and keys != set(actual):
            raise Mismatch(f"{where}: keys {sorted(actual)} are not {sorted(keys)}")
        # In document order, so a value is named before a later key refers to it.
        for key in (k for k in expected if k != "..."):
            match(expected[key], actual[key], names, f"{where}.{key}")
        return
    if isinstance(expected, list):
        _match_list(expected, actual, names, where)
        return
    if expected != actual or type(expected) is not type(actual):
        raise Mismatch(f"{where}: {actual!r} is not {expected!r}")


def _match_list(expected: list[Any], actual: Any, names: dict[str, Any], where: str) -> None:
    if not isinstance(actual, list):
        raise Mismatch(f"{where}: {actual!r} is not a list")
    if expected and expected[-1] == "...":
        if not actual:
            raise Mismatch(f"{where}: is empty")
        for index, item in enumerate(actual):
            match(expected[0], item, names, f"{where}[{index}]")
        return
    if expected and expected[0] == "<in any order>":
        wanted = expected[1:]
        if len(wanted) != len(actual):
            raise Mismatch(f"{where}: {len(actual)} items, not {len(wanted)}")
        left = list(actual)
        for index, shape in enumerate(wanted):
            for candidate in left:
                try:
                    match(shape, candidate, dict(names), f"{where}[{index}]")
                except Mismatch:
                    continue
                match(shape, candidate, names, f"{where}[{index}]")
                left.remove(candidate)
                break
            else:
                raise Mismatch(f"{where}: nothing matches {shape!r} in {left!r}")
        return
    if len(expected) != len(actual):
        raise Mismatch(f"{where}: {len(actual)} items, not {len(expected)}: {actual!r}")
    for index, (shape, item) in enumerate(zip(expected, actual, strict=True)):
        match(shape, item, names, f"{where}[{index}]")


def _check_kind(kind: str, actual: Any, where: str) -> None:
    ok = {
        "ID": isinstance(actual, str) and bool(actual),
        "String": isinstance(actual, str),
        "Int": isinstance(actual, int) and not isinstance(actual, bool),
        "Boolean": isinstance(actual, bool),
        "Hash": isinstance(actual, str) and re.fullmatch(r"[0-9a-f]{64}", actual) is not None,
        "JSON": True,
    }.get(kind, False)
    if kind == "DateTime" and isinstance(actual, str):
        try:
            ok = datetime.fromisoformat(actual).tzinfo is not None
        except ValueError:
            ok = False
    if not ok:
        raise Mismatch(f"{where}: {actual!r} is not a {kind}")


def fill(text: str, names: dict[str, Any]) -> str:
    """JSON text with `"<name>"` replaced by bound values and `<now + N seconds>` by times."""

    def later(found: re.Match[str]) -> str:
        return json.dumps((datetime.now(UTC) + timedelta(seconds=int(found[1]))).isoformat())

    text = NOW_PLUS.sub(later, text)
    for name, value in names.items():
        text = text.replace(json.dumps(f"<{name}>"), json.dumps(value))
        if isinstance(value, str):
            text = text.replace(f"<{name}>", value)
    return text


def test_the_shape_language() -> None:
    names: dict[str, Any] = {}
    match({"a": "<ID x>", "b": ["<Int>", "..."]}, {"a": "1", "b": [1, 2]}, names)
    assert names == {"x": "1"}
    match({"a": "<x>", "...": "..."}, {"a": "1", "c": 3}, names)
    match(["<in any order>", 1, 2], [2, 1], names)
    for shape, value in [
        ({"a": "<x>"}, {"a": "2"}),
        ({"a": 1}, {"a": 1, "b": 2}),
        (["<Int>", "..."], []),
        ([1, 2], [2, 1]),
        ("<DateTime>", "yesterday"),
        (True, 1),
    ]:
        with pytest.raises(Mismatch):
            match(shape, value, dict(names))


@dataclass
class Delivery:
    """One POST the local webhook receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint standing in for the documented https://hooks.example.com."""

    port: int = 0
    received: list[Delivery] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}/taskstream"

    async def endpoint(self, request: Request) -> Response:
        """Keep the raw delivery; answer 204."""
        self.received.append(Delivery(dict(request.headers), await request.body()))
        return Response(status_code=204)


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    """The receiver, listening on a free loopback port while the test runs."""
    receiver = WebhookReceiver()
    server = AppServer(
        Starlette(routes=[Route("/taskstream", receiver.endpoint, methods=["POST"])])
    )
    await server.start()
    receiver.port = server.port
    try:
        yield receiver
    finally:
        await server.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The session settings, with webhooks to the local receiver allowed."""
    return settings.model_copy(
        update={"webhook_allow_private": True, "notification_retry_seconds": 0.2}
    )


@dataclass
class Run:
    """The state of one pass through the document."""

    base: str
    http: httpx.AsyncClient
    receiver: WebhookReceiver
    names: dict[str, Any] = field(default_factory=dict)
    socket: ClientConnection | None = None
    last_query: str | None = None
    last_variables: str | None = None
    snippets: dict[str, Any] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    async def request(self, query: str, variables: str | None, response: str) -> None:
        """Send one documented operation; queries are retried until their shape appears."""
        is_query = query.lstrip().startswith(("query", "{"))
        deadline = asyncio.get_running_loop().time() + (WAIT_SECONDS if is_query else 0)
        while True:
            body = await self._post(query, variables)
            names = dict(self.names)
            try:
                match(json.loads(fill(response, self.names)), body, names)
            except Mismatch as error:
                if asyncio.get_running_loop().time() >= deadline:
                    raise Mismatch(f"{query.split('(')[0]}: {error}\n{body}") from None
                await asyncio.sleep(0.1)
                continue
            self.names = names
            self.ran.append(query.split("{")[0].strip())
            return

    async def raw(self, request: str, response: str) -> None:
        """Send a documented `json request` body or `text get` request line, as it is."""
        body = await self._send(request)
        match(json.loads(fill(response, self.names)), body, self.names)
        self.ran.append(request.split("\n")[0][:40])

    async def _post(self, query: str, variables: str | None) -> dict[str, Any]:
        payload = {"query": query, "variables": json.loads(fill(variables or "{}", self.names))}
        return await self._send(payload)

    async def _send(self, request: dict[str, Any] | str) -> dict[str, Any]:
        headers = {}
        if "token" in self.names:
            headers["Authorization"] = f"Bearer {self.names['token']}"
        if isinstance(request, str) and request.startswith("GET "):
            answer = await self.http.get(request.removeprefix("GET ").strip(), headers=headers)
        else:
            payload = json.loads(fill(request, self.names)) if isinstance(request, str) else request
            answer = await self.http.post("/graphql", json=payload, headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        # The cost every accepted query and mutation reports is described once in the
        # document's preamble, not repeated in each response.
        extensions = body.get("extensions", {})
        cost = extensions.pop("cost", None)
        assert "errors" in body or isinstance(cost, dict), body
        if not extensions:
            body.pop("extensions", None)
        return body

    async def websocket(self, text: str) -> None:
        """Send the `→` lines and await the `←` lines of a protocol block."""
        for line in text.splitlines():
            arrow, _, message = line.partition(" ")
            if arrow == "→":
                if self.socket is None:
                    self.socket = await websockets.connect(
                        f"ws://{self.base}/graphql",
                        subprotocols=[PROTOCOL],  # type: ignore[list-item]
                    )
                await self.socket.send(fill(message, self.names))
                if json.loads(message)["type"] == "subscribe":
                    # The protocol does not acknowledge a subscribe: give it time to start.
                    await asyncio.sleep(0.3)
            elif arrow == "←":
                await self._await_message(json.loads(fill(message, self.names)))
            else:
                raise AssertionError(f"a protocol line starts with → or ←: {line!r}")
        self.ran.append("websocket")

    async def _await_message(self, expected: dict[str, Any]) -> None:
        """The next server message of this shape; others in between are passed over."""
        assert self.socket is not None
        seen: list[dict[str, Any]] = []
        try:
            await asyncio.wait_for(self._next_like(expected, seen), WAIT_SECONDS)
        except TimeoutError:
            raise Mismatch(f"never got {expected}; got {seen}") from None

    async def _next_like(self, expected: dict[str, Any], seen: list[dict[str, Any]]) -> None:
        """Read messages until one has the expected shape, keeping the others in `seen`."""
        assert self.socket is not None
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("type") == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))
                continue
            names = dict(self.names)
            try:
                match(expected, message, names)
            except Mismatch:
                seen.append(message)
                continue
            self.names = names
            return

    async def webhook(self, request_text: str, body_text: str, verifier: str) -> None:
        """The documented delivery arrived, signed as documented, and the snippet says so."""
        async with asyncio.timeout(WAIT_SECONDS):
            while not self.receiver.received:
                await asyncio.sleep(0.05)
        delivery = self.receiver.received[0]
        for line in request_text.splitlines():
            header, _, value = line.partition(": ")
            got = delivery.headers.get(header.lower())
            assert got is not None, f"no {header} header"
            if not value.startswith("<") and not value.startswith("sha256=<"):
                assert got == value, (header, got)
        match(json.loads(fill(body_text, self.names)), json.loads(delivery.body), self.names)
        namespace: dict[str, Any] = {}
        exec(verifier, namespace)  # the documented snippet, as a receiver would run it
        check = namespace["verify_signature"]
        signature = delivery.headers["x-taskstream-signature"]
        assert check(self.names["webhookSecret"], delivery.body, signature) is True
        assert check(self.names["webhookSecret"], delivery.body + b" ", signature) is False
        assert check("another secret", delivery.body, signature) is False
        self.ran.append("webhook")

    async def audit_check(self, snippet: str) -> None:
        """Run the documented chain check over every auditLog node, with compliance.md's code."""
        nodes: list[dict[str, Any]] = []
        after = None
        while True:
            body = await self._post(
                "query($after: String) { auditLog(first: 200, after: $after) { pageInfo "
                "{ hasNextPage endCursor } edges { node { id at actor action taskId changes "
                "previousHash hash } } } }",
                json.dumps({"after": after}),
            )
            page = body["data"]["auditLog"]
            nodes += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        namespace: dict[str, Any] = {}
        exec(python_block(COMPLIANCE.read_text(), "offline_verify"), namespace)
        exec(snippet, {**namespace, "nodes": nodes})
        self.ran.append("audit check")


async def run_document(run: Run, markdown: str) -> None:
    """Every step of the document, in order."""
    pending: dict[str, str] = {}
    document = blocks(markdown)
    for index, block in enumerate(document):
        kind = f"{block.language} {block.label}".strip()
        if kind == "graphql":
            pending = {"query": block.text}
        elif kind == "json variables":
            pending["variables"] = block.text
        elif kind in ("json request", "text get"):
            pending = {"raw": block.text}
        elif kind == "json response" and "raw" in pending:
            await run.raw(pending["raw"], block.text)
            pending = {}
        elif kind == "json response":
            assert "query" in pending, f"a response without a request: {block.text[:60]}"
            await run.request(pending["query"], pending.get("variables"), block.text)
            pending = {}
        elif kind == "text websocket":
            await run.websocket(block.text)
        elif kind == "python verify_webhook":
            request = next(b.text for b in document[:index] if b.label == "webhook-request")
            body = next(b.text for b in document[:index] if b.label == "webhook-body")
            await run.webhook(request, body, block.text)
        elif kind == "python audit_check":
            await run.audit_check(block.text)
        elif kind not in ("text webhook-request", "json webhook-body"):
            raise AssertionError(f"a block the test does not know how to run: {kind}")
        assert kind != "graphql" or pending, "a request without a documented response"


async def test_every_example_runs_as_documented(
    server: str, webhook_receiver: WebhookReceiver
) -> None:
    # A fresh account per run, so the examples also pass on a database that keeps data.
    unique = uuid.uuid4().hex[:10]
    markdown = EXAMPLES.read_text()
    markdown = markdown.replace("ada@example.com", f"ada-{unique}@example.com")
    markdown = markdown.replace("ADA@example.com", f"ADA-{unique}@example.com")
    markdown = markdown.replace("grace@example.com", f"grace-{unique}@example.com")
    markdown = markdown.replace(DOCUMENTED_URL, webhook_receiver.url)
    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=10) as http:
        run = Run(base=server, http=http, receiver=webhook_receiver)
        try:
            await run_document(run, markdown)
        finally:
            if run.socket is not None:
                await run.socket.close()
    # Every use case ran: the counts guard against a block silently not being recognised.
    assert run.ran.count("websocket") == 4
    assert run.ran.count("webhook") == 1 and run.ran.count("audit check") == 1
    assert len(run.ran) >= 20, run.ran
    # GET, persisted queries (unknown, stored, by hash) and a trusted document by its hash.
    assert sum(step.startswith(("GET ", "{")) for step in run.ran) == 5, run.ran
