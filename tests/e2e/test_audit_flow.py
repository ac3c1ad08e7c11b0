"""The audit trail in `up`: every mutation is chained, and anyone can check it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.settings import Settings
from tests.conftest import GraphQLClient, taskstream_cli
from tests.e2e.test_up_command import Running
from tests.e2e.test_up_command import graphql as up_graphql
from workers.audit import trail

pytestmark = pytest.mark.e2e

ENTRY = "id at actor action taskId changes hash previousHash"
LOG = f"""
query($task: ID, $from: DateTime, $to: DateTime, $first: Int, $after: String) {{
  auditLog(taskId: $task, from: $from, to: $to, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {ENTRY} }} }}
  }}
}}
"""
ZEROS = "0" * 64


async def audit_log(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    """One page of the caller's trail."""
    data: dict[str, Any] = (await client.data(LOG, variables))["auditLog"]
    return data


async def wait_for_entries(client: GraphQLClient, count: int) -> list[dict[str, Any]]:
    """The caller's whole trail once it has `count` entries (the contract's 2 s in `up` is a
    latency figure: bounded here only so that a missing entry fails, not a slow machine)."""
    async with asyncio.timeout(20.0):
        while (page := await audit_log(client, first=200))["totalCount"] < count:
            await asyncio.sleep(0.05)
    return [edge["node"] for edge in page["edges"]]


def recompute(entries: list[dict[str, Any]]) -> None:
    """The contract's hash rule, applied to `auditLog`'s output alone."""
    previous = ZEROS
    for entry in entries:
        fields = {k: entry[k] for k in ("id", "at", "actor", "action", "taskId", "changes")}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert entry["previousHash"] == previous
        assert entry["hash"] == hashlib.sha256((previous + canonical).encode()).hexdigest()
        previous = entry["hash"]


async def test_every_mutation_is_chained_and_verifies(carol: GraphQLClient) -> None:
    me = (await carol.data("{ me { id } }"))["me"]["id"]
    task = (
        await carol.data(
            'mutation { createTask(input: {title: "Tée ☕", tags: ["home"], '
            'dueAt: "2030-01-02T09:00:00Z", reminders: [{beforeDue: 10}]}) '
            "{ id tags { id } reminders { id } } }"
        )
    )["createTask"]
    await carol.data(
        f'mutation {{ updateTask(id: "{task["id"]}", input: {{title: "Tea"}}) {{ id }} }}'
    )
    await carol.data(
        f'mutation {{ snoozeReminder(id: "{task["reminders"][0]["id"]}", minutes: 5) {{ id }} }}'
    )
    await carol.data(
        f'mutation {{ renameTag(id: "{task["tags"][0]["id"]}", name: "house") {{ id }} }}'
    )
    hook = (
        await carol.data(
            'mutation { registerWebhook(url: "https://93.184.215.14/hook") { webhook { id } } }'
        )
    )["registerWebhook"]["webhook"]["id"]
    await carol.data(f'mutation {{ deleteWebhook(id: "{hook}") }}')
    await carol.data(f'mutation {{ completeTask(id: "{task["id"]}") {{ id }} }}')
    await carol.data(f'mutation {{ reopenTask(id: "{task["id"]}") {{ id }} }}')
    await carol.data(f'mutation {{ deleteTask(id: "{task["id"]}") }}')
    expected = [
        "task.created",
        "task.updated",
        "task.updated",  # the snooze
        "task.updated",  # the task renamed with its tag
        "tag.renamed",
        "webhook.registered",
        "webhook.deleted",
        "task.completed",
        "task.reopened",
        "task.deleted",
    ]
    entries = await wait_for_entries(carol, len(expected))
    assert sorted(e["action"] for e in entries) == sorted(expected)
    assert {e["actor"] for e in entries} == {me}
    created = next(e for e in entries if e["action"] == "task.created")
    assert created["changes"]["task"]["title"] == "Tée ☕" and created["taskId"] == task["id"]
    updated = next(e for e in entries if e["action"] == "task.updated")
    assert updated["changes"]["title"] == {"before": "Tée ☕", "after": "Tea"}
    recompute(entries)
    verification = await carol.data("{ verifyAuditLog { ok checked firstBroken } }")
    assert verification["verifyAuditLog"] == {
        "ok": True,
        "checked": len(expected),
        "firstBroken": None,
    }
    by_task = await audit_log(carol, task=task["id"])
    assert {e["node"]["action"] for e in by_task["edges"]} >= {"task.created", "task.deleted"}
    assert all(e["node"]["taskId"] == task["id"] for e in by_task["edges"])


