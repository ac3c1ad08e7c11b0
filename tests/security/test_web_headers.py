"""Security headers on every page and asset of the web app, and on the GraphQL IDE.

Probe (issue 13): the web app was served with no CSP, X-Content-Type-Options, frame-ancestors
or Referrer-Policy while the bearer token sits in localStorage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

import gateway.app
from gateway.app import create_app
from taskstream.bootstrap import Runtime

INDEX = (
    '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script>'
    '</head><body><div id="root"></div></body></html>'
)


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


def assert_page_headers(response: httpx.Response) -> dict[str, list[str]]:
    """The headers every HTML page and asset carries; returns the parsed policy."""
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("no-referrer", "strict-origin")
    assert headers["x-frame-options"] == "DENY"
    policy = directives(headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    # Same origin, over HTTP and its WebSocket, nothing else.
    assert set(policy["connect-src"]) == {
        "'self'",
        "ws://taskstream.test",
        "wss://taskstream.test",
    }
    return policy


@pytest.fixture
def built_app(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Starlette:
    """The gateway serving a small stand-in of web/dist."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('app')")
    monkeypatch.setattr(gateway.app, "WEB_DIST", tmp_path)
    return create_app(runtime)


@pytest.fixture
async def browser(built_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of that gateway."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=built_app), base_url="http://taskstream.test"
    ) as client:
        yield client


async def test_the_page_and_deep_links_have_the_app_policy(browser: httpx.AsyncClient) -> None:
    for path in ("/", "/index.html", "/tasks/some-deep-link"):
        page = await browser.get(path)
        assert page.status_code == 200 and "root" in page.text, path
        policy = assert_page_headers(page)
        # No inline script, no eval, no third-party origin.
        assert policy["script-src"] == ["'self'"]
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert "'unsafe-eval'" not in page.headers["content-security-policy"]
        # The page names the current bundles: always revalidated.
        assert page.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_immutable_and_missing_ones_are_404(
    browser: httpx.AsyncClient,
) -> None:
    asset = await browser.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert_page_headers(asset)
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    # A bundle of an older build must not come back as the page, cached for a year.
    missing = await browser.get("/assets/index-old999.js")
    assert missing.status_code == 404
    assert "immutable" not in missing.headers.get("cache-control", "")
    assert_page_headers(missing)


async def test_a_host_header_cannot_inject_into_the_policy(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/", headers={"host": "evil.test; script-src *"})
    policy = directives(page.headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]


async def test_the_placeholder_page_has_them_too(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.app, "WEB_DIST", tmp_path / "not-built")
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as client:
        page = await client.get("/")
    assert "has not been built" in page.text
    assert assert_page_headers(page)["script-src"] == ["'self'"]


async def test_the_development_ide_has_its_own_policy(http: httpx.AsyncClient) -> None:
    ide = await http.get("/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()
    policy = assert_page_headers(ide)
    # GraphiQL is an inline script that loads its bundles from unpkg: allowed here only.
    assert "'unsafe-inline'" in policy["script-src"]
    assert "https://unpkg.com" in policy["script-src"]
    assert "https://unpkg.com" in policy["style-src"]
