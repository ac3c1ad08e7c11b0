"""The guards wrapped around root fields: unstorable text and the per-field mutation budget."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"title": "nul \x00 inside"}, "title: must not contain NUL"),
        ({"title": "ok", "tags": ["fine", "lone \ud800"]}, "tags[1]: must be valid Unicode"),
    ],
)
async def test_unstorable_text_is_bad_user_input_naming_the_field(
    alice: GraphQLClient, fields: dict[str, object], named: str
) -> None:
    # JSON escapes carry a lone surrogate (httpx's own encoder cannot): send the bytes as is.
    response = await alice.http.post(
        "/graphql",
        content=json.dumps({"query": CREATE, "variables": {"i": fields}}).encode(),
        headers={"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"},
    )
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith(named), error
    assert error["path"] == ["createTask"]


async def test_query_arguments_are_checked_too(alice: GraphQLClient) -> None:
    error = await alice.error(
        "query($r: String!) { previewRecurrence(rule: $r) }", {"r": "FREQ=DAILY\x00"}
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith("rule: must not contain NUL")


async def test_every_root_mutation_field_counts_against_the_budget(
    settings: Settings, engine: AsyncEngine
) -> None:
    strict = settings.model_copy(update={"mutations_per_minute": 2})
    app = create_app(
        bootstrap(strict, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t.test"
    ) as http:
        client = GraphQLClient(http)
        await client.sign_up()  # signUp and logIn have a budget of their own
        three = " ".join(f'c{i}: createTask(input: {{title: "t{i}"}}) {{ id }}' for i in range(3))
        body = await client.execute(f"mutation {{ {three} }}")
        assert [e["extensions"]["code"] for e in body["errors"]] == ["RATE_LIMITED"]
        assert body["errors"][0]["path"] == ["c2"]
