"""Every setting, command, make target, metric and file path the README and docs/ name exists.

A reader who copies a name from the documentation must find it in the code: a renamed setting or
a moved file fails here, not in an operator's terminal. Names are taken from code spans and code
blocks, where the documentation spells things to be typed or looked up.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.main import build_parser
from gateway.error_reference import CODES as ERROR_CODES
from taskstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")],
    key=str,
)
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
SETTING = re.compile(r"\b(TASKSTREAM_[A-Z0-9_]*[A-Z0-9])\b")
# At the start of a command line (not `kubectl -n taskstream get pods`).
COMMAND = re.compile(
    r"(?:^|&& |\$ |bin/)taskstream ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", re.MULTILINE
)
# A command and the rest of its line, up to a pipe or the next command: where its flags are.
FLAGGED = re.compile(
    r"(?:^|&& |\$ |bin/)taskstream ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)([^\n|&;]*)", re.MULTILINE
)
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
MAKE = re.compile(r"\bmake ([a-z][a-z-]*)")
# What reads as an error code: a code span that is one (`CONFLICT`, `SERVICE_UNAVAILABLE`), or
# the code of a JSON example ("code": "NOT_FOUND"). Enum values (`OPEN`, `FAILED`) are not.
ERROR_CODE_SPAN = re.compile(
    r"[A-Z_]*(?:UNAVAILABLE|UNAUTHENTICATED|UNAUTHORIZED|FORBIDDEN|CONFLICT|TIMEOUT|INTERNAL)"
    r"|[A-Z]+(?:_[A-Z]+)*_(?:ERROR|LIMIT|LIMITED|FOUND|INPUT|DENIED|INVALID|REQUEST)"
)
ERROR_CODE_JSON = re.compile(r'"code":\s*"([A-Za-z_]+)"')
# Pages allowed to name a code the gateway does not send (none today; an entry must be a page
# that is still wrong: the test fails once it is fixed, so the exemption goes with it).
STALE_ERROR_CODES: dict[str, set[str]] = {}
METRIC = re.compile(r"\b(taskstream_[a-z0-9_]*[a-z0-9])\b")
TOP = (
    "taskstream",
    "contracts",
    "gateway",
    "gateway_core",
    "graphql_schema",
    "workers",
    "devstack",
    "cli",
    "tests",
    "bench",
    "docs",
    "infra",
    "alembic",
    "web",
    "scripts",
    "docker",
    "requirements",
    ".ci",
    ".github",
)
PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(re.escape(t) for t in TOP) + r")/[\w./*{},-]*)")
# Names of other systems that share the prefix, and patterns documented as patterns.
FOREIGN_METRICS = {"taskstream_"}


def code_spans(page: Path) -> Iterator[str]:
    """The code spans and code blocks of a page."""
    for match in CODE.finditer(page.read_text()):
        yield match.group(0).strip("`")


@functools.cache
def settings_names() -> set[str]:
    """Every environment variable Settings reads, and those the tooling reads (tests, bench)."""
    names = set()
    for top in ("scripts", "bench", "tests", "infra", "web/scripts", "web/e2e"):
        for path in [*(ROOT / top).rglob("*"), ROOT / "web" / "vite.config.ts"]:
            this_test = path.name == Path(__file__).name
            tooling = path.suffix in {".py", ".sh", ".ts", ".js", ".mjs"}
            if tooling and path.is_file() and not this_test:
                names |= set(SETTING.findall(path.read_text(errors="replace")))
    names |= set(SETTING.findall((ROOT / "Makefile").read_text()))
    prefix = Settings.model_config.get("env_prefix", "")
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


@functools.cache
def commands() -> set[str]:
    """`taskstream` subcommands, with their own subcommands ("stack up")."""
    return set(command_parsers()) - {""}


@functools.cache
def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """The parser of the CLI ("") and of each subcommand ("stack up"), by command."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        found[path] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())

    walk(build_parser(), "")
    return found


def unknown_flags(page: Path) -> set[str]:
    """`command --flag` pairs of a page whose command has no such flag."""
    parsers = command_parsers()
    unknown = set()
    for span in code_spans(page):
        for match in FLAGGED.finditer(span):
            command, rest = match.group(1), match.group(2)
            if command not in parsers:
                # The second word was an argument ("taskstream up --port"), not a subcommand.
                command, _, argument = command.partition(" ")
                rest = f"{argument}{rest}"
                if command not in parsers:
                    continue  # test_named_commands_exist reports it
            known = parsers[command]._option_string_actions
            unknown |= {f"{command} {flag}" for flag in FLAG.findall(rest) if flag not in known}
    return unknown


@functools.cache
def make_targets() -> set[str]:
    """The targets of the Makefile."""
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, re.MULTILINE))


@functools.cache
def source_text() -> str:
    """Every Python file of the services, concatenated: where metrics are emitted."""
    packages = ("taskstream", "gateway", "gateway_core", "graphql_schema", "workers", "devstack")
    parts = []
    for top in (*packages, "cli", "contracts"):
        parts += [path.read_text() for path in (ROOT / top).rglob("*.py")]
    return "\n".join(parts)


# Paths a build makes, not the repository: a fresh checkout has none of them until the build
# runs, so they count as existing when the build that makes them is there.
BUILD_OUTPUTS = {"web/dist": ("web/vite.config.ts", "outDir: 'dist'")}


def path_exists(text: str) -> bool:
    """Whether a documented path (maybe with a glob, braces or a :line suffix) names something."""
    text = re.sub(r":\d+(-\d+)?$", "", text.rstrip(".,;:)"))
    for output, (maker, setting) in BUILD_OUTPUTS.items():
        if text == output or text.startswith(output + "/"):
            return setting in (ROOT / maker).read_text()
    if "{" in text:
        head, _, rest = text.partition("{")
        options, _, tail = rest.partition("}")
        return all(path_exists(head + option + tail) for option in options.split(","))
    if "*" in text:
        return any(ROOT.glob(text))
    return (ROOT / text).exists()


