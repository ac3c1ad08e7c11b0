"""docs/metrics.md lists exactly the metrics the code defines, with their type and labels."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "metrics.md"
PACKAGES = ("taskstream", "gateway", "gateway_core", "graphql_schema", "workers", "contracts")
KINDS = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
ROW = re.compile(r"^\| `(taskstream_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|", re.MULTILINE)


def _labels(call: ast.Call, lists: dict[str, list[str]]) -> list[str]:
    """The label names of a metric constructor call: a literal list or a local list variable."""
    given = call.args[2] if len(call.args) > 2 else None
    for keyword in call.keywords:
        if keyword.arg == "labelnames":
            given = keyword.value
    if isinstance(given, ast.List | ast.Tuple):
        return [str(e.value) for e in given.elts if isinstance(e, ast.Constant)]
    if isinstance(given, ast.Name):
        return lists.get(given.id, [])
    return []


def defined_metrics() -> dict[str, tuple[str, list[str]]]:
    """name → (type, labels) of every Prometheus metric the services define."""
    found: dict[str, tuple[str, list[str]]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            lists: dict[str, list[str]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            lists[target.id] = [
                                str(e.value) for e in node.value.elts if isinstance(e, ast.Constant)
                            ]
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                kind = KINDS.get(node.func.id)
                first = node.args[0] if node.args else None
                if (
                    kind
                    and isinstance(first, ast.Constant)
                    and str(first.value).startswith("taskstream_")
                ):
                    found[str(first.value)] = (kind, _labels(node, lists))
    return found


def documented_metrics() -> dict[str, tuple[str, list[str]]]:
    """name → (type, labels) of the rows of docs/metrics.md."""
    rows = {}
    for name, kind, labels in ROW.findall(REFERENCE.read_text()):
        rows[name] = (kind, re.findall(r"`([a-z_]+)`", labels))
    return rows


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    assert documented_metrics() == defined_metrics()


def test_the_scan_finds_the_metrics_of_every_kind() -> None:
    defined = defined_metrics()
    assert defined["taskstream_consumer_dead_lettered_total"] == ("counter", ["group", "topic"])
    assert defined["taskstream_http_request_seconds"] == ("histogram", ["route"])
    assert defined["taskstream_live_subscribers"] == ("gauge", [])
