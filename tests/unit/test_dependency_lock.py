"""The dependency locks agree with pyproject.toml: what is tested is what is declared.

`scripts/lock.sh` writes both locks; this fails when a dependency was added to or changed in
pyproject.toml without re-locking, or when the two locks pin one package differently.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    """Package → pinned version of one lock file."""
    text = (REPO / "requirements" / name).read_text()
    return {canonicalize_name(m[1]): m[2] for m in PIN.finditer(text)}


def declared(*extras: str) -> list[Requirement]:
    """The requirements of pyproject.toml: the base dependencies plus the given extras."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(text) for text in texts]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    for lock, extras in [("runtime.lock", ()), ("dev.lock", ("dev", "bench", "local"))]:
        pinned = pins(lock)
        for requirement in declared(*extras):
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{requirement} is not in requirements/{lock}: scripts/lock.sh"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (
                f"requirements/{lock} pins {name}=={pinned[name]}, outside {requirement}"
            )


def test_every_pin_carries_hashes() -> None:
    for lock in ("runtime.lock", "dev.lock"):
        text = (REPO / "requirements" / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
        assert entries
        for entry in entries:
            assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]} has no hash"


def test_the_images_run_what_the_tests_ran() -> None:
    runtime, dev = pins("runtime.lock"), pins("dev.lock")
    assert runtime
    differing = {name: (v, dev.get(name)) for name, v in runtime.items() if dev.get(name) != v}
    assert not differing, f"runtime.lock and dev.lock disagree: {differing}"
