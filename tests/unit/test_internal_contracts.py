"""The internal API contracts: request models refuse bad input naming the field, and a typed
client and its server (both derived from one Endpoint) agree, errors crossing as they were raised.

The server here is a real Starlette app built with taskstream.internal_api.serve, called through
the real ServiceInvoker over an in-process ASGI transport (no database needed).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette

from contracts import audit, gateway_api, notifications
from contracts.invocation import Answer, Request
from taskstream.errors import Conflict, InvalidInput, NotFound
from taskstream.internal_api import serve
from taskstream.invocation import Endpoint, ServiceInvoker, ServiceUnavailable

ENDPOINTS: list[Endpoint[Any, Any]] = [
    value
    for module in (gateway_api, notifications, audit)
    for value in vars(module).values()
    if isinstance(value, Endpoint)
]
USER = uuid.uuid4()
NAIVE = datetime(2030, 1, 1, 9)


def test_every_service_has_its_endpoints() -> None:
    assert {(e.service, e.method, e.path) for e in ENDPOINTS} == {
        ("gateway", "GET", "/internal/users/{userId}"),
        ("gateway", "GET", "/internal/users"),
        ("gateway", "GET", "/internal/invitations/{invitationId}"),
        ("gateway", "POST", "/internal/tasks/{taskId}/next-instance"),
        ("gateway", "POST", "/internal/reminders/{reminderId}/outcome"),
        ("notifications", "POST", "/internal/webhooks"),
        ("notifications", "GET", "/internal/webhooks"),
        ("notifications", "DELETE", "/internal/webhooks/{webhookId}"),
        ("notifications", "POST", "/internal/push-subscriptions"),
        ("notifications", "GET", "/internal/push-subscriptions"),
        ("notifications", "DELETE", "/internal/push-subscriptions"),
        ("notifications", "GET", "/internal/notifications"),
        ("notifications", "POST", "/internal/notifications/{notificationId}/read"),
        ("audit", "GET", "/internal/audit/{userId}/entries"),
        ("audit", "GET", "/internal/audit/{userId}/verification"),
        ("audit", "GET", "/internal/audit/projects/{projectId}/entries"),
        ("audit", "GET", "/internal/audit/projects/{projectId}/verification"),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_endpoint_models_fit_their_route(endpoint: Endpoint[Any, Any]) -> None:
    assert issubclass(endpoint.request, Request)
    assert issubclass(endpoint.response, Answer)
    wire_names = {field.alias or name for name, field in endpoint.request.model_fields.items()}
    # Every name in the path is a required request field, spelled as on the wire.
    for name in endpoint.path_fields:
        assert name in wire_names
        python_name = next(
            n for n, f in endpoint.request.model_fields.items() if (f.alias or n) == name
        )
        assert endpoint.request.model_fields[python_name].is_required()
    if endpoint.method != "POST":
        # Query strings carry scalars only.
        for field in endpoint.request.model_fields.values():
            assert "list" not in str(field.annotation) and "dict" not in str(field.annotation)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: gateway_api.GetUser(user_id="not-a-uuid"), "userId"),
        (lambda: gateway_api.FindUser(email="x" * 20_000), "email"),
        (
            lambda: gateway_api.CreateNextInstance(task_id=USER, user_id=USER, due_at=NAIVE),
            "dueAt",
        ),
        (
            lambda: gateway_api.CreateNextInstance(
                task_id=USER, user_id=USER, due_at=datetime.now(UTC), source=""
            ),
            "source",
        ),
        (
            lambda: gateway_api.RecordReminderOutcome(
                reminder_id=USER,
                user_id=USER,
                sent="perhaps",
                at=datetime.now(UTC),
            ),
            "sent",
        ),
        (lambda: notifications.RegisterWebhook(user_id=USER, url=None), "url"),
        (lambda: notifications.ListNotifications(user_id=USER, first=0), "first"),
        (lambda: notifications.ListNotifications(user_id=USER, first=201), "first"),
        (lambda: notifications.ListNotifications(user_id=USER, after="a" * 2000), "after"),
        (lambda: notifications.DeleteWebhook(user_id=USER), "webhookId"),  # type: ignore[call-arg]
        (lambda: audit.ListAuditEntries(user_id=USER, from_=NAIVE), "from"),
        (lambda: audit.ListAuditEntries(user_id=USER, first=500), "first"),
        (
            lambda: audit.VerifyAuditTrail.model_validate({"userId": str(USER), "admin": True}),
            "admin",
        ),
    ],
)
def test_a_request_that_breaks_its_model_is_refused_naming_the_field(
    build: Callable[[], Request], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        build()
    assert refused.value.field == field
    assert refused.value.message.startswith(f"{field}: ")


def test_requests_travel_with_wire_names_and_ids_in_the_path() -> None:
    webhook = uuid.uuid4()
    path, rest = notifications.DELETE_WEBHOOK.target(
        notifications.DeleteWebhook(user_id=USER, webhook_id=webhook)
    )
    assert path == f"/internal/webhooks/{webhook}"
    assert rest == {"userId": str(USER)}
    path, rest = audit.LIST_AUDIT_ENTRIES.target(
        audit.ListAuditEntries(user_id=USER, from_=datetime(2030, 1, 1, tzinfo=UTC))
    )
    assert path == f"/internal/audit/{USER}/entries"
    assert rest == {"from": "2030-01-01T00:00:00Z", "first": 100}


Handler = Callable[[Any], Awaitable[Any]]


@pytest.fixture
async def invoker() -> AsyncIterator[Callable[[Endpoint[Any, Any], Handler], ServiceInvoker]]:
    """An in-process invoker whose target service serves one endpoint with one handler."""
    made: list[ServiceInvoker] = []

    def serving(endpoint: Endpoint[Any, Any], handler: Handler) -> ServiceInvoker:
        invoker = ServiceInvoker.in_process(app_token="token")
        app = Starlette(routes=[serve(endpoint, handler, app_token="token")])
        invoker.add_local(endpoint.service, app)
        made.append(invoker)
        return invoker

    yield serving
    for invoker in made:
        await invoker.close()


async def test_client_and_server_round_trip_typed_models(
    invoker: Callable[[Endpoint[Any, Any], Handler], ServiceInvoker],
) -> None:
    seen: list[notifications.ListNotifications] = []

    async def handler(request: notifications.ListNotifications) -> notifications.NotificationPage:
        seen.append(request)
        node = notifications.Notification(
            id=uuid.uuid4(),
            task_id=None,
            title="t",
            body="b",
            channel="IN_APP",
            created_at=datetime(2030, 1, 1, tzinfo=UTC),
            read_at=None,
        )
        return notifications.NotificationPage(
            edges=[notifications.NotificationEdge(cursor="c1", node=node)],
            page_info=notifications.PageInfo(has_next_page=True, end_cursor="c1"),
            total_count=7,
        )

    client = notifications.NotificationsClient(invoker(notifications.LIST_NOTIFICATIONS, handler))
    request = notifications.ListNotifications(user_id=USER, unread_only=True, first=3, after="c0")
    page = await client.list_notifications(request)
    # The server parsed the query string back into the very request the client built.
    assert seen == [request]
    assert page.total_count == 7 and page.page_info.has_next_page
    assert page.edges[0].node.created_at == datetime(2030, 1, 1, tzinfo=UTC)


async def test_errors_cross_as_the_service_raised_them(
    invoker: Callable[[Endpoint[Any, Any], Handler], ServiceInvoker],
) -> None:
    async def gone(request: gateway_api.RecordReminderOutcome) -> gateway_api.ReminderRecorded:
        raise Conflict("reminder was moved")

    client = gateway_api.GatewayClient(invoker(gateway_api.RECORD_REMINDER_OUTCOME, gone))
    with pytest.raises(Conflict, match=r"^reminder was moved$"):
        await client.record_reminder_outcome(
            gateway_api.RecordReminderOutcome(
                reminder_id=uuid.uuid4(), user_id=USER, sent=True, at=datetime.now(UTC)
            )
        )

    async def missing(request: gateway_api.GetUser) -> gateway_api.User:
        raise NotFound("user", request.user_id)

    client = gateway_api.GatewayClient(invoker(gateway_api.GET_USER, missing))
    with pytest.raises(NotFound, match=f"^user {USER} not found$"):
        await client.get_user(gateway_api.GetUser(user_id=USER))


async def test_the_server_refuses_a_request_that_breaks_the_model_with_400_naming_the_field(
    invoker: Callable[[Endpoint[Any, Any], Handler], ServiceInvoker],
) -> None:
    called: list[object] = []

    async def handler(request: audit.ListAuditEntries) -> audit.AuditPage:
        called.append(request)
        return audit.AuditPage(edges=[], has_next_page=False, end_cursor=None, total_count=0)

    raw = invoker(audit.LIST_AUDIT_ENTRIES, handler)
    path = f"/internal/audit/{USER}/entries"
    cases = [
        ("/internal/audit/nope/entries", {}, "userId"),
        (path, {"first": "0"}, "first"),
        (path, {"from": "2030-01-01T00:00:00"}, "from"),
        (path, {"taskId": "x"}, "taskId"),
        (path, {"colour": "blue"}, "colour"),
        (path, {"userId": str(uuid.uuid4())}, "userId"),
    ]
    for target, params, field in cases:
        with pytest.raises(InvalidInput) as refused:
            await raw.call("audit", "GET", target, params=params)
        assert refused.value.field == field, (target, params)
    assert called == []
    # A query parameter given twice is refused rather than one of them silently picked.
    with pytest.raises(InvalidInput) as refused:
        await raw.call("audit", "GET", f"{path}?first=1&first=2")
    assert refused.value.field == "first"


async def test_a_post_body_that_is_not_an_object_is_bad_input(
    invoker: Callable[[Endpoint[Any, Any], Handler], ServiceInvoker],
) -> None:
    async def handler(request: gateway_api.CreateNextInstance) -> gateway_api.TaskInstance:
        raise AssertionError("never called")

    raw = invoker(gateway_api.CREATE_NEXT_INSTANCE, handler)
    path = f"/internal/tasks/{uuid.uuid4()}/next-instance"
    with pytest.raises(InvalidInput, match=r"^body: must be a JSON object$"):
        await raw.call("gateway", "POST", path, json=[1, 2])
    with pytest.raises(InvalidInput, match=r"^userId: "):
        await raw.call("gateway", "POST", path, json={"dueAt": "2030-01-01T00:00:00Z"})


async def test_an_answer_that_breaks_its_model_is_service_unavailable(
    invoker: Callable[[Endpoint[Any, Any], Handler], ServiceInvoker],
) -> None:
    # A peer of another version (say, mid-deploy) that answers another shape.
    async def handler(request: audit.VerifyAuditTrail) -> Any:
        return audit.AuditPage(edges=[], has_next_page=False, end_cursor=None, total_count=0)

    client = audit.AuditClient(invoker(audit.VERIFY_AUDIT_TRAIL, handler))
    with pytest.raises(ServiceUnavailable, match="does not fit AuditVerification"):
        await client.verify(audit.VerifyAuditTrail(user_id=USER))
