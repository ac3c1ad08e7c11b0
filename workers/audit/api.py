"""The audit service's internal API: what the gateway calls to answer `auditLog`,
`verifyAuditLog`, `auditLogOfProject` and `verifyProjectAuditLog` (contracts.audit names the
routes and their models; the gateway checks project membership before it calls)."""

from __future__ import annotations

from datetime import timedelta

from starlette.routing import BaseRoute

from contracts.audit import (
    LIST_AUDIT_ENTRIES,
    LIST_PROJECT_AUDIT_ENTRIES,
    VERIFY_AUDIT_TRAIL,
    VERIFY_PROJECT_AUDIT_TRAIL,
    AuditPage,
    AuditVerification,
    ListAuditEntries,
    ListProjectAuditEntries,
    VerifyAuditTrail,
    VerifyProjectAuditTrail,
)
from taskstream.bootstrap import Runtime
from taskstream.internal_api import serve
from workers.audit import trail


def internal_routes(runtime: Runtime, *, key: bytes) -> list[BaseRoute]:
    """The routes of the audit service's internal API over this runtime."""
    token = runtime.settings.app_api_token
    app_token = token.get_secret_value() if token else None
    engine = runtime.engine
    retention = timedelta(days=runtime.settings.audit_retention_days)

    async def entries(request: ListAuditEntries) -> AuditPage:
        async with engine.connect() as connection:
            found = await trail.page(
                connection,
                user_id=request.user_id,
                task_id=request.task_id,
                from_=request.from_,
                to=request.to,
                first=request.first,
                after=request.after,
            )
        return AuditPage.model_validate(found.to_json())

    async def verification(request: VerifyAuditTrail) -> AuditVerification:
        verified = await trail.verify(engine, request.user_id, key=key, retention=retention)
        return AuditVerification.model_validate(verified.to_json())

    async def project_entries(request: ListProjectAuditEntries) -> AuditPage:
        async with engine.connect() as connection:
            found = await trail.page(
                connection,
                user_id=trail.project_chain(request.project_id),
                from_=request.from_,
                to=request.to,
                first=request.first,
                after=request.after,
            )
        return AuditPage.model_validate(found.to_json())

    async def project_verification(request: VerifyProjectAuditTrail) -> AuditVerification:
        chain = trail.project_chain(request.project_id)
        verified = await trail.verify(engine, chain, key=key, retention=retention)
        return AuditVerification.model_validate(verified.to_json())

    return [
        serve(LIST_AUDIT_ENTRIES, entries, app_token=app_token),
        serve(VERIFY_AUDIT_TRAIL, verification, app_token=app_token),
        serve(LIST_PROJECT_AUDIT_ENTRIES, project_entries, app_token=app_token),
        serve(VERIFY_PROJECT_AUDIT_TRAIL, project_verification, app_token=app_token),
    ]
