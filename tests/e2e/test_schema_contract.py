"""The exported schema is current and never breaks the published contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from cli.main import SCHEMA_SDL, exported_sdl

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [ROOT / "tests" / "contract" / "schema.graphql"]
SHARED = ROOT.parent / "shared" / "contract" / "schema.graphql"
if SHARED.exists():
    CONTRACTS.append(SHARED)


def test_committed_export_is_current() -> None:
    assert SCHEMA_SDL.read_text() == exported_sdl(), "run `taskstream schema` and commit"


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda p: str(p.parent.parent.name))
def test_export_does_not_break_the_contract(contract: Path) -> None:
    changes = find_breaking_changes(
        build_schema(contract.read_text()), build_schema(SCHEMA_SDL.read_text())
    )
    assert changes == [], "\n".join(f"{c.type.name}: {c.description}" for c in changes)
