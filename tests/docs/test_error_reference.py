"""docs/errors.md is current, and lists exactly the error codes and WebSocket close codes the
gateway sends (found in the code itself, not in the reference's own lists)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import strawberry
from starlette import status as starlette_status

import gateway.graphql_app
import graphql_schema.schema
from gateway.error_reference import CLOSE_CODES, CODES, PAGE, render
from gateway.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, status_of
from taskstream.errors import TaskstreamError

ROOT = Path(__file__).resolve().parents[2]
# Where a code reaching a GraphQL client can be written: the gateway, its schema and core, and
# the shared runtime's client-facing parts (internal_api's and dapr's codes are service-to-
# service only).
CLIENT_FACING = [
    *(ROOT / "gateway").rglob("*.py"),
    *(ROOT / "graphql_schema").rglob("*.py"),
    *(ROOT / "gateway_core").rglob("*.py"),
    ROOT / "taskstream" / "errors.py",
    ROOT / "taskstream" / "edge.py",
    ROOT / "taskstream" / "ratelimit.py",
]
CODE_LITERAL = re.compile(
    r"""(?:\bcode\s*=\s*|["']code["']\s*:\s*|\\?"code\\?"\s*:\s*\\?)["']?([A-Z][A-Z_]{3,})["']"""
)
CODE_CONSTANT = re.compile(
    r"""^([A-Z][A-Z_]*_NOT_FOUND|[A-Z]+)\s*=\s*["']([A-Z][A-Z_]+)["']""", re.M
)
CLOSE_CALL = re.compile(r"close\((?:code=)?([14]\d{3})\b")
# A constant whose value is a close code RFC 6455 defines (1000-1015) or a private one (4000-4999);
# other four-digit constants (sizes, limits) are not close codes.
CLOSE_CONSTANT = re.compile(r"^\s*[A-Z_]+\s*=\s*(10(?:0\d|1[0-5])|4\d{3})\s*$", re.M)
STARLETTE_CLOSE = re.compile(r"status\.WS_(\d{4})_")


def subclasses(cls: type[TaskstreamError]) -> set[type[TaskstreamError]]:
    """Every subclass of `cls`, however deep."""
    found: set[type[TaskstreamError]] = set(cls.__subclasses__())
    for sub in list(found):
        found |= subclasses(sub)
    return found


def codes_in_code() -> set[str]:
    """Every `extensions.code` the client-facing code can send."""
    # Importing the app's modules defines every TaskstreamError subclass the gateway raises.
    assert gateway.graphql_app and graphql_schema.schema
    codes = {str(cls.code) for cls in subclasses(TaskstreamError)} | {TaskstreamError.code}
    for path in CLIENT_FACING:
        source = path.read_text()
        codes |= set(CODE_LITERAL.findall(source))
        codes |= {value for name, value in CODE_CONSTANT.findall(source) if name == value}
    return codes


def close_codes_in_code() -> set[int]:
    """Every WebSocket close code the gateway, its schema and Strawberry's server send."""
    strawberry_root = Path(inspect.getfile(strawberry)).parent
    sources = [
        *(ROOT / "gateway").rglob("*.py"),
        *(ROOT / "graphql_schema").rglob("*.py"),
        strawberry_root / "subscriptions" / "protocols" / "graphql_transport_ws" / "handlers.py",
        strawberry_root / "http" / "async_base_view.py",
        strawberry_root / "asgi" / "__init__.py",
    ]
    found: set[int] = set()
    for path in sources:
        source = path.read_text()
        found |= {int(code) for code in CLOSE_CALL.findall(source)}
        found |= {int(code) for code in STARLETTE_CLOSE.findall(source)}
        if path.is_relative_to(ROOT):
            found |= {int(code) for code in CLOSE_CONSTANT.findall(source)}
    # 1000 is a normal closure (the default argument of close methods), not a refusal.
    return {code for code in found if code != 1000}


def test_the_committed_page_is_current() -> None:
    assert PAGE.read_text() == render(), "run `python -m gateway.error_reference`"


def test_every_code_the_gateway_sends_is_documented_and_no_other() -> None:
    documented = {entry.code for entry in CODES}
    sent = codes_in_code()
    assert sent - documented == set(), "codes sent but not in docs/errors.md"
    assert documented - sent == set(), "codes documented that nothing sends"


def test_every_close_code_is_documented_and_no_other() -> None:
    documented = {entry.code for entry in CLOSE_CODES}
    sent = close_codes_in_code()
    assert sent - documented == set(), "close codes sent but not in docs/errors.md"
    assert documented - sent == set(), "close codes documented that nothing sends"
    assert starlette_status.WS_1008_POLICY_VIOLATION == 1008


def test_the_page_states_the_statuses_the_view_answers() -> None:
    page = PAGE.read_text()
    unavailable = {
        "errors": [{"message": "m", "extensions": {"code": "UNAVAILABLE", "retryAfter": 5}}]
    }
    assert status_of({**unavailable, "data": None}, GRAPHQL_RESPONSE_JSON) == 503
    assert status_of(unavailable, JSON) == 200
    row = next(line for line in page.splitlines() if line.startswith("| `UNAVAILABLE`"))
    assert "request error: 503; field error: 503 | request error: 200; field error: 200" in row
    for entry in CODES:
        assert f"| `{entry.code}` |" in page
        assert f'"code": "{entry.code}"' in page, f"no example of {entry.code}"
