"""What the live subscriptions ask of a project at delivery."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.websockets import WebSocket

from gateway_core.persistence import projects as project_reads
from graphql_schema.context import Info

TRY_AGAIN_LATER = 1013


async def still_member(info: Info, message: dict[str, Any]) -> bool:
    """Whether the caller belongs to the message's project at delivery: a member removed
    since subscribing gets no further event of the project."""
    async with info.context.services.engine.connect() as connection:
        return await project_reads.is_member(
            connection, info.context.require_user(), uuid.UUID(message["projectId"])
        )


async def close_for_refetch(info: Info) -> None:
    """Close the caller's socket: it fell behind and must reconnect and refetch."""
    request = info.context.request
    if isinstance(request, WebSocket):
        await request.close(code=TRY_AGAIN_LATER, reason="fell behind; reconnect and refetch")
