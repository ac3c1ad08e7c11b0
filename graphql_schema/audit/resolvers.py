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
from gateway_core.persistence import projects as project_reads
from gateway_core.persistence.actors import emails_of
from graphql_schema.context import Info
from graphql_schema.ids import parse_id
from graphql_schema.node import After, Node, PageInfo, PageSize
from graphql_schema.permissions import IsAuthenticated
from graphql_schema.projects.types import PublicUser
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
    actor_user: PublicUser | None = strawberry.field(
        default=None,
        description=(
            "Who made the change, when it was a user (`actor` is their id) whose account "
            "still exists; null for work done by a service."
        ),
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "The shared project the change happened in; null in the personal space. Not "
            "hashed: the hash rule covers id, at, actor, action, taskId and changes."
        ),
    )

    @classmethod
    def of(cls, entry: api.AuditEntry, actors: dict[uuid.UUID, str] | None = None) -> AuditEntry:
        """An entry as the audit service's internal API answers it, its actor's email from
        `actors` (user id -> email)."""
        actor_id = _user_id(entry.actor)
        email = None if actor_id is None or actors is None else actors.get(actor_id)
        return cls(
            id=strawberry.ID(entry.id),
            at=parse_datetime(entry.at),
            actor=entry.actor,
            action=entry.action,
            task_id=None if entry.task_id is None else strawberry.ID(entry.task_id),
            changes=entry.changes,
            hash=entry.hash,
            previous_hash=entry.previous_hash,
            actor_user=None
            if email is None
            else PublicUser(id=strawberry.ID(str(actor_id)), email=email),
            project_id=None if entry.project_id is None else strawberry.ID(entry.project_id),
        )


def _user_id(actor: str) -> uuid.UUID | None:
    """The user an actor names; None for a service's name."""
    try:
        return uuid.UUID(actor)
    except ValueError:
        return None


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
        return await _connection(info, page)

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
        return _verification(verified)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "A page of a shared project's audit entries in chain order (oldest first), for "
            "every member of the project (VIEWER included)."
        ),
    )
    async def audit_log_of_project(
        self,
        info: Info,
        project_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The id of a project the caller belongs to."),
        ],
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
        """A page of the project's audit entries, oldest first."""
        project = await _member_project(info, project_id)
        if first is not None and not 1 <= first <= AUDIT_PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {AUDIT_PAGE_MAX}")
        if from_ is not None and to is not None and from_ > to:
            raise InvalidInput("from", "must not be after to")
        request = api.ListProjectAuditEntries(
            project_id=project,
            from_=from_,
            to=to,
            first=100 if first is None else first,
            after=None if after is None else check_cursor_text(after),
        )
        page = await _ask_audit(info.context.services.audit.list_project_entries(request))
        return await _connection(info, page)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Recomputes a shared project's whole chain from its retention checkpoints, and "
            "checks the checkpoints and the chain's head; for every member of the project."
        ),
    )
    async def verify_project_audit_log(
        self,
        info: Info,
        project_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The id of a project the caller belongs to."),
        ],
    ) -> AuditVerification:
        """Recompute the project's chain."""
        project = await _member_project(info, project_id)
        verified = await _ask_audit(
            info.context.services.audit.verify_project(
                api.VerifyProjectAuditTrail(project_id=project)
            )
        )
        return _verification(verified)


async def _member_project(info: Info, project_id: str) -> uuid.UUID:
    """The project's id when the caller is a member (any role); NOT_FOUND otherwise, exactly as
    for an id that names no project."""
    parsed = parse_id(project_id, "project")
    async with info.context.services.engine.connect() as connection:
        await project_reads.project_of(connection, info.context.require_user(), parsed)
    return parsed


async def _connection(info: Info, page: api.AuditPage) -> AuditConnection:
    """The GraphQL page of an audit page, the acting users' emails read in one query."""
    actors = {found for edge in page.edges if (found := _user_id(edge.node.actor)) is not None}
    emails: dict[uuid.UUID, str] = {}
    if actors:
        async with info.context.services.engine.connect() as connection:
            emails = await emails_of(connection, actors)
    return AuditConnection(
        edges=[
            AuditEdge(cursor=edge.cursor, node=AuditEntry.of(edge.node, emails))
            for edge in page.edges
        ],
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        total_count=page.total_count,
    )


def _verification(verified: api.AuditVerification) -> AuditVerification:
    """The GraphQL view of a verification."""
    broken = verified.first_broken
    return AuditVerification(
        ok=verified.ok,
        checked=verified.checked,
        first_broken=None if broken is None else strawberry.ID(broken),
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
