"""bootstrap(): the one place where a process builds its clients from settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.invocation import ServiceInvoker
from taskstream.messaging.bus import BulkSubscribe, Transport
from taskstream.messaging.transports import open_transport
from taskstream.persistence.db import create_engine
from taskstream.settings import Settings

APP_IDS = ["gateway", "recurrence", "notifications", "audit"]


@dataclass
class Runtime:
    """The clients one service uses: database, message transport, service invoker."""

    app_id: str
    settings: Settings
    engine: AsyncEngine
    transport: Transport
    invoker: ServiceInvoker

    async def close(self) -> None:
        """Release every client (the transport is closed by whoever started it)."""
        await self.invoker.close()
        await self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    app_id: str,
    engine: AsyncEngine | None = None,
    transport: Transport | None = None,
    invoker: ServiceInvoker | None = None,
) -> Runtime:
    """The runtime of `app_id`: what is not given is built from settings."""
    if engine is None:
        if settings.database_url is None:
            raise RuntimeError("DATABASE_URL is not set")
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            statement_timeout=settings.worker_statement_timeout_seconds,
        )
    if transport is None:
        transport = open_transport(
            settings.bus_url,
            app_id=app_id,
            dapr_api_token=_secret(settings.dapr_api_token),
            app_api_token=_secret(settings.app_api_token),
            dapr_bulk=(
                BulkSubscribe(
                    settings.dapr_bulk_max_messages,
                    settings.dapr_bulk_max_await_ms,
                    # Traced, the sidecars' delivery spans need each event parsed.
                    raw_payloads=settings.otel_exporter_otlp_endpoint is None,
                )
                if settings.dapr_bulk_subscribe
                else None
            ),
            dapr_pubsub=settings.pubsub_name,
        )
    if invoker is None:
        if settings.bus_url.startswith("dapr:"):
            invoker = ServiceInvoker.through_dapr(settings, [a for a in APP_IDS if a != app_id])
        else:
            token = settings.app_api_token.get_secret_value() if settings.app_api_token else None
            invoker = ServiceInvoker.in_process(app_token=token or secrets.token_urlsafe(24))
    return Runtime(app_id, settings, engine, transport, invoker)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
