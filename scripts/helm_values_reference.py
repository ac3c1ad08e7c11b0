"""Writes docs/deploy/helm-values.md, the chart's values reference, from values.schema.json.

Every value the schema declares, with its type and constraints (enum, range, pattern, required)
from the schema, its default from values.yaml, and its description from the schema or else from
the comment above it in values.yaml. `--check` exits 1 when the committed page is stale
(tests/deploy/test_helm_values_reference.py runs it).

    .venv/bin/python scripts/helm_values_reference.py [--check]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "infra" / "helm" / "taskstream"
PAGE = ROOT / "docs" / "deploy" / "helm-values.md"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+):")
HEADER = """# Helm values reference

<!-- Generated from infra/helm/taskstream/values.schema.json (and the defaults and comments of
     values.yaml) by `scripts/helm_values_reference.py`; do not edit by hand. -->

Every value of the `infra/helm/taskstream` chart. Helm refuses values the schema does not
allow (unknown keys included, where the schema says so), so this is the whole surface.
`services.*` stands for each service (`gateway`, `recurrence`, `notifications`, `audit`) and
`*` for any key; defaults are those of `values.yaml` (`values-minikube.yaml` and
`values-cloud.yaml` override some). See [minikube.md](minikube.md) and [cloud.md](cloud.md)
for installs.

| Value | Type | Default | Allowed | Description |
|---|---|---|---|---|
"""


def comments(values_yaml: str) -> dict[str, str]:
    """The comment block just above each key of values.yaml, by dotted path."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip().removeprefix("-- "))
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("-"):
            pending = [] if not stripped else pending
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2)))
        if pending:
            found[".".join(key for _, key in stack)] = " ".join(pending)
        pending = []
    return found


def walk(
    node: dict[str, Any], path: str, required: bool
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Every declared value under `node`: its path, its schema, whether it is required."""
    if path:
        yield path, node, required
    needed = set(node.get("required", []))
    for key, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{key}" if path else key, key in needed)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from walk(extra, f"{path}.*", False)
    items = node.get("items")
    if isinstance(items, dict) and "properties" in items:
        yield from walk(items, f"{path}[]", False)


def type_of(node: dict[str, Any]) -> str:
    """The JSON type(s) of a value."""
    kind = node.get("type")
    if kind is None and "enum" in node:
        kinds = sorted({type(v).__name__.replace("str", "string") for v in node["enum"]})
        return " or ".join(kinds)
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(node.get("items"), dict) and "type" in node["items"]:
        return f"array of {node['items']['type']}"
    return str(kind or "any")


def allowed(node: dict[str, Any], required: bool) -> str:
    """The schema's constraints on a value, in words."""
    parts = []
    if required:
        parts.append("required")
    if "enum" in node:
        parts.append("one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"]))
    if "minimum" in node:
        parts.append(f"≥ {node['minimum']}")
    if "maximum" in node:
        parts.append(f"≤ {node['maximum']}")
    if "minLength" in node:
        parts.append(f"at least {node['minLength']} characters")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} items")
    if "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    if node.get("additionalProperties") is False:
        parts.append("no other keys")
    return "; ".join(parts)


def default_of(values: Any, path: str) -> str:
    """The default of a path in values.yaml (`services.*` shown for the gateway), or empty."""
    current = values
    for key in path.replace("[]", "").split("."):
        if key == "*":
            if not isinstance(current, dict) or not current:
                return ""
            current = current.get("gateway", next(iter(current.values())))
            continue
        if not isinstance(current, dict) or key not in current:
            return ""
        current = current[key]
    if isinstance(current, dict) and current:
        return ""
    return f"`{json.dumps(current, ensure_ascii=False)}`"


def cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The text of docs/deploy/helm-values.md."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values_text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    notes = comments(values_text)
    rows = []
    for path, node, required in walk(schema, "", False):
        # The comment of `services.*.x` is written once, on the gateway's entry.
        note = node.get("description") or notes.get(path.replace("*", "gateway"), "")
        rows.append(
            f"| `{path}` | {cell(type_of(node))} | {cell(default_of(values, path))} "
            f"| {cell(allowed(node, required))} | {cell(note)} |"
        )
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    """Write the page, or with --check say whether it is current."""
    text = render()
    if "--check" in argv:
        if PAGE.read_text() != text:
            print(f"{PAGE} is stale: run scripts/helm_values_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
