"""The test-only breaks inside services (tests/faults/breaks/): each patches its one function
at start-up when named, and nothing at all when not (as in production)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.faults.breaks.catalogue import BREAKS, MARKER
from tests.faults.harness import BREAKS_DIR

# Prints the attribute's qualified name and source module after importing the service module,
# as the service itself would import it.
PROBE = """
import importlib, sys
module = importlib.import_module(sys.argv[1])
target = module
for part in sys.argv[2].split("."):
    target = getattr(target, part)
print(target.__module__, target.__qualname__)
"""


def _started(env: dict[str, str], module: str, attribute: str) -> subprocess.CompletedProcess[str]:
    """The venv's interpreter, as `stack up` starts a service (sys.executable), probing."""
    return subprocess.run(
        [sys.executable, "-c", PROBE, module, attribute],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_named_break_patches_its_one_function_at_start_up(name: str) -> None:
    broken = BREAKS[name]
    env = {**os.environ, "PYTHONPATH": str(BREAKS_DIR), "TASKSTREAM_FAULTS_BROKEN": name}
    done = _started(env, broken.module, broken.attribute)
    assert done.returncode == 0, done.stderr
    assert f"{MARKER} {name} patched {broken.module}:{broken.attribute}" in done.stderr
    # The function in place is the break's, defined in the catalogue, not the service's own.
    assert done.stdout.split()[0] == "taskstream_fault_breaks", done.stdout


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_without_the_variable_the_hook_changes_nothing(name: str) -> None:
    broken = BREAKS[name]
    env = {k: v for k, v in os.environ.items() if k != "TASKSTREAM_FAULTS_BROKEN"}
    done = _started({**env, "PYTHONPATH": str(BREAKS_DIR)}, broken.module, broken.attribute)
    assert done.returncode == 0, done.stderr
    assert MARKER not in done.stderr
    assert done.stdout.split()[0] == broken.module, done.stdout


def test_an_unknown_break_stops_the_service_rather_than_run_it_unbroken() -> None:
    env = {**os.environ, "PYTHONPATH": str(BREAKS_DIR), "TASKSTREAM_FAULTS_BROKEN": "no-such"}
    done = _started(env, "json", "dumps")
    assert done.returncode != 0
    assert "'no-such' is unknown" in done.stderr
