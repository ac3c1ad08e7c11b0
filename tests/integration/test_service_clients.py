"""Each service's typed client against that service's real app, on the real database.

The apps are the internal apps the service runtime assembles (taskstream.service.Service), reached
through the in-process invoker as in `taskstream up`, with an app token as under Dapr; the same
routes are served on each app's port under Dapr.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.audit import AuditClient, ListAuditEntries, VerifyAuditTrail
from contracts.gateway_api import (
    CreateNextInstance,
    FindUser,
    GatewayClient,
    GetUser,
    RecordReminderOutcome,
)
from contracts.notifications import (
    DeleteWebhook,
    ListNotifications,
    ListWebhooks,
    MarkNotificationRead,
    NotificationsClient,
    RegisterWebhook,
)
from gateway.app import build as build_gateway
from taskstream.bootstrap import Runtime, bootstrap
from taskstream.errors import Conflict, InvalidInput, NotFound
from taskstream.invocation import ServiceInvoker, ServiceUnavailable
from taskstream.messaging.memory import MemoryTransport
from taskstream.service import Service, ServiceParts
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from workers.audit.main import build as build_audit
from workers.notifications.main import build as build_notifications

pytestmark = pytest.mark.integration

APP_TOKEN = "app-token-" + uuid.uuid4().hex
CREATE = """
mutation($i: CreateTaskInput!) {
  createTask(input: $i) { id seriesId reminders { id } }
}
"""
TASK = "query($id: ID!) { task(id: $id) { reminders { id state sentAt } } }"


BUILDS: dict[str, Callable[[Runtime], ServiceParts]] = {
    "gateway": build_gateway,
    "notifications": build_notifications,
    "audit": build_audit,
}


def register_services(invoker: ServiceInvoker, settings: Settings, engine: AsyncEngine) -> None:
    """Route the invoker's calls to the internal app of every service that offers one."""
    configured = settings.model_copy(
        update={"app_api_token": SecretStr(APP_TOKEN), "webhook_allow_private": True}
    )
    for name, build in BUILDS.items():
        runtime = bootstrap(
            configured, app_id=name, engine=engine, transport=MemoryTransport(), invoker=invoker
        )
        invoker.add_local(name, Service(build(runtime), runtime).internal_app())


@pytest.fixture
async def invoker(settings: Settings, engine: AsyncEngine) -> AsyncIterator[ServiceInvoker]:
    """An invoker with the app token, routing to the services' internal apps."""
    invoker = ServiceInvoker.in_process(app_token=APP_TOKEN)
    register_services(invoker, settings, engine)
    yield invoker
    await invoker.close()


async def test_gateway_client_finds_users_and_changes_tasks_as_the_gateway(
    http: httpx.AsyncClient, invoker: ServiceInvoker
) -> None:
    gateway = GatewayClient(invoker)
    email = f"client-{uuid.uuid4().hex[:10]}@example.com"
    user = GraphQLClient(http)
    signed_up = await user.sign_up(email=email, timezone="Europe/Berlin")
    user_id = uuid.UUID(signed_up["id"])

    found = await gateway.get_user(GetUser(user_id=user_id))
    assert (found.id, found.email, found.timezone) == (user_id, email, "Europe/Berlin")
    assert (await gateway.find_user(FindUser(email=email.upper()))).id == user_id
    with pytest.raises(NotFound):
        await gateway.find_user(FindUser(email=f"nobody-{uuid.uuid4().hex}@example.com"))
    with pytest.raises(NotFound):
        await gateway.get_user(GetUser(user_id=uuid.uuid4()))

    due = datetime(2031, 5, 1, 9, tzinfo=UTC)
    task = (
        await user.data(
            CREATE,
            {
                "i": {
                    "title": "Series",
                    "dueAt": due.isoformat(),
                    "recurrence": {"rule": "FREQ=DAILY", "timezone": "UTC"},
                    "reminders": [{"remindAt": (due - timedelta(hours=1)).isoformat()}],
                }
            },
        )
    )["createTask"]
    await user.data(f'mutation {{ completeTask(id: "{task["id"]}") {{ id }} }}')
    request = CreateNextInstance(
        task_id=uuid.UUID(task["id"]), user_id=user_id, due_at=due + timedelta(days=1)
    )
    created = await gateway.create_next_instance(request)
    assert created.instance_number == 2
    assert str(created.series_id) == task["seriesId"]
    assert created.due_at == due + timedelta(days=1)
    # Asked again (a redelivered event), the gateway answers the same instance.
    assert (await gateway.create_next_instance(request)).id == created.id
    # Another user's task is reported exactly like a missing one.
    with pytest.raises(NotFound):
        await gateway.create_next_instance(request.model_copy(update={"user_id": uuid.uuid4()}))

    # Completing the task cancelled its reminder: the gateway's Conflict crosses as such.
    sent_at = due - timedelta(minutes=59)
    with pytest.raises(Conflict):
        await gateway.record_reminder_outcome(
            RecordReminderOutcome(
                reminder_id=uuid.UUID(task["reminders"][0]["id"]),
                user_id=user_id,
                sent=True,
                at=sent_at,
            )
        )
    other = (
        await user.data(
            CREATE,
            {"i": {"title": "Call", "reminders": [{"remindAt": due.isoformat()}]}},
        )
    )["createTask"]
    reminder_id = uuid.UUID(other["reminders"][0]["id"])
    recorded = await gateway.record_reminder_outcome(
        RecordReminderOutcome(reminder_id=reminder_id, user_id=user_id, sent=True, at=sent_at)
    )
    assert (recorded.id, recorded.state, recorded.sent_at) == (reminder_id, "SENT", sent_at)
    seen = (await user.data(TASK, {"id": other["id"]}))["task"]["reminders"]
    assert [(r["id"], r["state"]) for r in seen] == [(str(reminder_id), "SENT")]
    with pytest.raises(NotFound):
        await gateway.record_reminder_outcome(
            RecordReminderOutcome(reminder_id=uuid.uuid4(), user_id=user_id, sent=False, at=sent_at)
        )


