"""Assembles the notifications service."""

from __future__ import annotations

from typing import Any

from contracts.events import Event, ProjectInvitationCreated, TaskDeleted, UserDeleted
from contracts.gateway_api import GatewayClient
from taskstream.bootstrap import Runtime
from taskstream.messaging.consumer import Consumer, EventHandler, in_turn
from taskstream.service import ServiceParts
from workers.notifications.api import internal_routes
from workers.notifications.assignments import AssignmentMailer
from workers.notifications.channels import EmailSender, WebhookSender
from workers.notifications.erasure import erase_user
from workers.notifications.firing import FiringLoop, RetryPolicy
from workers.notifications.invitations import InvitationHandlers, InvitationSender
from workers.notifications.push import PushSender
from workers.notifications.schedule import TASK_CHANGES, ScheduleHandlers
from workers.notifications.tables import outbox, processed_events


def firing_loop(runtime: Runtime) -> FiringLoop:
    """The firing loop of this runtime, configured from its settings."""
    settings = runtime.settings
    webhook = WebhookSender(allow_private=settings.webhook_allow_private)
    vapid_key = settings.vapid_private_key
    return FiringLoop(
        runtime.engine,
        GatewayClient(runtime.invoker),
        email=EmailSender(settings.smtp_url, settings.smtp_from),
        webhook=webhook,
        push=PushSender(
            vapid_key.get_secret_value() if vapid_key else None,
            settings.vapid_subject,
            http=webhook,
        ),
        policy=RetryPolicy.of(settings),
    )


def invitation_sender(runtime: Runtime) -> InvitationSender:
    """The sender of invitation notices of this runtime, configured from its settings."""
    settings = runtime.settings
    return InvitationSender(
        runtime.engine,
        GatewayClient(runtime.invoker),
        email=EmailSender(settings.smtp_url, settings.smtp_from),
        policy=RetryPolicy.of(settings),
    )


def assignment_mailer(runtime: Runtime) -> AssignmentMailer:
    """The mailer of "assigned to you" notices of this runtime, configured from its settings."""
    settings = runtime.settings
    return AssignmentMailer(
        runtime.engine,
        GatewayClient(runtime.invoker),
        email=EmailSender(settings.smtp_url, settings.smtp_from),
        policy=RetryPolicy.of(settings),
    )


def build(runtime: Runtime) -> ServiceParts:
    """The notifications service: schedule consumer, firing loop, invitation and assignment
    notices, outbox relay, internal API."""
    loop = firing_loop(runtime)
    invitations = invitation_sender(runtime)
    mailer = assignment_mailer(runtime)
    handlers = ScheduleHandlers(wake=loop.wake, email_on=mailer.email.on, mail_wake=mailer.wake)
    consumer = Consumer(name="notifications", engine=runtime.engine, processed=processed_events)
    invited = InvitationHandlers(email_on=invitations.email.on, wake=invitations.wake)
    routes: list[tuple[type[Event], EventHandler[Any]]] = [
        *((model, handlers.task_changed) for model in TASK_CHANGES),
        (TaskDeleted, handlers.task_deleted),
        (UserDeleted, erase_user),
        (ProjectInvitationCreated, invited.invitation_created),
    ]
    # Every handler here changes only rows of the consumer's transaction (the schedule, notices,
    # queued emails, the outbox): a fetch's run of events is applied in one transaction. The
    # wake-ups they call only make a loop look sooner, harmless when a batch is undone.
    for model, handler in routes:
        consumer.on(model, handler, batch=in_turn(handler))
    return ServiceParts(
        name="notifications",
        consumer=consumer,
        internal_routes=internal_routes(runtime.engine, runtime.settings),
        background=[loop.run, invitations.run, mailer.run],
        outbox=outbox,
    )
