"""The layers of docs/architecture.md hold: `lint-imports` keeps every import pointing down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cli", "devstack", "gateway", "graphql_schema", "gateway_core", "workers", "contracts")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _copy(tree: Path) -> None:
    for package in (*PACKAGES, "taskstream"):
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")


def test_every_import_contract_is_kept() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout


def test_an_upward_import_from_the_shared_runtime_breaks_the_layers(tmp_path: Path) -> None:
    _copy(tmp_path)
    settings = tmp_path / "taskstream" / "settings.py"
    settings.write_text(settings.read_text() + "\nimport gateway_core.live  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode == 1
    assert "taskstream.settings -> gateway_core.live" in done.stdout


def test_a_worker_importing_another_worker_breaks_independence(tmp_path: Path) -> None:
    _copy(tmp_path)
    handlers = tmp_path / "workers" / "recurrence" / "handlers.py"
    handlers.write_text(handlers.read_text() + "\nimport workers.audit.trail  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode == 1
    assert "workers.recurrence.handlers -> workers.audit.trail" in done.stdout