async def test_work_done_by_a_service_names_the_service(carol: GraphQLClient) -> None:
    created = (
        await carol.data(
            'mutation { createTask(input: {title: "Daily", dueAt: "2030-01-02T09:00:00Z", '
            'recurrence: {rule: "FREQ=DAILY"}}) { id } }'
        )
    )["createTask"]
    await carol.data(f'mutation {{ completeTask(id: "{created["id"]}") {{ id }} }}')
    entries = await wait_for_entries(carol, 3)
    assert entries[-1]["actor"] == "recurrence" and entries[-1]["action"] == "task.created"
    assert entries[-1]["taskId"] != created["id"]
    recompute(entries)


async def test_paging_filters_and_isolation(carol: GraphQLClient, system: Any) -> None:
    for n in range(5):
        await carol.data(f'mutation {{ createTask(input: {{title: "t{n}"}}) {{ id }} }}')
    entries = await wait_for_entries(carol, 5)
    seen: list[str] = []
    after = None
    while True:
        page = await audit_log(carol, first=2, after=after)
        seen.extend(e["node"]["id"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["id"] for e in entries]
    window = await audit_log(carol, **{"from": entries[1]["at"], "to": entries[3]["at"]})
    assert [e["node"]["id"] for e in window["edges"]] == seen[1:4]
    bad = await carol.error(LOG, {"first": 0})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["message"].startswith("first")
    cursor = await carol.error(LOG, {"after": "not-a-cursor"})
    assert cursor["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await audit_log(carol, task="not-an-id"))["totalCount"] == 0
    dave = GraphQLClient(system)
    await dave.sign_up()
    assert (await audit_log(dave))["totalCount"] == 0
    assert (await audit_log(dave, task=entries[0]["taskId"]))["totalCount"] == 0
    assert (await dave.data("{ verifyAuditLog { ok checked } }"))["verifyAuditLog"] == {
        "ok": True,
        "checked": 0,
    }


async def test_an_unreachable_audit_service_is_an_internal_error_without_details(
    alice: GraphQLClient,
) -> None:
    # `alice` talks to a gateway running without the audit service beside it.
    error = await alice.error("{ verifyAuditLog { ok } }")
    assert error["extensions"]["code"] == "INTERNAL"
    assert "audit" in error["message"] and "internal" not in error["message"]


def audit_key(settings: Settings) -> bytes:
    """The audit service's signing key in these tests (derived from the JWT key)."""
    assert settings.jwt_secret is not None
    return trail.signing_key(audit_key=None, jwt_secret=settings.jwt_secret.get_secret_value())


def report_env(settings: Settings, database_url: str) -> dict[str, str]:
    """The environment of `taskstream audit report` against the test system."""
    assert settings.jwt_secret is not None
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TASKSTREAM_JWT_SECRET": settings.jwt_secret.get_secret_value(),
    }


async def test_compliance_report_exports_the_trail_with_its_verification(
    carol: GraphQLClient, database_url: str, settings: Settings
) -> None:
    me = (await carol.data("{ me { id email } }"))["me"]
    await carol.data('mutation { createTask(input: {title: "Report me, «bitte»"}) { id } }')
    await carol.data('mutation { createTask(input: {title: "And me"}) { id } }')
    entries = await wait_for_entries(carol, 2)
    env = report_env(settings, database_url)

    async def report(*args: str) -> tuple[int, str, str]:
        return await taskstream_cli("audit", "report", *args, env=env)

    code, out, err = await report("--user", me["email"].upper(), "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["user"] == {"id": me["id"], "email": me["email"]}
    assert body["verification"] == {
        "ok": True,
        "checked": 2,
        "firstBroken": None,
        "headMismatch": None,
        "reason": None,
    }
    assert body["head"]["seq"] == 2 and body["head"]["hash"] == entries[-1]["hash"]
    assert body["checkpoints"] == [] and body["retentionDays"] == 365
    assert [e["hash"] for e in body["entries"]] == [e["hash"] for e in entries]
    recompute(body["entries"])
    code, out, err = await report("--user", me["email"], "--format", "csv", "--from", "2000-01-01")
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("# verification: ok; checked 2") for line in lines)
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert lines[header].startswith("id,at,actor,action,task_id,changes")
    assert len(lines) - header - 1 == 2 and "«bitte»" in out
    code, out, _ = await report("--user", me["email"], "--to", "2000-01-01")
    assert code == 0 and json.loads(out)["entries"] == []
    code, _, err = await report("--user", "nobody@example.com")
    assert code == 2 and "nobody@example.com" in err


async def test_retention_keeps_a_trail_verifying_and_removing_its_newest_entry_breaks_it(
    carol: GraphQLClient, engine: AsyncEngine, settings: Settings
) -> None:
    for title in ("One", "Two", "Three"):
        await carol.data(f'mutation {{ createTask(input: {{title: "{title}"}}) {{ id }} }}')
    entries = await wait_for_entries(carol, 3)
    verify = "{ verifyAuditLog { ok checked firstBroken reason } }"
    # Retention run a period after the second entry removes the first, checkpointed.
    second = datetime.fromisoformat(entries[1]["at"])
    keep = timedelta(days=settings.audit_retention_days)
    assert (
        await trail.apply_retention(engine, now=second + keep, keep=keep, key=audit_key(settings))
        >= 1
    )
    assert (await carol.data(verify))["verifyAuditLog"] == {
        "ok": True,
        "checked": 2,
        "firstBroken": None,
        "reason": None,
    }
    # The table's owner can switch the append-only trigger off; the chain head still tells.
    async with engine.begin() as connection:
        await connection.execute(text("ALTER TABLE audit.entries DISABLE TRIGGER USER"))
        await connection.execute(
            text("DELETE FROM audit.entries WHERE id = :id"), {"id": entries[-1]["id"]}
        )
        await connection.execute(text("ALTER TABLE audit.entries ENABLE TRIGGER USER"))
    assert (await carol.data(verify))["verifyAuditLog"] == {
        "ok": False,
        "checked": 1,
        "firstBroken": None,
        "reason": "the chain ends at entry 2 but its head is at entry 3 (newest entries removed)",
    }


def test_up_signs_the_trail_with_the_key_it_keeps_in_its_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    running = Running(data_dir)
    try:
        signed = up_graphql(
            running.url,
            'mutation { signUp(email: "keyed@example.com", password: "long enough") { token } }',
        )
        token = signed["data"]["signUp"]["token"]  # type: ignore[index]
        up_graphql(running.url, 'mutation { createTask(input: {title: "signed"}) { id } }', token)
        deadline = time.monotonic() + 5.0
        while True:
            found = up_graphql(running.url, "{ verifyAuditLog { ok checked } }", token)
            if found["data"]["verifyAuditLog"]["checked"] >= 1 or time.monotonic() > deadline:  # type: ignore[index]
                break
            time.sleep(0.05)
        assert found["data"] == {"verifyAuditLog": {"ok": True, "checked": 1}}
    finally:
        assert running.stop(signal.SIGTERM) == 0, "".join(running.output)
    key_file = data_dir / "secrets" / "audit-signing-key"
    assert key_file.stat().st_mode & 0o077 == 0
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TASKSTREAM_JWT_SECRET")
    }
    command = [
        str(Path(sys.executable).with_name("taskstream")),
        "audit",
        "report",
        "--user",
        "keyed@example.com",
        "--data-dir",
        str(data_dir),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["head"]["seq"] == 1
    # The report checks the signatures with that key: with another one the chain fails.
    key_file.write_text("another key, not the one the trail was signed with")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert json.loads(done.stdout)["verification"]["reason"] == (
        "the chain's head is not signed with the audit key (the head was altered)"
    )
