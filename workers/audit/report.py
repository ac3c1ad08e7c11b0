"""The compliance report: one user's (or one shared project's) audit trail over a period, with
the chain's verification.

The user is found by email through the gateway's internal API (the audit service does not
read the gateway's tables); the trail and its verification come from the audit tables. A
project's report needs only its id: its chain is the audit service's own (kept under
`trail.project_chain(id)`, the id its head and checkpoints are signed for), and it stays
reportable after the project is deleted, until retention removes it.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.gateway_api import FindUser, GatewayClient
from workers.audit import trail
from workers.audit.domain import (
    AuditRecord,
    Checkpoint,
    Head,
    Verification,
    canonical_json,
    format_at,
)

CSV_COLUMNS = ["id", "at", "actor", "action", "task_id", "changes", "previous_hash", "hash"]


def parse_bound(value: str, *, end: bool) -> datetime:
    """A date (the whole day, in UTC) or an RFC 3339 time with an offset."""
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time.min, tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{value!r} is neither a date (2026-01-31) nor an RFC 3339 time"
        ) from error
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} needs an offset such as Z or +01:00")
    return parsed


@dataclass(frozen=True, slots=True)
class Report:
    """What a compliance export says."""

    user_id: str
    email: str
    period_from: datetime | None
    period_to: datetime | None
    generated_at: datetime
    chain_start: str
    verification: Verification
    entries: list[AuditRecord]
    # What an offline check of the whole trail needs beside the entries: the retention
    # checkpoints (a chain anyone can recompute), the stored head and the retention period.
    checkpoints: list[Checkpoint]
    head: Head | None
    retention_days: int
    # Set for a project's report: `user_id` is then the project's chain id (what its head and
    # checkpoints are signed for) and `email` is empty.
    project_id: str | None = None

    def _whose(self) -> dict[str, Any]:
        if self.project_id is not None:
            return {"project": {"id": self.project_id, "chainId": self.user_id}}
        return {"user": {"id": self.user_id, "email": self.email}}

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            **self._whose(),
            "from": None if self.period_from is None else format_at(self.period_from),
            "to": None if self.period_to is None else format_at(self.period_to),
            "generatedAt": format_at(self.generated_at),
            "chainStart": self.chain_start,
            "retentionDays": self.retention_days,
            "checkpoints": [checkpoint.to_json() for checkpoint in self.checkpoints],
            "head": None if self.head is None else self.head.to_json(),
            "verification": self.verification.to_json(),
            "entries": [record.to_json() for record in self.entries],
        }

    def render(self, kind: str) -> str:
        """The report as `json` or `csv` text."""
        if kind == "json":
            return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"
        if kind == "csv":
            return self._csv()
        raise ValueError(f"unknown format {kind!r}; use csv or json")

    def _csv(self) -> str:
        out = io.StringIO()
        summary = self.to_json()
        # Comment lines first: who, which period, and whether the whole chain verifies.
        if self.project_id is not None:
            out.write(f"# project: {self.project_id} (chain {self.user_id})\n")
        else:
            out.write(f"# user: {self.email} ({self.user_id})\n")
        out.write(f"# from: {summary['from'] or '-'}  to: {summary['to'] or '-'}\n")
        out.write(f"# generated at: {summary['generatedAt']}\n")
        out.write(f"# chain start: {self.chain_start}\n")
        out.write(f"# retention days: {self.retention_days}\n")
        for checkpoint in summary["checkpoints"]:
            out.write(f"# checkpoint: {canonical_json(checkpoint)}\n")
        out.write(f"# head: {canonical_json(summary['head'])}\n")
        v = self.verification
        out.write(
            f"# verification: {'ok' if v.ok else 'BROKEN'}; checked {v.checked}"
            + (f"; first broken {v.first_broken}" if v.first_broken else "")
            + (f"; {v.reason}" if v.reason else "")
            + "\n"
        )
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for record in self.entries:
            body = record.to_json()
            writer.writerow(
                [
                    body["id"],
                    body["at"],
                    body["actor"],
                    body["action"],
                    body["taskId"] or "",
                    canonical_json(body["changes"]),
                    body["previousHash"],
                    body["hash"],
                ]
            )
        return out.getvalue()


async def compliance_report(
    *,
    engine: AsyncEngine,
    gateway: GatewayClient,
    email: str,
    key: bytes,
    retention: timedelta,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Report:
    """The user's entries in the period and the verification of their whole chain."""
    user = await gateway.find_user(FindUser(email=email))
    return await _chain_report(
        engine,
        user.id,
        email=user.email,
        key=key,
        retention=retention,
        period_from=period_from,
        period_to=period_to,
    )


async def project_report(
    *,
    engine: AsyncEngine,
    project_id: uuid.UUID,
    key: bytes,
    retention: timedelta,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Report:
    """A shared project's entries in the period and the verification of its whole chain."""
    return await _chain_report(
        engine,
        trail.project_chain(project_id),
        email="",
        key=key,
        retention=retention,
        period_from=period_from,
        period_to=period_to,
        project_id=str(project_id),
    )


async def _chain_report(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    *,
    email: str,
    key: bytes,
    retention: timedelta,
    period_from: datetime | None,
    period_to: datetime | None,
    project_id: str | None = None,
) -> Report:
    """The report of one chain (a user's, or a project's under its chain id)."""
    records: list[AuditRecord] = []
    after: str | None = None
    async with engine.connect() as connection:
        while True:
            found = await trail.page(
                connection,
                user_id=user_id,
                from_=period_from,
                to=period_to,
                first=trail.VERIFY_BATCH,
                after=after,
            )
            records.extend(record for _, record in found.records)
            if not found.has_next_page:
                break
            after = found.records[-1][0]
        start = await trail.chain_start(connection, user_id)
        checkpoints = await trail.checkpoints_of(connection, user_id)
        head = await trail.head_of(connection, user_id)
    return Report(
        user_id=str(user_id),
        email=email,
        period_from=period_from,
        period_to=period_to,
        generated_at=datetime.now(UTC),
        chain_start=start,
        verification=await trail.verify(engine, user_id, key=key, retention=retention),
        entries=records,
        checkpoints=checkpoints,
        head=head,
        retention_days=int(retention / timedelta(days=1)),
        project_id=project_id,
    )
