"""Audit types and queries.

The audit service owns the trail; the gateway asks it through service invocation (Dapr, or
in-process in `up`) and never reads its tables.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

import strawberry

from gateway_core.persistence.reads import PAGE_MAX
from graphql_schema.context import Info
from graphql_schema.node import After, Node, PageInfo, PageSize
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import JSON, DateTime, parse_datetime
from taskstream.errors import InvalidInput, TaskstreamError
from taskstream.invocation import ServiceUnavailable
from taskstream.persistence.cursors import check_cursor_text

log = logging.getLogger(__name__)

AUDIT_PAGE_MAX = PAGE_MAX


@strawberry.type(
    name="AuditEntry", description="One change, as recorded in the append-only, hash-chained trail."
)
class AuditEntry(Node):
    """One change, as recorded in the append-only trail."""

    id: strawberry.ID = strawberry.field(
        description="The entry's id (derived from its event's id)."
    )
    at: DateTime = strawberry.field(description="When the change happened (the event's time).")
    actor: str = strawberry.field(
        description="The user id, or the service name for work done by a service."
    )
    action: str = strawberry.field(
        description=(
            "e.g. task.created, task.updated, task.completed, task.deleted, reminder.sent."
        )
    )
    task_id: strawberry.ID | None = strawberry.field(
        description="The task concerned; null for tag and webhook entries."
    )
    changes: JSON = strawberry.field(
        description="What changed: for an update, the fields with their values before and after."
    )
    hash: str = strawberry.field(
        description="Hex SHA-256 linking this entry to the previous entry of the same user."
    )
    previous_hash: str = strawberry.field(
        description=(
            "The hash this entry follows: the previous entry's, 64 zeros for a user's first "
            "entry, or the retention checkpoint's. With it each entry can be checked alone."
        )
    )

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AuditEntry:
        """An entry as the audit service's internal API spells it."""
        return cls(
            id=strawberry.ID(body["id"]),
            at=parse_datetime(body["at"]),
            actor=body["actor"],
            action=body["action"],
            task_id=None if body["taskId"] is None else strawberry.ID(body["taskId"]),
            changes=body["changes"],
            hash=body["hash"],
            previous_hash=body["previousHash"],
        )


@strawberry.type(name="AuditEdge", description="An audit entry and its cursor.")
class AuditEdge:
    """An entry and its cursor."""

    cursor: str = strawberry.field(description="Opaque cursor of this entry, for `after`.")
    node: AuditEntry = strawberry.field(description="The entry.")


@strawberry.type(name="AuditConnection", description="A page of audit entries, oldest first.")
class AuditConnection:
    """A page of audit entries."""

    edges: list[AuditEdge] = strawberry.field(description="The entries of this page.")
    page_info: PageInfo = strawberry.field(description="Whether and where the list goes on.")
    total_count: int = strawberry.field(description="How many entries match, in all pages.")


@strawberry.type(
    name="AuditVerification", description="The result of recomputing the caller's hash chain."
)
class AuditVerification:
    """The result of recomputing the caller's hash chain."""

    ok: bool = strawberry.field(
        description=(
            "true when every remaining entry's hash matches, the entries follow the signed chain "
            "of retention checkpoints, and the chain ends at the signed head the audit service "
            "stored (so removed newest or oldest entries are noticed too)."
        )
    )
    checked: int = strawberry.field(description="How many entries were recomputed.")
    first_broken: strawberry.ID | None = strawberry.field(
        description=(
            "Id of the first entry whose hash does not match, when ok is false; null when every "
            "entry matches but the newest ones were removed."
        )
    )
    reason: str | None = strawberry.field(
        default=None,
        description=(
            "Why the chain does not verify, when ok is false: an altered or out-of-place entry, "
            "removed newest entries, a retention checkpoint that is out of sequence, altered, "
            "not signed by the audit service or removed entries younger than the retention "
            "period, or an altered chain head. Null when ok."
        ),
    )


@strawberry.type
class AuditQueries:
    """The caller's audit trail."""

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A page of the caller's audit entries in chain order (oldest first).",
    )
    async def audit_log(
        self,
        info: Info,
        task_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only entries about this task.")
        ] = None,
        from_: Annotated[
            DateTime | None,
            strawberry.argument(name="from", description="Only entries at or after this time."),
        ] = None,
        to: Annotated[
            DateTime | None, strawberry.argument(description="Only entries at or before this time.")
        ] = None,
        first: PageSize = 100,
        after: After = None,
    ) -> AuditConnection:
        """A page of the caller's audit entries, oldest first."""
        if first is not None and not 1 <= first <= AUDIT_PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {AUDIT_PAGE_MAX}")
        if from_ is not None and to is not None and from_ > to:
            raise InvalidInput("from", "must not be after to")
        if task_id is not None:
            try:
                uuid.UUID(task_id)
            except ValueError:
                # No task has such an id: nothing was recorded about it.
                return AuditConnection(
                    edges=[],
                    page_info=PageInfo(has_next_page=False, end_cursor=None),
                    total_count=0,
                )
        params = {
            "taskId": task_id,
            "from": None if from_ is None else from_.isoformat(),
            "to": None if to is None else to.isoformat(),
            "first": 100 if first is None else first,
            "after": None if after is None else check_cursor_text(after),
        }
        body = await _ask_audit(
            info,
            "entries",
            params={k: v for k, v in params.items() if v is not None},
        )
        return AuditConnection(
            edges=[
                AuditEdge(cursor=edge["cursor"], node=AuditEntry.from_json(edge["node"]))
                for edge in body["edges"]
            ],
            page_info=PageInfo(has_next_page=body["hasNextPage"], end_cursor=body["endCursor"]),
            total_count=body["totalCount"],
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Recomputes the caller's whole chain from its retention checkpoints, and checks the "
            "checkpoints and the chain's head."
        ),
    )
    async def verify_audit_log(self, info: Info) -> AuditVerification:
        """Recompute the caller's chain."""
        body = await _ask_audit(info, "verification")
        return AuditVerification(
            ok=body["ok"],
            checked=body["checked"],
            first_broken=None
            if body["firstBroken"] is None
            else strawberry.ID(body["firstBroken"]),
            reason=body.get("reason"),
        )


async def _ask_audit(info: Info, what: str, *, params: dict[str, Any] | None = None) -> Any:
    """The audit service's answer about the caller's trail."""
    user_id = info.context.require_user()
    try:
        return await info.context.services.invoker.call(
            "audit", "GET", f"/internal/audit/{user_id}/{what}", params=params
        )
    except ServiceUnavailable as error:
        log.warning("audit service unavailable: %s", error.message)
        # The reason may name internal addresses: keep it in the log, not in the answer.
        raise TaskstreamError("the audit trail is unavailable right now; try again") from error
