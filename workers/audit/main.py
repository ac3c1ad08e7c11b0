"""Assembles the audit service: its consumer, its internal API and the retention loop."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from contracts.events import UserDeleted
from taskstream.bootstrap import Runtime
from taskstream.messaging.consumer import Consumer
from taskstream.service import BackgroundLoop, ServiceParts
from workers.audit import trail
from workers.audit.api import internal_routes
from workers.audit.erasure import erase_user, erase_users
from workers.audit.handlers import AuditHandlers
from workers.audit.tables import processed_events

log = logging.getLogger(__name__)

RETENTION_INTERVAL_SECONDS = 3600.0


def signing_key(runtime: Runtime) -> bytes:
    """The audit key of this runtime's settings (see trail.signing_key)."""
    settings = runtime.settings
    return trail.signing_key(
        audit_key=None if settings.audit_key is None else settings.audit_key.get_secret_value(),
        jwt_secret=None if settings.jwt_secret is None else settings.jwt_secret.get_secret_value(),
    )


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
    consumer.on(UserDeleted, erase_user, batch=erase_users)
    return ServiceParts(
        name="audit",
        consumer=consumer,
        internal_routes=internal_routes(runtime, key=signing_key(runtime)),
        background=[retention_loop(runtime)],
    )
