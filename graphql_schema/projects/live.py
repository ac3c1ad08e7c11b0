"""What the live subscriptions ask of a project at delivery."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from starlette.websockets import WebSocket

from gateway_core.live import ProjectsLoader
from gateway_core.persistence import projects as project_reads
from graphql_schema.context import Info

TRY_AGAIN_LATER = 1013


def member_projects(info: Info) -> ProjectsLoader:
    """Where the live hub reads a subscriber's projects (its per-replica project index)."""
    engine = info.context.services.engine

    async def read(user_id: str) -> Collection[str]:
        async with engine.connect() as connection:
            ids = await project_reads.ProjectRepository(connection).project_ids_of(
                uuid.UUID(user_id)
            )
        return [str(project_id) for project_id in ids]

    return read


async def still_member(info: Info, message: dict[str, Any]) -> bool:
    """Whether the caller belongs to the message's project at delivery: a member removed
    since subscribing gets no further event of the project.

    The hub offers a project's messages only to the members it indexes, but its index may
    hold a project for a moment after a removal (until it re-reads the member's projects), or
    until a lost removal's TTL runs out: this check is what keeps the removal exact.

    Answered from the replica's membership cache when it can be trusted (gateway_core/live.py:
    forgotten on every membership change), else read and remembered.
    """
    hub = info.context.services.live
    user_id = info.context.require_user()
    project_id = str(message["projectId"])
    trusted = hub.connected
    if trusted:
        cached = hub.memberships.get(str(user_id), project_id)
        if cached is not None:
            return cached
    generation = hub.memberships.generation(project_id)
    async with info.context.services.engine.connect() as connection:
        member = await project_reads.is_member(connection, user_id, uuid.UUID(project_id))
    if trusted:
        hub.memberships.put(str(user_id), project_id, member, generation)
    return member


async def close_for_refetch(info: Info) -> None:
    """Close the caller's socket: it fell behind and must reconnect and refetch."""
    request = info.context.request
    if isinstance(request, WebSocket):
        await request.close(code=TRY_AGAIN_LATER, reason="fell behind; reconnect and refetch")
