"""The gateway's internal API: what workers call through Dapr service invocation.

Workers never touch the gateway's tables; they ask it to change tasks here, and every change
goes through the same services, aggregate rules and outbox as a user's mutation. The requests
and answers are contracts.gateway_api's models; so is each route's path.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.routing import BaseRoute

from contracts.gateway_api import (
    CREATE_NEXT_INSTANCE,
    FIND_USER,
    GET_INVITATION,
    GET_USER,
    RECORD_REMINDER_OUTCOME,
    CreateNextInstance,
    FindUser,
    GetInvitation,
    GetUser,
    Invitation,
    RecordReminderOutcome,
    ReminderRecorded,
    TaskInstance,
    User,
)
from gateway_core.domain.users import email_key
from gateway_core.persistence import projects as project_reads
from gateway_core.persistence.uow import UnitOfWork
from gateway_core.services import tasks as service
from taskstream.bootstrap import Runtime
from taskstream.errors import NotFound
from taskstream.internal_api import serve


def internal_routes(runtime: Runtime) -> list[BaseRoute]:
    """Routes for the recurrence, notifications and audit services."""
    token = runtime.settings.app_api_token
    app_token = token.get_secret_value() if token else None

    async def get_user(request: GetUser) -> User:
        async with UnitOfWork(runtime.engine) as uow:
            user = await uow.users.get(request.user_id)
        if user is None:
            raise NotFound("user", request.user_id)
        return User(id=user.id, email=user.email, timezone=user.timezone)

    async def find_user(request: FindUser) -> User:
        async with UnitOfWork(runtime.engine) as uow:
            found = await uow.users.credentials(email_key(request.email))
        if found is None:
            raise NotFound("user", request.email)
        user, _ = found
        return User(id=user.id, email=user.email, timezone=user.timezone)

    async def get_invitation(request: GetInvitation) -> Invitation:
        async with runtime.engine.connect() as connection:
            found = await project_reads.invitation_by_id(connection, request.invitation_id)
        if found is None:
            raise NotFound("invitation", request.invitation_id)
        return Invitation(
            id=found.id,
            project_id=found.project_id,
            project_name=found.project_name,
            email=found.email,
            role=found.role.value,
            state=found.state.value,
            invited_by=found.invited_by,
            invited_by_email=found.invited_by_email,
        )

    async def create_next_instance(request: CreateNextInstance) -> TaskInstance:
        instance = await service.create_next_instance(
            uow=UnitOfWork(runtime.engine),
            user_id=request.user_id,
            completed_task_id=request.task_id,
            due_at=request.due_at,
            now=datetime.now(UTC),
            source=request.source,
        )
        return TaskInstance(
            id=instance.id,
            series_id=instance.series_id,
            instance_number=instance.instance_number,
            due_at=instance.due_at,
        )

    async def record_reminder_outcome(request: RecordReminderOutcome) -> ReminderRecorded:
        reminder = await service.record_reminder_outcome(
            uow=UnitOfWork(runtime.engine),
            user_id=request.user_id,
            reminder_id=request.reminder_id,
            sent=request.sent,
            at=request.at,
            source=request.source,
        )
        return ReminderRecorded(
            id=reminder.id, state=reminder.state.value, sent_at=reminder.sent_at
        )

    return [
        serve(FIND_USER, find_user, app_token=app_token),
        serve(GET_USER, get_user, app_token=app_token),
        serve(GET_INVITATION, get_invitation, app_token=app_token),
        serve(CREATE_NEXT_INSTANCE, create_next_instance, app_token=app_token),
        serve(RECORD_REMINDER_OUTCOME, record_reminder_outcome, app_token=app_token),
    ]