async def test_notifications_client_manages_webhooks_and_the_inbox(
    invoker: ServiceInvoker,
) -> None:
    notifications = NotificationsClient(invoker)
    user_id = uuid.uuid4()
    registered = await notifications.register_webhook(
        RegisterWebhook(user_id=user_id, url="http://127.0.0.1:9/hook")
    )
    assert registered.webhook.url == "http://127.0.0.1:9/hook" and len(registered.secret) >= 32
    listed = await notifications.list_webhooks(ListWebhooks(user_id=user_id))
    assert [w.id for w in listed.webhooks] == [registered.webhook.id]
    # Scoped by user: another user neither sees nor removes it.
    assert (await notifications.list_webhooks(ListWebhooks(user_id=uuid.uuid4()))).webhooks == []
    with pytest.raises(NotFound):
        await notifications.delete_webhook(
            DeleteWebhook(user_id=uuid.uuid4(), webhook_id=registered.webhook.id)
        )
    deleted = await notifications.delete_webhook(
        DeleteWebhook(user_id=user_id, webhook_id=registered.webhook.id)
    )
    assert deleted.id == registered.webhook.id
    assert (await notifications.list_webhooks(ListWebhooks(user_id=user_id))).webhooks == []

    # The service's own rules cross as BAD_USER_INPUT naming the field.
    with pytest.raises(InvalidInput) as refused:
        await notifications.register_webhook(RegisterWebhook(user_id=user_id, url="ftp://x.test"))
    assert refused.value.field == "url"

    page = await notifications.list_notifications(
        ListNotifications(user_id=user_id, unread_only=True, first=5)
    )
    assert (page.edges, page.total_count, page.page_info.has_next_page) == ([], 0, False)
    with pytest.raises(NotFound):
        await notifications.mark_notification_read(
            MarkNotificationRead(user_id=user_id, notification_id=uuid.uuid4())
        )


async def test_audit_client_reads_and_verifies_a_trail(invoker: ServiceInvoker) -> None:
    audit = AuditClient(invoker)
    user_id = uuid.uuid4()
    page = await audit.list_entries(
        ListAuditEntries(
            user_id=user_id,
            task_id=uuid.uuid4(),
            from_=datetime(2030, 1, 1, tzinfo=UTC),
            to=datetime(2030, 2, 1, tzinfo=UTC),
            first=10,
        )
    )
    assert (page.edges, page.total_count, page.has_next_page, page.end_cursor) == (
        [],
        0,
        False,
        None,
    )
    verified = await audit.verify(VerifyAuditTrail(user_id=user_id))
    assert (verified.ok, verified.checked, verified.first_broken) == (True, 0, None)


async def test_internal_apps_refuse_calls_without_the_app_token(
    settings: Settings, engine: AsyncEngine
) -> None:
    stranger = ServiceInvoker.in_process(app_token="not-" + APP_TOKEN)
    register_services(stranger, settings, engine)
    try:
        with pytest.raises(ServiceUnavailable, match="app token required"):
            await AuditClient(stranger).verify(VerifyAuditTrail(user_id=uuid.uuid4()))
        with pytest.raises(ServiceUnavailable, match="app token required"):
            await GatewayClient(stranger).get_user(GetUser(user_id=uuid.uuid4()))
        with pytest.raises(ServiceUnavailable, match="app token required"):
            await NotificationsClient(stranger).list_webhooks(ListWebhooks(user_id=uuid.uuid4()))
    finally:
        await stranger.close()


async def test_the_public_gateway_app_serves_no_internal_route_outside_dapr(
    http: httpx.AsyncClient,
) -> None:
    email = f"public-{uuid.uuid4().hex[:10]}@example.com"
    user = await GraphQLClient(http).sign_up(email=email)
    response = await http.get(f"/internal/users/{user['id']}")
    # The ingress exposes this port: the internal API is only served there under Dapr.
    assert email not in response.text
    assert not response.headers.get("content-type", "").startswith("application/json")
