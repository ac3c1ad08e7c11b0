"""Audit types and queries.

The audit worker (not yet built) owns the trail; until it exists the trail is empty, and an
empty chain verifies.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_schema.context import Info
from graphql_schema.node import Node, PageInfo
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.scalars import JSON, DateTime
from taskstream.domain.errors import InvalidInput
from taskstream.persistence.reads import PAGE_MAX

AUDIT_PAGE_MAX = PAGE_MAX


@strawberry.type(name="AuditEntry")
class AuditEntry(Node):
    """One change, as recorded in the append-only trail."""

    id: strawberry.ID
    at: DateTime
    actor: str = strawberry.field(
        description="The user id, or the service name for work done by a service."
    )
    action: str = strawberry.field(
        description=(
            "e.g. task.created, task.updated, task.completed, task.deleted, reminder.sent."
        )
    )
    task_id: strawberry.ID | None
    changes: JSON = strawberry.field(
        description="What changed: for an update, the fields with their values before and after."
    )
    hash: str = strawberry.field(
        description="Hex SHA-256 linking this entry to the previous entry of the same user."
    )


@strawberry.type(name="AuditEdge")
class AuditEdge:
    """An entry and its cursor."""

    cursor: str
    node: AuditEntry


@strawberry.type(name="AuditConnection")
class AuditConnection:
    """A page of audit entries."""

    edges: list[AuditEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(name="AuditVerification")
class AuditVerification:
    """The result of recomputing the caller's hash chain."""

    ok: bool
    checked: int
    first_broken: strawberry.ID | None = strawberry.field(
        description="Id of the first entry whose hash does not match, when ok is false."
    )


@strawberry.type
class AuditQueries:
    """The caller's audit trail."""

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def audit_log(
        self,
        info: Info,
        task_id: strawberry.ID | None = None,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> AuditConnection:
        """A page of the caller's audit entries, oldest first."""
        if first is not None and not 1 <= first <= AUDIT_PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {AUDIT_PAGE_MAX}")
        if from_ is not None and to is not None and from_ > to:
            raise InvalidInput("from", "must not be after to")
        return AuditConnection(
            edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
        )

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def verify_audit_log(self, info: Info) -> AuditVerification:
        """Recompute the caller's chain."""
        return AuditVerification(ok=True, checked=0, first_broken=None)
