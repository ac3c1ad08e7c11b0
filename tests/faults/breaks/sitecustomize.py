"""Test-only start-up hook: break one function of a service process, for the fault suite.

The fault harness (tests/faults/harness.py, TASKSTREAM_FAULTS_BREAK_IN_SERVICE) starts the
services a break names with this directory first on PYTHONPATH and TASKSTREAM_FAULTS_BROKEN
naming the break. Python imports `sitecustomize` at start-up (site.py), before the service's
own code, so the break is in place when the service imports its module. Without that variable
this does nothing; production never puts this directory on its path. The breaks themselves,
and which invariant each must trip, are in catalogue.py beside this file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def _install() -> None:
    """Install the break TASKSTREAM_FAULTS_BROKEN names, if any."""
    name = os.environ.get("TASKSTREAM_FAULTS_BROKEN")
    if not name:
        return
    # Loaded by path: the service's own directory is not on sys.path yet at start-up.
    spec = importlib.util.spec_from_file_location(
        "taskstream_fault_breaks", Path(__file__).with_name("catalogue.py")
    )
    if spec is None or spec.loader is None:
        raise SystemExit("taskstream-faults: catalogue.py of the breaks is missing")
    catalogue = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = catalogue  # dataclasses look their module up there
    spec.loader.exec_module(catalogue)
    catalogue.install(name)


_install()
