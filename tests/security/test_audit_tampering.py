"""Tampering with the audit trail by someone who can write to the database (issue 13).

Each way of rewriting history is tried on its own user's trail of the whole in-process system,
and both `verifyAuditLog` and `taskstream audit report` must say the chain is broken, and why.
The attacker writes with plain SQL (the triggers on) where the database lets them, and behind
the triggers' back (as the tables' owner or a superuser can) where it does not; they never hold
the audit key.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_audit_flow import audit_key, report_env, wait_for_entries
from workers.audit import trail
from workers.audit.domain import GENESIS_HASH, Checkpoint, checkpoint_signature
from workers.audit.tables import chain_heads, checkpoints, entries

pytestmark = pytest.mark.e2e

VERIFY = "{ verifyAuditLog { ok checked firstBroken reason } }"


@dataclass
class Trail:
    """A user of the system with three audit entries."""

    client: GraphQLClient
    user_id: uuid.UUID
    email: str
    nodes: list[dict[str, Any]]


async def new_trail(whole: httpx.AsyncClient) -> Trail:
    """A new user who made three changes, and their entries once recorded."""
    client = GraphQLClient(whole)
    me = await client.sign_up()
    for title in ("One", "Two", "Three"):
        await client.data(f'mutation {{ createTask(input: {{title: "{title}"}}) {{ id }} }}')
    return Trail(client, uuid.UUID(me["id"]), me["email"], await wait_for_entries(client, 3))


async def behind_the_triggers_back(engine: AsyncEngine, *statements: Executable) -> None:
    """Statements run with the audit tables' triggers switched off (owner or superuser)."""
    tables = ("entries", "checkpoints", "chain_heads")
    async with engine.begin() as connection:
        for table in tables:
            await connection.execute(text(f"ALTER TABLE audit.{table} DISABLE TRIGGER USER"))
        for statement in statements:
            await connection.execute(statement)
        for table in tables:
            await connection.execute(text(f"ALTER TABLE audit.{table} ENABLE TRIGGER USER"))


def seq_of(user: Trail, seq: int) -> Any:
    """The condition selecting one of the user's entries by position."""
    return (entries.c.user_id == user.user_id) & (entries.c.seq == seq)


