"""Production answers no "Did you mean ...?": no field, argument, type, enum value or input field.

Probe (issue 13): `disable_field_suggestions` covered field names only; a wrong enum value
"HIGHT" was answered 'Did you mean the enum value "HIGH"?' in production, spelling out the
schema that introspection hides. Development keeps the hints (the control).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from graphql_schema.errors import without_suggestions
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings

# (kind, document, variables, the name a suggestion would reveal)
PROBES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("field", "{ tsks { totalCount } }", None, "tasks"),
    ("argument", "{ tasks(firts: 5) { totalCount } }", None, "first"),
    ("type", "query($p: Priorty) { me { id } }", None, "Priority"),
    ("fragment type", "{ me { ... on Usr { id } } }", None, "User"),
    (
        "enum value",
        "{ tasks(filter: {priorities: [HIGHT]}) { totalCount } }",
        None,
        "HIGH",
    ),
    (
        "enum value in a variable",
        "query($p: [Priority!]) { tasks(filter: {priorities: $p}) { totalCount } }",
        {"p": ["HIGHT"]},
        "HIGH",
    ),
    ("input field", "{ tasks(filter: {statuss: OPEN}) { totalCount } }", None, "status"),
    (
        "input field in a variable",
        "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
        {"f": {"statuss": "OPEN"}},
        "status",
    ),
]
IDS = [kind for kind, *_ in PROBES]


async def client_of(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a gateway with these settings."""
    app = create_app(
        bootstrap(settings, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        yield http


@pytest.fixture(scope="module")
async def production(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with production settings."""
    async for http in client_of(settings.model_copy(update={"env": "production"}), engine):
        yield http


@pytest.fixture(scope="module")
async def development(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with development settings (as `up` runs)."""
    async for http in client_of(settings, engine):
        yield http


async def errors_of(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The errors of a request that must be refused as bad input."""
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors and {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}, errors
    return errors


@pytest.mark.parametrize(("kind", "query", "variables", "hidden"), PROBES, ids=IDS)
async def test_production_suggests_nothing(
    production: httpx.AsyncClient,
    kind: str,
    query: str,
    variables: dict[str, Any] | None,
    hidden: str,
) -> None:
    errors = await errors_of(production, query, variables)
    text = json.dumps(errors)
    assert "Did you mean" not in text, kind
    assert f"'{hidden}'" not in text and f'"{hidden}"' not in text, text
    # The message still says what is wrong.
    assert any(e["message"].strip() for e in errors)


@pytest.mark.parametrize(("kind", "query", "variables", "hidden"), PROBES, ids=IDS)
async def test_development_still_suggests(
    development: httpx.AsyncClient,
    kind: str,
    query: str,
    variables: dict[str, Any] | None,
    hidden: str,
) -> None:
    errors = await errors_of(development, query, variables)
    if kind == "field":
        # Field names are suggested by Strawberry's own rule, on in development.
        assert "Did you mean" in json.dumps(errors)
    assert hidden in json.dumps(errors)


def test_only_the_hint_is_removed() -> None:
    message = (
        "Expected value of type 'TaskFilter' not to include unknown field 'statuss'. "
        "Did you mean 'status'? Found: { statuss: OPEN }."
    )
    assert without_suggestions(message) == (
        "Expected value of type 'TaskFilter' not to include unknown field 'statuss'. "
        "Found: { statuss: OPEN }."
    )
    assert without_suggestions("Unknown argument 'firts'. Did you mean 'first' or 'filter'?") == (
        "Unknown argument 'firts'."
    )
