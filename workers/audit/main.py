"""Assembles the audit service: its consumer, its internal API and the retention loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from contracts.events import UserDeleted
from taskstream.bootstrap import Runtime
from taskstream.errors import InvalidInput
from taskstream.internal_api import internal, time_param, uuid_param
from taskstream.messaging.consumer import Consumer
from taskstream.service import BackgroundLoop, ServiceParts
from workers.audit import trail
from workers.audit.erasure import erase_user
from workers.audit.handlers import AuditHandlers
from workers.audit.tables import processed_events

log = logging.getLogger(__name__)

PAGE_MAX = 200
RETENTION_INTERVAL_SECONDS = 3600.0


def _time(value: str | None, field: str) -> datetime | None:
    return None if value is None else time_param(value, field)


def signing_key(runtime: Runtime) -> bytes:
    """The audit key of this runtime's settings (see trail.signing_key)."""
    settings = runtime.settings
    return trail.signing_key(
        audit_key=None if settings.audit_key is None else settings.audit_key.get_secret_value(),
        jwt_secret=None if settings.jwt_secret is None else settings.jwt_secret.get_secret_value(),
    )


def internal_routes(runtime: Runtime) -> list[BaseRoute]:
    """What the gateway calls to answer `auditLog` and `verifyAuditLog`."""
    token = runtime.settings.app_api_token
    app_token = token.get_secret_value() if token else None
    engine = runtime.engine
    key = signing_key(runtime)
    retention = timedelta(days=runtime.settings.audit_retention_days)

    async def entries(request: Request) -> Any:
        user_id = uuid_param(request.path_params["user_id"], "userId")
        params = request.query_params
        first_text = params.get("first", "100")
        if not first_text.isdigit() or not 1 <= int(first_text) <= PAGE_MAX:
            raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
        task_id = params.get("taskId")
        async with engine.connect() as connection:
            found = await trail.page(
                connection,
                user_id=user_id,
                task_id=None if task_id is None else uuid_param(task_id, "taskId"),
                from_=_time(params.get("from"), "from"),
                to=_time(params.get("to"), "to"),
                first=int(first_text),
                after=params.get("after"),
            )
        return found.to_json()

    async def verification(request: Request) -> Any:
        user_id = uuid_param(request.path_params["user_id"], "userId")
        return (await trail.verify(engine, user_id, key=key, retention=retention)).to_json()

    return [
        Route("/internal/audit/{user_id}/entries", internal(entries, app_token=app_token)),
        Route(
            "/internal/audit/{user_id}/verification", internal(verification, app_token=app_token)
        ),
    ]


def retention_loop(
    runtime: Runtime, *, interval: float = RETENTION_INTERVAL_SECONDS
) -> BackgroundLoop:
    """Applies the retention period now and then; a failure is logged and tried again later.

    First, once per database, it signs the chains kept before signatures (trail.seal_legacy).
    """
    keep = timedelta(days=runtime.settings.audit_retention_days)
    key = signing_key(runtime)

    async def run() -> None:
        sealed = False
        while True:
            try:
                if not sealed:
                    await trail.seal_legacy(runtime.engine, key=key)
                    sealed = True
                await trail.apply_retention(
                    runtime.engine, now=datetime.now(UTC), keep=keep, key=key
                )
            except Exception:
                log.exception("audit retention failed; will try again")
            await asyncio.sleep(interval)

    return run


def build(runtime: Runtime) -> ServiceParts:
    """The audit service's consumer, internal API and retention over this runtime."""
    consumer = Consumer(name="audit", engine=runtime.engine, processed=processed_events)
    AuditHandlers(signing_key(runtime)).register(consumer)
    consumer.on(UserDeleted, erase_user)
    return ServiceParts(
        name="audit",
        consumer=consumer,
        internal_routes=internal_routes(runtime),
        background=[retention_loop(runtime)],
    )