async def report(settings: Settings, database_url: str, email: str) -> tuple[int, dict[str, Any]]:
    """Exit status and JSON of `taskstream audit report` for one user."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("taskstream")),
        "audit",
        "report",
        "--user",
        email,
        env=report_env(settings, database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None, err
    return process.returncode, json.loads(out)


async def test_every_tampering_is_found_by_verify_audit_log_and_the_report(
    whole: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, database_url: str
) -> None:
    key = audit_key(settings)
    keep = timedelta(days=settings.audit_retention_days)
    expected: dict[str, tuple[Trail, str | None, str]] = {}

    # Retention run with a period of 0 (signed: the audit key's own mistake): a checkpoint
    # over entries younger than the period in force. Runs first, as retention is global.
    young = await new_trail(whole)
    newest = datetime.fromisoformat(young.nodes[-1]["at"])
    assert (
        await trail.apply_retention(
            engine, now=newest + timedelta(microseconds=1), keep=timedelta(0), key=key
        )
        >= 3
    )
    expected["young checkpoint"] = (
        young,
        None,
        "checkpoint 1 (entries 1 to 3) removed entries younger than the retention period of "
        "365 days",
    )

    # Legitimate retention a period later verifies; then its checkpoint is modified.
    pruned = await new_trail(whole)
    later = datetime.fromisoformat(pruned.nodes[-1]["at"]) + keep + timedelta(seconds=1)
    assert await trail.apply_retention(engine, now=later, keep=keep, key=key) >= 3
    assert (await pruned.client.data(VERIFY))["verifyAuditLog"] == {
        "ok": True,
        "checked": 0,
        "firstBroken": None,
        "reason": None,
    }
    code, body = await report(settings, database_url, pruned.email)
    assert code == 0 and body["verification"]["ok"] and len(body["checkpoints"]) == 1
    await behind_the_triggers_back(
        engine,
        checkpoints.update()
        .where(checkpoints.c.user_id == pruned.user_id)
        .values(created_at=later + timedelta(days=30)),
    )
    expected["modified checkpoint"] = (
        pruned,
        None,
        "checkpoint 1 (entries 1 to 3) was altered: its digest does not match its fields",
    )

    # The probe: a checkpoint inserted and the entries it claims deleted, plain SQL.
    forged = await new_trail(whole)
    at = datetime.fromisoformat(forged.nodes[1]["at"])
    fake = Checkpoint(
        number=1,
        from_seq=1,
        through_seq=2,
        hash=forged.nodes[1]["hash"],
        removed=2,
        newest_at=at,
        cutoff=at + timedelta(microseconds=1),
        created_at=at + keep + timedelta(days=1),
        previous=GENESIS_HASH,
        digest=None,
        signature=None,
    )
    digest = fake.expected_digest(str(forged.user_id))
    async with engine.begin() as connection:
        await connection.execute(
            insert(checkpoints).values(
                user_id=forged.user_id,
                number=1,
                from_seq=1,
                through_seq=2,
                hash=fake.hash,
                removed=2,
                newest_at=fake.newest_at,
                oldest_kept_after=fake.cutoff,
                created_at=fake.created_at,
                previous_checkpoint=GENESIS_HASH,
                digest=digest,
                signature=checkpoint_signature(
                    b"a key that is not the audit key", user_id=str(forged.user_id), digest=digest
                ),
            )
        )
        await connection.execute(
            entries.delete().where(entries.c.user_id == forged.user_id, entries.c.seq <= 2)
        )
    expected["forged checkpoint"] = (
        forged,
        None,
        "checkpoint 1 (entries 1 to 2) is not signed with the audit key (forged or altered)",
    )

    # The newest entry removed (a suffix), behind the triggers' back.
    suffix = await new_trail(whole)
    await behind_the_triggers_back(engine, entries.delete().where(seq_of(suffix, 3)))
    expected["suffix"] = (
        suffix,
        None,
        "the chain ends at entry 2 but its head is at entry 3 (newest entries removed)",
    )

    # The suffix and the head moved back with it.
    rolled = await new_trail(whole)
    await behind_the_triggers_back(
        engine,
        entries.delete().where(seq_of(rolled, 3)),
        chain_heads.update()
        .where(chain_heads.c.user_id == rolled.user_id)
        .values(last_seq=2, last_hash=rolled.nodes[1]["hash"]),
    )
    expected["head moved back"] = (
        rolled,
        None,
        "the chain's head is not signed with the audit key (the head was altered)",
    )

    # The oldest entry removed without a checkpoint (a prefix).
    prefix = await new_trail(whole)
    await behind_the_triggers_back(engine, entries.delete().where(seq_of(prefix, 1)))
    expected["prefix"] = (
        prefix,
        prefix.nodes[1]["id"],
        "the entry does not follow the one before it",
    )

    # Two entries swapped.
    swapped = await new_trail(whole)

    def move(seq: int, to: int) -> Executable:
        return entries.update().where(seq_of(swapped, seq)).values(seq=to)

    await behind_the_triggers_back(engine, move(1, 0), move(2, 1), move(0, 2))
    expected["reordered"] = (
        swapped,
        swapped.nodes[1]["id"],
        "the entry does not follow the one before it",
    )

    reports = await asyncio.gather(
        *(report(settings, database_url, user.email) for user, _, _ in expected.values())
    )
    for (case, (user, broken, reason)), (code, body) in zip(expected.items(), reports, strict=True):
        found = (await user.client.data(VERIFY))["verifyAuditLog"]
        assert not found["ok"] and found["firstBroken"] == broken, case
        assert found["reason"].startswith(reason), (case, found)
        assert code == 1, case
        assert body["verification"]["reason"] == found["reason"], case
        assert body["verification"]["firstBroken"] == broken, case
