"""docs/compliance.md: its offline verification procedure runs on real exports, and its facts
are the code's.

The documented script is saved to a file and run with Python, as an auditor would, on what
`taskstream audit report` really writes for a user of the whole in-process system.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from taskstream.domain.audit import ChainCheck
from taskstream.service import PROCESSED_EVENTS_PRUNE_SECONDS
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.docs.test_api_examples import COMPLIANCE, python_block
from tests.e2e.test_audit_flow import wait_for_entries
from workers.audit import trail
from workers.audit.handlers import AUDITED, action_of
from workers.audit.main import RETENTION_INTERVAL_SECONDS
from workers.audit.report import CSV_COLUMNS, compliance_report

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of a command (run it in a thread from async code)."""
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """The documented verify_audit_export.py, saved as the document says."""
    path = tmp_path / "verify_audit_export.py"
    path.write_text(python_block(COMPLIANCE.read_text(), "offline_verify"))
    return path


async def test_the_offline_procedure_verifies_real_exports_and_catches_tampering(
    carol: GraphQLClient, database_url: str, script: Path, tmp_path: Path
) -> None:
    me = (await carol.data("{ me { email } }"))["me"]
    first = await carol.data('mutation { createTask(input: {title: "Prüfung «1»"}) { id } }')
    await carol.data('mutation { createTask(input: {title: "Second", tags: ["x"]}) { id } }')
    await carol.data(
        "mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": first["createTask"]["id"]}
    )
    nodes = await wait_for_entries(carol, 3)
    env = {**os.environ, "DATABASE_URL": database_url}
    command = str(Path(sys.executable).with_name("taskstream"))

    async def export(name: str, *args: str) -> Path:
        report = (command, "audit", "report", "--user", me["email"], *args)
        code, out, err = await asyncio.to_thread(run, *report, env=env)
        assert code == 0, err
        path = tmp_path / name
        path.write_text(out, encoding="utf-8")
        return path

    async def verify(path: Path) -> tuple[int, str]:
        code, out, err = await asyncio.to_thread(run, sys.executable, str(script), str(path))
        assert err == ""
        return code, out.strip()

    last = nodes[-1]["hash"]
    whole_json = await export("whole.json", "--format", "json")
    whole_csv = await export("whole.csv", "--format", "csv")
    today = datetime.now(UTC).date().isoformat()
    period = await export("period.json", "--format", "json", "--from", today)
    assert await verify(whole_json) == (0, f"ok: 3 chain from its start verified; last hash {last}")
    assert await verify(whole_csv) == (0, f"ok: 3 chain from its start verified; last hash {last}")
    assert await verify(period) == (0, f"ok: 3 entries, each on its own verified; last hash {last}")

    # An edited entry, a removed entry and an edited CSV cell are each caught where they are.
    report: dict[str, Any] = json.loads(whole_json.read_text())
    report["entries"][1]["changes"]["task"]["title"] = "Something else"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(report, ensure_ascii=False))
    assert await verify(edited) == (1, f"BROKEN at entry {nodes[1]['id']} (entry 2 of 3)")
    report = json.loads(whole_json.read_text())
    del report["entries"][1]
    removed = tmp_path / "removed.json"
    removed.write_text(json.dumps(report))
    assert await verify(removed) == (1, f"BROKEN at entry {nodes[2]['id']} (entry 2 of 2)")
    tampered = tmp_path / "tampered.csv"
    tampered.write_text(whole_csv.read_text().replace("Prüfung «1»", "Prüfung «2»", 1))
    assert await verify(tampered) == (1, f"BROKEN at entry {nodes[0]['id']} (entry 1 of 3)")

    # The same functions verify auditLog's output, as the document says.
    namespace: dict[str, Any] = {}
    exec(python_block(COMPLIANCE.read_text(), "offline_verify"), namespace)
    assert namespace["verify_entries"](nodes, start="0" * 64) == (True, 3, None)


def test_the_document_states_the_codes_facts() -> None:
    text = COMPLIANCE.read_text()
    for types in AUDITED.values():
        for event_type in types:
            assert f"| `{event_type}` | `{action_of(event_type)}` |" in text, event_type
    default = Settings.model_fields["audit_retention_days"].default
    assert f"`TASKSTREAM_AUDIT_RETENTION_DAYS` (default **{default}**" in text
    assert RETENTION_INTERVAL_SECONDS == 3600 and "then **hourly**" in text
    assert ",".join(CSV_COLUMNS) in text
    migration = (ROOT / "alembic" / "versions" / "2026_11_28_0003_audit_initial.py").read_text()
    assert "audit entries are append-only (% refused)" in migration
    assert "SET LOCAL taskstream.audit_retention = 'on'" in text
    assert "insufficient_privilege" in migration and "`42501`" in text
    # The end of the chain is checked against its head, by the one verification path.
    assert "(newest entries removed)" in inspect.getsource(ChainCheck.end_at)
    assert "`trail.verify` in\n  `workers/audit/trail.py`" in text
    assert "check.end_at(head_hash" in inspect.getsource(trail.verify)
    assert "trail.verify(engine, user_id)" in inspect.getsource(compliance_report)
    hours = Settings.model_fields["processed_events_retention_hours"].default
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert f"`TASKSTREAM_PROCESSED_EVENTS_RETENTION_HOURS` (default {hours}, 7 days" in operations
    assert hours == 7 * 24 and "default 7 days" in text
    assert PROCESSED_EVENTS_PRUNE_SECONDS == 3600 and "then hourly" in operations