def named(pattern: re.Pattern[str], page: Path) -> set[str]:
    """What a pattern finds in the code spans of a page."""
    return {m.group(1) for span in code_spans(page) for m in pattern.finditer(span)}


PAGE_IDS = [str(p.relative_to(ROOT)) for p in PAGES if p.exists()]
EXISTING = [p for p in PAGES if p.exists()]


@pytest.fixture(scope="module")
def source() -> str:
    return source_text()


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_settings_exist(page: Path) -> None:
    known = settings_names()
    missing = sorted(n for n in named(SETTING, page) if n not in known and not n.endswith("_"))
    assert missing == [], f"{page.name} names settings Settings does not read: {missing}"


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_commands_exist(page: Path) -> None:
    known = commands()
    missing = sorted(
        c for c in named(COMMAND, page) if c not in known and c.split(" ")[0] not in known
    )
    assert missing == [], f"{page.name} names commands the CLI does not have: {missing}"


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_flags_exist(page: Path) -> None:
    unknown = sorted(unknown_flags(page))
    assert unknown == [], f"{page.name} names flags the CLI does not have: {unknown}"


def unknown_error_codes(page: Path) -> set[str]:
    """The error codes a page names that the gateway never sends."""
    named_codes = set()
    for span in code_spans(page):
        if ERROR_CODE_SPAN.fullmatch(span):
            named_codes.add(span)
        named_codes |= set(ERROR_CODE_JSON.findall(span))
    return named_codes - {code.code for code in ERROR_CODES}


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_error_codes_exist(page: Path) -> None:
    stale = STALE_ERROR_CODES.get(str(page.relative_to(ROOT)), set())
    unknown = unknown_error_codes(page)
    assert unknown - stale == set(), f"{page.name} names error codes the gateway never sends"
    assert stale <= unknown, f"{page.name} is fixed: drop it from STALE_ERROR_CODES"


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_make_targets_exist(page: Path) -> None:
    missing = sorted(named(MAKE, page) - make_targets())
    assert missing == [], f"{page.name} names make targets the Makefile does not have: {missing}"


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_metrics_exist(page: Path, source: str) -> None:
    missing = sorted(
        m
        for m in named(METRIC, page)
        if m not in FOREIGN_METRICS
        and re.sub(r"_(total|bucket|sum|count|created)$", "", m) not in source
    )
    assert missing == [], f"{page.name} names metrics no code emits: {missing}"


@pytest.mark.parametrize("page", EXISTING, ids=PAGE_IDS)
def test_named_paths_exist(page: Path) -> None:
    missing = sorted(p for p in named(PATH, page) if not path_exists(p))
    assert missing == [], f"{page.name} names paths that do not exist: {missing}"


def test_the_checks_catch_a_stale_name(tmp_path: Path) -> None:
    page = tmp_path / "stale.md"
    page.write_text(
        "Set `TASKSTREAM_NO_SUCH_SETTING`, run `taskstream frobnicate`, `make nothing`, read "
        "`taskstream/no_such_module.py` and watch `taskstream_no_such_metric_total`.\n"
        "```sh\ntaskstream dlq list --pending --frob\n"
        ".venv/bin/taskstream up --port 1 --nope\n```\n"
        "A refusal is `CONFLICT`, not `ALREADY_EXISTS_ERROR` nor `GATEWAY_TIMEOUT`; the state is "
        '`FAILED`.\n```json\n{"extensions": {"code": "NOT_FOUND"}}, {"code": "MISSING"}\n```\n'
    )
    assert unknown_error_codes(page) == {"ALREADY_EXISTS_ERROR", "GATEWAY_TIMEOUT", "MISSING"}
    assert unknown_flags(page) == {"dlq list --frob", "up --nope"}
    assert named(SETTING, page) - settings_names() == {"TASKSTREAM_NO_SUCH_SETTING"}
    assert "frobnicate" in named(COMMAND, page) and "frobnicate" not in commands()
    assert named(MAKE, page) - make_targets() == {"nothing"}
    assert not path_exists("taskstream/no_such_module.py")
    assert "taskstream_no_such_metric" not in source_text()


def documented_settings(readme: str) -> set[str]:
    """The variables README's table documents, `TASKSTREAM_A_B` / `_C` shorthands expanded."""
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    for line in readme.splitlines():
        first = SETTING.search(line)
        if not line.startswith("|") or first is None:
            continue
        words = first.group(1).split("_")
        for short in re.findall(r"`(_[A-Z0-9_]+)`", line):
            documented |= {"_".join(words[:n]) + short for n in range(2, len(words))}
    return documented


def test_the_readme_lists_every_setting() -> None:
    documented = documented_settings((ROOT / "README.md").read_text())
    prefix = Settings.model_config.get("env_prefix", "")
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
        if variable not in documented:
            missing.append(variable)
    assert missing == [], f"README.md's configuration table lacks: {missing}"


def test_dashboards_and_alerts_query_only_emitted_metrics() -> None:
    missing = set()
    for path in (ROOT / "infra").rglob("*"):
        if path.suffix in {".json", ".yaml", ".yml"} and path.is_file():
            for metric in METRIC.findall(path.read_text(errors="replace")):
                base = re.sub(r"_(total|bucket|sum|count|created)$", "", metric)
                if base not in source_text():
                    missing.add(f"{path.relative_to(ROOT)}: {metric}")
    assert sorted(missing) == []
