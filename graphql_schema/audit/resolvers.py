"""Audit types and queries.

The audit service owns the trail; the gateway asks it through service invocation (Dapr, or
in-process in `up`) and never reads its tables.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import strawberry

from contracts import audit as api
from contracts.audit import AUDIT_PAGE_MAX
from graphql_schema.context import Info
from graphql_schema.node import After, Node, PageInfo, PageSize
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import JSON, DateTime, parse_datetime
from taskstream.errors import InvalidInput, TaskstreamError
from taskstream.invocation import ServiceUnavailable
from taskstream.persistence.cursors import check_cursor_text

log = logging.getLogger(__name__)

T = TypeVar("T")


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
    def of(cls, entry: api.AuditEntry) -> AuditEntry:
        """An entry as the audit service's internal API answers it."""
        return cls(
            id=strawberry.ID(entry.id),
            at=parse_datetime(entry.at),
            actor=entry.actor,
            action=entry.action,
            task_id=None if entry.task_id is None else strawberry.ID(entry.task_id),
            changes=entry.changes,
            hash=entry.hash,
            previous_hash=entry.previous_hash,
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
        request = api.ListAuditEntries(
            user_id=info.context.require_user(),
            task_id=None if task_id is None else uuid.UUID(task_id),
            from_=from_,
            to=to,
            first=100 if first is None else first,
            after=None if after is None else check_cursor_text(after),
        )
        page = await _ask_audit(info.context.services.audit.list_entries(request))
        return AuditConnection(
            edges=[
                AuditEdge(cursor=edge.cursor, node=AuditEntry.of(edge.node)) for edge in page.edges
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
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
        verified = await _ask_audit(
            info.context.services.audit.verify(
                api.VerifyAuditTrail(user_id=info.context.require_user())
            )
        )
        return AuditVerification(
            ok=verified.ok,
            checked=verified.checked,
            first_broken=None
            if verified.first_broken is None
            else strawberry.ID(verified.first_broken),
            reason=verified.reason,
        )


async def _ask_audit(call: Awaitable[T]) -> T:
    """The audit service's answer about the caller's trail."""
    try:
        return await call
    except ServiceUnavailable as error:
        log.warning("audit service unavailable: %s", error.message)
        # The reason may name internal addresses: keep it in the log, not in the answer.
        raise TaskstreamError("the audit trail is unavailable right now; try again") from error
