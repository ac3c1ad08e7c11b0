"""The audit service's internal API: a user's trail, a project's trail, and their verification.

The gateway asks it to answer `auditLog`, `verifyAuditLog`, `auditLogOfProject` and
`verifyProjectAuditLog`; it never reads the audit tables. The gateway checks that the caller
is a member of the project before it asks about a project's trail: the audit service does not
know who belongs to a project.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, Field

from contracts.invocation import Answer, Request
from taskstream.invocation import Endpoint, ServiceInvoker
from taskstream.persistence.cursors import CURSOR_MAX

SERVICE = "audit"

# The largest page of entries one call returns.
AUDIT_PAGE_MAX = 200


class ListAuditEntries(Request):
    """A page of the user's entries in chain order (oldest first), filtered."""

    user_id: uuid.UUID
    task_id: uuid.UUID | None = None
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    first: int = Field(default=100, ge=1, le=AUDIT_PAGE_MAX)
    after: str | None = Field(default=None, max_length=CURSOR_MAX)


class VerifyAuditTrail(Request):
    """Recompute the user's whole chain."""

    user_id: uuid.UUID


class ListProjectAuditEntries(Request):
    """A page of a project's entries in chain order (oldest first), filtered."""

    project_id: uuid.UUID
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    first: int = Field(default=100, ge=1, le=AUDIT_PAGE_MAX)
    after: str | None = Field(default=None, max_length=CURSOR_MAX)


class VerifyProjectAuditTrail(Request):
    """Recompute the project's whole chain."""

    project_id: uuid.UUID


class AuditEntry(Answer):
    """One entry as it was chained: `at` is the text that was hashed, kept as it is.

    `project_id` (not hashed) is the project the change happened in, null for the personal
    space; every entry of a project's chain has it.
    """

    id: str
    at: str
    actor: str
    action: str
    task_id: str | None
    changes: Any
    previous_hash: str
    hash: str
    project_id: str | None = None


class AuditEdge(Answer):
    """An entry and its cursor."""

    cursor: str
    node: AuditEntry


class AuditPage(Answer):
    """A page of entries with the exact total of the filter."""

    edges: list[AuditEdge]
    has_next_page: bool
    end_cursor: str | None
    total_count: int


class AuditVerification(Answer):
    """The outcome of recomputing a chain."""

    ok: bool
    checked: int
    first_broken: str | None = None
    head_mismatch: str | None = None
    reason: str | None = None


LIST_AUDIT_ENTRIES = Endpoint(
    SERVICE, "GET", "/internal/audit/{userId}/entries", ListAuditEntries, AuditPage
)
VERIFY_AUDIT_TRAIL = Endpoint(
    SERVICE, "GET", "/internal/audit/{userId}/verification", VerifyAuditTrail, AuditVerification
)

LIST_PROJECT_AUDIT_ENTRIES = Endpoint(
    SERVICE,
    "GET",
    "/internal/audit/projects/{projectId}/entries",
    ListProjectAuditEntries,
    AuditPage,
)
VERIFY_PROJECT_AUDIT_TRAIL = Endpoint(
    SERVICE,
    "GET",
    "/internal/audit/projects/{projectId}/verification",
    VerifyProjectAuditTrail,
    AuditVerification,
)


class AuditClient:
    """Calls the audit service's internal API (through Dapr, or in-process in `up`)."""

    def __init__(self, invoker: ServiceInvoker) -> None:
        self._invoker = invoker

    async def list_entries(self, request: ListAuditEntries) -> AuditPage:
        """A page of the user's entries."""
        return await self._invoker.invoke(LIST_AUDIT_ENTRIES, request)

    async def verify(self, request: VerifyAuditTrail) -> AuditVerification:
        """The verification of the user's whole chain."""
        return await self._invoker.invoke(VERIFY_AUDIT_TRAIL, request)

    async def list_project_entries(self, request: ListProjectAuditEntries) -> AuditPage:
        """A page of the project's entries (the caller checked membership)."""
        return await self._invoker.invoke(LIST_PROJECT_AUDIT_ENTRIES, request)

    async def verify_project(self, request: VerifyProjectAuditTrail) -> AuditVerification:
        """The verification of the project's whole chain (the caller checked membership)."""
        return await self._invoker.invoke(VERIFY_PROJECT_AUDIT_TRAIL, request)
