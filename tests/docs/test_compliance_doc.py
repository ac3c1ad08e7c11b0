"""docs/compliance.md: its offline verification procedure runs on real exports, and its facts
are the code's.

The documented script is saved to a file and run with Python, as an auditor would, on what
`taskstream audit report` really writes for a user of the whole in-process system.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli import main as cli
from taskstream.service import PROCESSED_EVENTS_PRUNE_SECONDS
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.docs.test_api_examples import COMPLIANCE, python_block
from tests.e2e.test_audit_flow import report_env, wait_for_entries
from workers.audit import report as report_module
from workers.audit import trail
from workers.audit.domain import (
    CHECKPOINT_CONTEXT,
    HEAD_CONTEXT,
    ChainCheck,
    Checkpoint,
    format_at,
)
from workers.audit.handlers import AUDITED, action_of
from workers.audit.main import RETENTION_INTERVAL_SECONDS
from workers.audit.report import CSV_COLUMNS

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
    carol: GraphQLClient, database_url: str, settings: Settings, script: Path, tmp_path: Path
) -> None:
    me = (await carol.data("{ me { email } }"))["me"]
    first = await carol.data('mutation { createTask(input: {title: "Prüfung «1»"}) { id } }')
    await carol.data('mutation { createTask(input: {title: "Second", tags: ["x"]}) { id } }')
    await carol.data(
        "mutation($id: ID!) { completeTask(id: $id) { id } }", {"id": first["createTask"]["id"]}
    )
    nodes = await wait_for_entries(carol, 3)
    env = report_env(settings, database_url)
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

    # A trail pruned by retention: the checkpoint chain, its age and the head are checked.
    pruned: dict[str, Any] = json.loads(whole_json.read_text())
    first = pruned["entries"].pop(0)
    at = datetime.fromisoformat(first["at"])
    checkpoint = Checkpoint(
        number=1,
        from_seq=1,
        through_seq=1,
        hash=first["hash"],
        removed=1,
        newest_at=at,
        cutoff=at + timedelta(seconds=1),
        created_at=at + timedelta(days=400),
        previous="0" * 64,
        digest=None,
        signature=None,
    )
    digest = checkpoint.expected_digest(pruned["user"]["id"])
    pruned["checkpoints"] = [{**checkpoint.to_json(), "digest": digest}]
    pruned["head"]["checkpoint"] = digest
    pruned["chainStart"] = first["hash"]

    async def verify_report(name: str, report: dict[str, Any]) -> tuple[int, str]:
        path = tmp_path / name
        path.write_text(json.dumps(report, ensure_ascii=False))
        return await verify(path)

    assert await verify_report("pruned.json", pruned) == (
        0,
        f"ok: 2 chain from its start verified; last hash {last}",
    )
    young = replace(checkpoint, created_at=at + timedelta(days=10))
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {**checkpoint.to_json(), "digest": digest, "number": 2},
            "BROKEN: checkpoint 2 is out of sequence",
        ),
        (
            {
                **checkpoint.to_json(),
                "digest": digest,
                "removed": 1,
                "newestAt": first["at"],
                "cutoff": format_at(at + timedelta(days=1)),
            },
            "BROKEN: checkpoint 1 was altered",
        ),
        (
            {**young.to_json(), "digest": young.expected_digest(pruned["user"]["id"])},
            "BROKEN: checkpoint 1 removed entries younger than the retention period",
        ),
    ]
    for number, (forged, verdict) in enumerate(cases):
        assert await verify_report(f"forged{number}.json", {**pruned, "checkpoints": [forged]}) == (
            1,
            verdict,
        )
    no_checkpoint = {**pruned, "checkpoints": []}
    assert await verify_report("no-checkpoint.json", no_checkpoint) == (
        1,
        "BROKEN: the chain does not start after the newest checkpoint",
    )
    suffix = {**pruned, "entries": pruned["entries"][:-1]}
    assert await verify_report("suffix.json", suffix) == (
        1,
        "BROKEN: the chain does not end at its head (entries or checkpoints removed)",
    )

    # The same functions verify auditLog's output, as the document says.
    namespace: dict[str, Any] = {}
    exec(python_block(COMPLIANCE.read_text(), "offline_verify"), namespace)
    assert namespace["verify_entries"](nodes, start="0" * 64) == (True, 3, None)


def test_the_document_states_the_codes_facts() -> None:
    text = COMPLIANCE.read_text()
    for models in AUDITED.values():
        for model in models:
            event_type = model.TYPE
            assert f"| `{event_type}` | `{action_of(event_type)}` |" in text, event_type
    default = Settings.model_fields["audit_retention_days"].default
    assert f"`TASKSTREAM_AUDIT_RETENTION_DAYS` (default **{default}**" in text
    assert RETENTION_INTERVAL_SECONDS == 3600 and "then **hourly**" in text
    assert ",".join(CSV_COLUMNS) in text
    versions = ROOT / "alembic" / "versions"
    migration = (versions / "2026_12_04_audit_0003_signed_checkpoints.py").read_text()
    assert "audit entries are append-only (% refused)" in migration
    assert "audit checkpoints are append-only (% refused)" in migration
    assert "audit chain heads only move forward" in migration
    assert "`alembic/versions/2026_12_04_audit_0003_signed_checkpoints.py`" in text
    assert "set_config('taskstream.audit_erase'" in inspect.getsource(trail.erase_user)
    assert "`set_config('taskstream.audit_erase', <user id>, true)`" in text
    assert "insufficient_privilege" in migration and "`42501`" in text
    # The signing contexts and the reasons the document quotes are the code's.
    for context in (CHECKPOINT_CONTEXT, HEAD_CONTEXT):
        assert f'"{context}\\n"' in text
    assert "(newest entries removed)" in inspect.getsource(ChainCheck.end_at)
    assert "`trail.verify` in `workers/audit/trail.py`" in text
    assert "_check_head(check, head, start" in inspect.getsource(trail.verify)
    # The user's and the project's reports share the chain report, which verifies with it.
    assert "trail.verify(engine, user_id, key=key" in inspect.getsource(report_module)
    assert "`<data-dir>/secrets/audit-signing-key`" in text
    assert '"audit-signing-key"' in inspect.getsource(cli.command_up)
    hours = Settings.model_fields["processed_events_retention_hours"].default
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert f"`TASKSTREAM_PROCESSED_EVENTS_RETENTION_HOURS` (default {hours}, 7 days" in operations
    assert hours == 7 * 24 and "default 7 days" in text
    assert PROCESSED_EVENTS_PRUNE_SECONDS == 3600 and "then hourly" in operations
