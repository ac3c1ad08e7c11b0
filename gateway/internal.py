"""The gateway's internal API: what workers call through Dapr service invocation.

Workers never touch the gateway's tables; they ask it to change tasks here, and every change
goes through the same services, aggregate rules and outbox as a user's mutation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from gateway_core.domain.users import email_key
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import tasks as service
from gateway_core.wire import reminder_wire, task_wire
from taskstream.bootstrap import Runtime
from taskstream.errors import NotFound
from taskstream.internal_api import internal, json_body, time_param, uuid_param


def internal_routes(runtime: Runtime) -> list[BaseRoute]:
    """Routes for the recurrence, notifications and audit services."""
    token = runtime.settings.app_api_token
    app_token = token.get_secret_value() if token else None

    async def get_user(request: Request) -> Any:
        user_id = uuid_param(request.path_params["user_id"], "userId")
        async with UnitOfWork(runtime.engine) as uow:
            user = await uow.users.get(user_id)
        if user is None:
            raise NotFound("user", user_id)
        return {"id": str(user.id), "email": user.email, "timezone": user.timezone}

    async def find_user(request: Request) -> Any:
        email = request.query_params.get("email", "")
        async with UnitOfWork(runtime.engine) as uow:
            found = await uow.users.credentials(email_key(email))
        if found is None:
            raise NotFound("user", email)
        user, _ = found
        return {"id": str(user.id), "email": user.email, "timezone": user.timezone}

    async def next_instance(request: Request) -> Any:
        body = await json_body(request)
        source = str(body.get("source", "recurrence"))
        instance = await service.create_next_instance(
            uow=UnitOfWork(runtime.engine),
            user_id=uuid_param(body.get("userId"), "userId"),
            completed_task_id=uuid_param(request.path_params["task_id"], "taskId"),
            due_at=time_param(body.get("dueAt"), "dueAt"),
            now=datetime.now(UTC),
            source=source,
        )
        return task_wire(instance).wire()

    async def reminder_outcome(request: Request) -> Any:
        body = await json_body(request)
        reminder = await service.record_reminder_outcome(
            uow=UnitOfWork(runtime.engine),
            user_id=uuid_param(body.get("userId"), "userId"),
            reminder_id=uuid_param(request.path_params["reminder_id"], "reminderId"),
            sent=bool(body.get("sent")),
            at=time_param(body.get("at"), "at"),
            source=str(body.get("source", "notifications")),
        )
        return reminder_wire(reminder).wire()

    return [
        Route("/internal/users", internal(find_user, app_token=app_token)),
        Route("/internal/users/{user_id}", internal(get_user, app_token=app_token)),
        Route(
            "/internal/tasks/{task_id}/next-instance",
            internal(next_instance, app_token=app_token),
            methods=["POST"],
        ),
        Route(
            "/internal/reminders/{reminder_id}/outcome",
            internal(reminder_outcome, app_token=app_token),
            methods=["POST"],
        ),
    ]
