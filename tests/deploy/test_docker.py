"""Dockerfile and build context: hadolint, plus the rules of this project hadolint does not know."""

from __future__ import annotations

import re

import pytest

from tests.deploy.conftest import REPO, Tools

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(3600)]

DOCKERFILE = REPO / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions per named stage."""
    found: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for word, rest in instructions():
        if word == "FROM":
            current = rest.split(" AS ")[-1] if " AS " in rest else rest
            found[current] = []
        elif current:
            found[current].append((word, rest))
    return found


def test_hadolint_passes(tools: Tools) -> None:
    tools.ok("hadolint", "--no-color", str(DOCKERFILE))


def test_base_images_are_pinned_to_exact_versions() -> None:
    args = dict(
        rest.split("=", 1) for word, rest in instructions() if word == "ARG" and "=" in rest
    )
    bases = [args["PYTHON_IMAGE"], args["NODE_IMAGE"]]
    for image in bases:
        pinned_digest = "@sha256:" in image
        pinned_tag = re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+\.\d+-[a-z0-9-]+", image)
        assert pinned_digest or pinned_tag, image
        assert ":latest" not in image
    for word, rest in instructions():
        if word == "FROM":
            image = rest.split(" ")[0]
            assert image.startswith("${") or image in {"runtime"}, rest


def test_final_images_run_as_a_numeric_non_root_user() -> None:
    all_stages = stages()
    assert {"gateway", "worker"} <= set(all_stages)
    runtime_users = [rest for word, rest in all_stages["runtime"] if word == "USER"]
    assert runtime_users and runtime_users[-1] == "10001:10001"
    for name in ("gateway", "worker"):
        users = [rest for word, rest in all_stages[name] if word == "USER"]
        assert not users or users[-1] == "10001:10001", name


def test_no_remote_add_and_no_secrets_in_the_image() -> None:
    for word, rest in instructions():
        assert word != "ADD", "use COPY (ADD fetches URLs and unpacks archives)"
        assert not re.search(r"(PASSWORD|SECRET|TOKEN)=", rest, flags=re.IGNORECASE), rest


def test_the_gateway_image_carries_the_web_app() -> None:
    copies = [rest for word, rest in stages()["gateway"] if word == "COPY"]
    assert any("--from=web" in c and "/app/web/dist" in c for c in copies)
    assert [rest for word, rest in stages()["web"] if word == "RUN"][-1] == "npm run build"


def test_dockerignore_sends_only_the_sources() -> None:
    lines = [
        x.strip()
        for x in (REPO / ".dockerignore").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    assert lines[0] == "**"  # deny everything, then allow what the Dockerfile copies
    allowed = {x[1:].rstrip("/") for x in lines if x.startswith("!")}
    # Every path a COPY takes from the build context (the layout moves; the build must follow).
    copied = {
        source.rstrip("/").split("/")[0] if not source.startswith("requirements/") else source
        for word, rest in instructions()
        if word == "COPY" and "--from=" not in rest
        for source in [a for a in rest.split() if not a.startswith("--")][:-1]
    }
    assert {"taskstream", "contracts", "gateway_core", "cli", "web"} <= copied
    assert copied <= allowed, copied - allowed
    assert not allowed & {".git", ".venv", "tests", "data", "node_modules"}
    assert "web/node_modules/" in lines
