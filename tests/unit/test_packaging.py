"""The project's metadata builds without deprecation warnings (they reach `make up`'s output)."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_pyproject_builds_without_setuptools_deprecation_warnings() -> None:
    setuptools = pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration  # type: ignore[import-untyped]
    from setuptools.dist import Distribution  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), PYPROJECT)
    assert dist.metadata.license_expression == "Apache-2.0"
    # The SPDX string form needs setuptools 77; the build must not pick an older one.
    requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    assert requires == ["setuptools>=77"]
    assert int(setuptools.__version__.split(".")[0]) >= 77
