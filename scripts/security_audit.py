#!/usr/bin/env python3
"""Supply-chain audit: pip-audit (dependencies), bandit (our code), npm audit (web runtime deps).

Usage: .venv/bin/python scripts/security_audit.py [pip-audit|bandit|npm ...]   (default: all)

Findings are matched against security/allowlist.toml, where each accepted finding says why.
Exit status: 0 clean (or every finding allow-listed), 1 unexplained findings, 2 an audit could
not be performed (its advisory service unreachable): "could not check" is never reported clean.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "security" / "allowlist.toml"
PACKAGES = ["taskstream", "gateway", "graphql_schema", "workers"]
CACHE = Path(os.environ.get("TASKSTREAM_CACHE", Path.home() / ".cache" / "taskstream"))
BIN = Path(sys.executable).parent


@dataclass
class Report:
    """What one audit found: findings not allow-listed, accepted ones, or why it could not run."""

    tool: str
    unexplained: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    unavailable: str | None = None

    def lines(self) -> list[str]:
        """A human summary."""
        if self.unavailable:
            return [f"{self.tool}: COULD NOT AUDIT: {self.unavailable}"]
        head = (
            f"{self.tool}: {len(self.unexplained)} unexplained, {len(self.accepted)} allow-listed"
        )
        return [head] + [f"  FINDING {f}" for f in self.unexplained]


def _run(
    command: list[str], cwd: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed tool paths, no shell
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def _allowlist() -> dict[str, list[dict[str, Any]]]:
    with ALLOWLIST.open("rb") as handle:
        return tomllib.load(handle)


def pip_audit() -> Report:
    """Known vulnerabilities in the installed dependencies of the project (.venv)."""
    report = Report("pip-audit")
    done = _run(
        [
            str(BIN / "pip-audit"),
            "--local",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--cache-dir",
            str(CACHE / "pip-audit"),
        ]
    )
    try:
        dependencies = json.loads(done.stdout)["dependencies"]
    except (json.JSONDecodeError, KeyError):
        report.unavailable = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return report
    audited = [d for d in dependencies if not d.get("skip_reason")]
    if not audited:
        reason = dependencies[0]["skip_reason"] if dependencies else "nothing to audit"
        report.unavailable = f"the vulnerability service answered for no package ({reason})"
        return report
    allowed = {(a["package"].lower(), a["id"]) for a in _allowlist().get("pip-audit", [])}
    for dependency in audited:
        for vuln in dependency.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            name = dependency["name"].lower()
            line = f"{name} {dependency['version']}: {vuln['id']} (fix: {vuln.get('fix_versions')})"
            if any((name, i) in allowed for i in ids):
                report.accepted.append(line)
            else:
                report.unexplained.append(line)
    return report


def bandit() -> Report:
    """Bandit's findings (every severity) in the Python packages."""
    report = Report("bandit")
    done = _run([str(BIN / "bandit"), "-q", "-r", *PACKAGES, "-f", "json"])
    try:
        results = json.loads(done.stdout)["results"]
    except (json.JSONDecodeError, KeyError):
        report.unavailable = done.stderr.strip() or "bandit produced no report"
        return report
    rules = _allowlist().get("bandit", [])
    for result in results:
        path = result["filename"]
        line = (
            f"{path}:{result['line_number']} {result['test_id']} "
            f"[{result['issue_severity']}/{result['issue_confidence']}] {result['issue_text']}"
        )
        matched = any(
            rule["test"] == result["test_id"]
            and any(fnmatch.fnmatch(path, pattern) for pattern in rule["paths"])
            for rule in rules
        )
        (report.accepted if matched else report.unexplained).append(line)
    return report


def npm_audit() -> Report:
    """Advisories against the web app's runtime (non-dev) dependencies."""
    report = Report("npm audit")
    npm = shutil.which("npm")
    if npm is None:
        report.unavailable = "npm is not installed"
        return report
    done = _run([npm, "audit", "--omit=dev", "--json"], cwd=ROOT / "web", timeout=120)
    try:
        body = json.loads(done.stdout)
    except json.JSONDecodeError:
        report.unavailable = done.stderr.strip() or "npm audit produced no report"
        return report
    if "vulnerabilities" not in body:
        # e.g. a registry (mirror) without the advisory endpoint answers 404/405.
        report.unavailable = str(body.get("message") or body.get("error") or body)[:300]
        return report
    rules = _allowlist().get("npm", [])
    for name, vulnerability in body["vulnerabilities"].items():
        advisories = [
            v.get("url", "") for v in vulnerability.get("via", []) if isinstance(v, dict)
        ] or ["(through " + ", ".join(str(v) for v in vulnerability.get("via", [])) + ")"]
        for advisory in advisories:
            line = f"{name} [{vulnerability.get('severity')}] {advisory}"
            matched = any(
                rule["package"] == name
                and (rule["advisory"] == "*" or rule["advisory"] in advisory)
                for rule in rules
            )
            (report.accepted if matched else report.unexplained).append(line)
    return report


AUDITS: dict[str, Callable[[], Report]] = {
    "pip-audit": pip_audit,
    "bandit": bandit,
    "npm": npm_audit,
}


def main(argv: list[str]) -> int:
    """Run the chosen audits, print their reports, and exit 0, 1 or 2 as documented above."""
    chosen = argv or list(AUDITS)
    reports = [AUDITS[name]() for name in chosen]
    for report in reports:
        print("\n".join(report.lines()))
    if any(report.unexplained for report in reports):
        return 1
    if any(report.unavailable for report in reports):
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
