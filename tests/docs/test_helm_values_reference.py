"""docs/deploy/helm-values.md is current with the chart's values.schema.json and values.yaml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # PyYAML (via uvicorn[standard]); no stubs installed

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "helm_values_reference.py"
CHART = ROOT / "infra" / "helm" / "taskstream"
PAGE = ROOT / "docs" / "deploy" / "helm-values.md"


def test_the_committed_page_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_value_of_the_chart_has_a_row() -> None:
    page = PAGE.read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in {*schema["properties"], *values}:
        assert f"| `{key}` |" in page, f"{key} is not in {PAGE.name}"
    for key in schema["properties"]["config"]["properties"]:
        assert f"| `config.{key}` |" in page
    for name in values["services"]:
        assert name in page.split("| Value |")[0], f"the header does not name service {name}"
