"""The notifications service in `up`: reminders fire once, on every channel, on time.

A real SMTP server (aiosmtpd) and a real HTTP receiver (Starlette under uvicorn) listen on
127.0.0.1; the system runs with private webhook destinations allowed and short retry delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import hashlib
import hmac
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cli.composition import local_system
from gateway.app import create_internal_app
from taskstream.bootstrap import bootstrap
from taskstream.invocation import ServiceInvoker
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from workers.notifications.main import firing_loop
from workers.notifications.tables import deliveries, notifications, outbox, schedule

pytestmark = pytest.mark.e2e

CREATE = """
mutation($i: CreateTaskInput!) {
  createTask(input: $i) { id title dueAt reminders { id remindAt beforeDue channels state } }
}
"""
TASK = "query($id: ID!) { task(id: $id) { reminders { id remindAt state sentAt } } }"
NOTIFICATIONS = """
query($unread: Boolean, $first: Int, $after: String) {
  notifications(unreadOnly: $unread, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id taskId title body channel createdAt readAt } }
  }
}
"""
REGISTER = "mutation($u: String!) { registerWebhook(url: $u) { secret webhook { id url } } }"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Accept and keep the message."""
        content = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(raw)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages addressed to `address`."""
        with self._lock:
            return [message for rcpts, message in self.messages if address in rcpts]


@dataclass
class Hook:
    """One endpoint of the receiver: its secret, how often it fails first, what it got."""

    secret: str = ""
    failures: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)


class Receiver:
    """A webhook receiver that checks every signature: /hooks/{name}."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.hooks: dict[str, Hook] = {}

    def url(self, name: str, *, failures: int = 0) -> str:
        """A new endpoint that answers 500 `failures` times (-1: always) before 204."""
        self.hooks[name] = Hook(failures=failures)
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def endpoint(self, request: Request) -> Response:
        """Record the delivery, with whether its signature is right."""
        hook = self.hooks[request.path_params["name"]]
        body = await request.body()
        expected = "sha256=" + hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
        hook.received.append(
            {
                "signed": hmac.compare_digest(
                    request.headers.get("x-taskstream-signature", ""), expected
                ),
                "type": request.headers.get("content-type"),
                "delivery": request.headers.get("x-taskstream-delivery"),
                "json": json.loads(body),
            }
        )
        if hook.failures != 0:
            hook.failures -= 1
            return Response(status_code=500)
        return Response(status_code=204)

    def app(self) -> Starlette:
        """The receiver's ASGI app."""
        return Starlette(routes=[Route("/hooks/{name}", self.endpoint, methods=["POST"])])


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1."""
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@contextlib.asynccontextmanager
async def serving(app: Starlette, port: int) -> AsyncIterator[None]:
    """A real HTTP server (uvicorn) for `app` on 127.0.0.1:`port`, while in the block."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP server on 127.0.0.1 receiving webhooks."""
    hub = Receiver(free_port())
    async with serving(hub.app(), hub.port):
        yield hub


@pytest.fixture(scope="module")
def notify_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """The test settings with e-mail on, private webhook targets allowed, quick retries."""
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{mailbox.port}",
            "webhook_allow_private": True,
            "notification_retry_seconds": 0.2,
            "notification_max_attempts": 4,
        }
    )


@contextlib.asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the whole in-process system with these settings, while it runs."""
    async with (
        local_system(settings, engine=engine, transport=MemoryTransport()) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
        ) as client,
    ):
        yield client


@pytest.fixture
async def notify_system(
    notify_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole in-process system with those settings."""
    async with running(notify_settings, engine) as client:
        yield client


async def user(system: httpx.AsyncClient) -> tuple[GraphQLClient, dict[str, Any]]:
    """A new account on the system, and its profile."""
    client = GraphQLClient(system)
    profile = await client.sign_up()
    return client, profile


def soon(seconds: float) -> str:
    """A time `seconds` from now, as the API takes it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def create(client: GraphQLClient, **task: Any) -> dict[str, Any]:
    """Create a task."""
    created: dict[str, Any] = (await client.data(CREATE, {"i": task}))["createTask"]
    return created


async def reminder_of(client: GraphQLClient, task_id: str) -> dict[str, Any]:
    """The task's first reminder as the API shows it."""
    task = (await client.data(TASK, {"id": task_id}))["task"]
    reminder: dict[str, Any] = task["reminders"][0]
    return reminder


async def until_state(
    client: GraphQLClient, task_id: str, state: str, *, by: datetime
) -> dict[str, Any]:
    """The task's first reminder once it is in `state`; fails if that takes past `by`."""
    while True:
        reminder = await reminder_of(client, task_id)
        if reminder["state"] == state:
            return reminder
        assert datetime.now(UTC) < by, f"still {reminder['state']}, wanted {state}"
        await asyncio.sleep(0.05)


async def eventually(check: Any, seconds: float = 5.0) -> None:
    """Wait until `check()` is true."""
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.05)


async def schedule_row(engine: AsyncEngine, reminder_id: str) -> Any:
    """The service's own row for a reminder (None until the event arrived)."""
    async with engine.connect() as connection:
        return (
            await connection.execute(
                select(schedule).where(schedule.c.reminder_id == uuid.UUID(reminder_id))
            )
        ).first()


async def test_a_reminder_fires_once_on_every_channel_within_two_seconds(
    notify_system: httpx.AsyncClient, mailbox: Mailbox, receiver: Receiver, engine: AsyncEngine
) -> None:
    carol, profile = await user(notify_system)
    registration = (await carol.data(REGISTER, {"u": receiver.url("carol")}))["registerWebhook"]
    receiver.hooks["carol"].secret = registration["secret"]
    task = await create(
        carol,
        title="Call the dentist",
        dueAt=soon(3600),
        reminders=[{"remindAt": soon(1), "channels": ["IN_APP", "EMAIL", "WEBHOOK"]}],
    )
    remind_at = datetime.fromisoformat(task["reminders"][0]["remindAt"])
    sent = await until_state(carol, task["id"], "SENT", by=remind_at + timedelta(seconds=2))
    sent_at = datetime.fromisoformat(sent["sentAt"])
    assert remind_at <= sent_at <= remind_at + timedelta(seconds=2)

    page = (await carol.data(NOTIFICATIONS))["notifications"]
    assert page["totalCount"] == 1 and not page["pageInfo"]["hasNextPage"]
    node = page["edges"][0]["node"]
    assert node["taskId"] == task["id"] and node["title"] == "Call the dentist"
    assert node["channel"] == "IN_APP" and node["readAt"] is None and node["body"].startswith("Due")

    mails = mailbox.to(profile["email"])
    assert len(mails) == 1 and "Call the dentist" in str(mails[0]["Subject"])
    hook = receiver.hooks["carol"]
    assert len(hook.received) == 1
    delivery = hook.received[0]
    assert delivery["signed"] and delivery["type"] == "application/json"
    assert delivery["json"]["title"] == "Call the dentist"
    assert delivery["json"]["reminderId"] == task["reminders"][0]["id"]

    read = (
        await carol.data(
            "mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }", {"id": node["id"]}
        )
    )["markNotificationRead"]
    assert read["id"] == node["id"] and read["readAt"] is not None
    unread = (await carol.data(NOTIFICATIONS, {"unread": True}))["notifications"]
    assert unread["totalCount"] == 0 and unread["edges"] == []

    # Once means once: nothing more arrives, and the service's row agrees with the task.
    await asyncio.sleep(0.5)
    assert len(mailbox.to(profile["email"])) == 1 and len(hook.received) == 1
    row = await schedule_row(engine, sent["id"])
    assert row.state == "SENT" and row.generation == 1
    async with engine.connect() as connection:
        types = (
            await connection.execute(
                select(outbox.c.type, outbox.c.payload["data"]["channel"].astext).where(
                    outbox.c.payload["data"]["reminderId"].astext == sent["id"]
                )
            )
        ).all()
    assert sorted(types) == sorted(
        [
            ("taskstream.reminder.due.v1", None),
            ("taskstream.notification.sent.v1", "IN_APP"),
            ("taskstream.notification.sent.v1", "EMAIL"),
            ("taskstream.notification.sent.v1", "WEBHOOK"),
        ]
    )


async def test_notifications_page_newest_first_with_exact_totals(
    notify_system: httpx.AsyncClient,
) -> None:
    carol, _ = await user(notify_system)
    task = await create(
        carol,
        title="Stretch",
        reminders=[{"remindAt": soon(0.3 + i * 0.05)} for i in range(5)],
    )
    await eventually(
        lambda: _count(carol, 5),
    )
    seen: list[str] = []
    after = None
    while True:
        page = (await carol.data(NOTIFICATIONS, {"first": 2, "after": after}))["notifications"]
        assert page["totalCount"] == 5
        seen.extend(edge["node"]["createdAt"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    assert task["id"]
    bad = await carol.error(NOTIFICATIONS, {"first": 201})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["message"].startswith("first")


async def _count(client: GraphQLClient, expected: int) -> bool:
    page = (await client.data(NOTIFICATIONS))["notifications"]
    return bool(page["totalCount"] == expected)


async def test_relative_reminders_follow_the_due_date(
    notify_system: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    carol, _ = await user(notify_system)
    due = datetime.now(UTC) + timedelta(hours=2)
    task = await create(
        carol, title="Pay rent", dueAt=due.isoformat(), reminders=[{"beforeDue": 5}]
    )
    reminder_id = task["reminders"][0]["id"]
    await eventually(lambda: _has_row(engine, reminder_id))
    # Moving the due date to 5 min + 1 s from now brings the reminder to 1 s from now.
    new_due = datetime.now(UTC) + timedelta(minutes=5, seconds=1)
    await carol.data(
        "mutation($id: ID!, $d: DateTime) { updateTask(id: $id, input: {dueAt: $d}) { id } }",
        {"id": task["id"], "d": new_due.isoformat()},
    )
    remind_at = new_due - timedelta(minutes=5)
    sent = await until_state(carol, task["id"], "SENT", by=remind_at + timedelta(seconds=2))
    assert datetime.fromisoformat(sent["remindAt"]) == remind_at
    assert remind_at <= datetime.fromisoformat(sent["sentAt"]) <= remind_at + timedelta(seconds=2)


async def _has_row(engine: AsyncEngine, reminder_id: str) -> bool:
    return await schedule_row(engine, reminder_id) is not None


async def test_completed_and_deleted_tasks_cancel_their_reminders(
    notify_system: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    carol, _ = await user(notify_system)
    # Due in 4 s: on a loaded machine the four mutations must still land before it is due.
    due = datetime.now(UTC) + timedelta(seconds=4)
    done = await create(carol, title="Done early", reminders=[{"remindAt": due.isoformat()}])
    gone = await create(carol, title="Not needed", reminders=[{"remindAt": due.isoformat()}])
    await carol.data(f'mutation {{ completeTask(id: "{done["id"]}") {{ id }} }}')
    await carol.data(f'mutation {{ deleteTask(id: "{gone["id"]}") }}')
    assert datetime.now(UTC) < due, "the test's mutations took longer than the reminder's lead"
    # Past the due time, so a reminder that was not cancelled would have fired.
    await asyncio.sleep((due - datetime.now(UTC)).total_seconds() + 1.0)
    assert (await reminder_of(carol, done["id"]))["state"] == "CANCELLED"
    for task in (done, gone):
        row = await schedule_row(engine, task["reminders"][0]["id"])
        assert row.state == "CANCELLED" and row.generation == 0
    assert (await carol.data(NOTIFICATIONS))["notifications"]["totalCount"] == 0


async def test_snooze_reschedules_a_sent_reminder(
    notify_system: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    carol, _ = await user(notify_system)
    task = await create(carol, title="Stand up", reminders=[{"remindAt": soon(0.5)}])
    reminder_id = task["reminders"][0]["id"]
    await until_state(carol, task["id"], "SENT", by=datetime.now(UTC) + timedelta(seconds=3))
    snoozed = (
        await carol.data(
            "mutation($id: ID!) { snoozeReminder(id: $id, minutes: 1) { remindAt state } }",
            {"id": reminder_id},
        )
    )["snoozeReminder"]
    assert snoozed["state"] == "SCHEDULED"

    async def rescheduled() -> bool:
        row = await schedule_row(engine, reminder_id)
        return bool(row.state == "SCHEDULED")

    await eventually(rescheduled)
    row = await schedule_row(engine, reminder_id)
    assert row.remind_at == datetime.fromisoformat(snoozed["remindAt"])
    # Rather than wait a minute, let the minute pass for the service: it fires a second time.
    async with engine.begin() as connection:
        await connection.execute(
            update(schedule)
            .where(schedule.c.reminder_id == uuid.UUID(reminder_id))
            .values(remind_at=func.now())
        )
    await until_state(carol, task["id"], "SENT", by=datetime.now(UTC) + timedelta(seconds=3))
    assert (await schedule_row(engine, reminder_id)).generation == 2
    assert (await carol.data(NOTIFICATIONS))["notifications"]["totalCount"] == 2


async def test_a_failing_webhook_is_retried_and_one_that_always_fails_ends_failed(
    notify_system: httpx.AsyncClient, receiver: Receiver, engine: AsyncEngine
) -> None:
    flaky, _ = await user(notify_system)
    broken, _ = await user(notify_system)
    for client, name, failures in ((flaky, "flaky", 2), (broken, "broken", -1)):
        secret = (await client.data(REGISTER, {"u": receiver.url(name, failures=failures)}))[
            "registerWebhook"
        ]["secret"]
        receiver.hooks[name].secret = secret
    first = await create(
        flaky, title="Flaky", reminders=[{"remindAt": soon(0.5), "channels": ["WEBHOOK"]}]
    )
    second = await create(
        broken, title="Broken", reminders=[{"remindAt": soon(0.5), "channels": ["WEBHOOK"]}]
    )
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    await until_state(flaky, first["id"], "SENT", by=deadline)
    received = receiver.hooks["flaky"].received
    assert len(received) == 3 and all(r["signed"] for r in received)
    assert len({r["delivery"] for r in received}) == 1  # one delivery, retried

    await until_state(broken, second["id"], "FAILED", by=deadline)
    assert len(receiver.hooks["broken"].received) == 4  # notification_max_attempts
    reminder_id = uuid.UUID(second["reminders"][0]["id"])
    async with engine.connect() as connection:
        delivery = (
            await connection.execute(
                select(deliveries.c.state, deliveries.c.attempts, deliveries.c.last_error).where(
                    deliveries.c.reminder_id == reminder_id
                )
            )
        ).one()
        failed = await connection.scalar(
            select(func.count()).where(
                outbox.c.type == "taskstream.notification.failed.v1",
                outbox.c.payload["data"]["reminderId"].astext == str(reminder_id),
            )
        )
    assert tuple(delivery) == ("FAILED", 4, "webhook answered 500")
    assert failed == 1


async def test_email_is_off_without_an_smtp_url(carol: GraphQLClient, engine: AsyncEngine) -> None:
    task = await create(
        carol, title="Mail me", reminders=[{"remindAt": soon(0.3), "channels": ["EMAIL"]}]
    )
    await until_state(carol, task["id"], "FAILED", by=datetime.now(UTC) + timedelta(seconds=3))
    row = await schedule_row(engine, task["reminders"][0]["id"])
    assert "TASKSTREAM_SMTP_URL is not set" in row.last_error


async def test_two_service_instances_fire_each_of_50_reminders_exactly_once(
    notify_system: httpx.AsyncClient,
    notify_settings: Settings,
    receiver: Receiver,
    engine: AsyncEngine,
) -> None:
    # A second notifications replica: its own firing loop on the same database, reaching the
    # gateway's internal API as the first one does.
    gateway = bootstrap(
        notify_settings, app_id="gateway", engine=engine, transport=MemoryTransport()
    )
    invoker = ServiceInvoker.in_process(app_token=None)
    invoker.add_local("gateway", create_internal_app(gateway))
    replica_runtime = bootstrap(
        notify_settings,
        app_id="notifications",
        engine=engine,
        transport=MemoryTransport(),
        invoker=invoker,
    )
    replica = firing_loop(replica_runtime)
    running = asyncio.create_task(replica.run())
    try:
        dave, _ = await user(notify_system)
        secret = (await dave.data(REGISTER, {"u": receiver.url("dave")}))["registerWebhook"][
            "secret"
        ]
        receiver.hooks["dave"].secret = secret
        at = soon(3)
        tasks = [
            await create(
                dave,
                title=f"Task {i}",
                reminders=[{"remindAt": at, "channels": ["IN_APP", "WEBHOOK"]}],
            )
            for i in range(50)
        ]
        reminder_ids = {t["reminders"][0]["id"] for t in tasks}
        deadline = datetime.fromisoformat(at) + timedelta(seconds=5)
        for task in tasks:
            await until_state(dave, task["id"], "SENT", by=deadline)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await invoker.close()
    async with engine.connect() as connection:
        per_reminder: dict[uuid.UUID, int] = dict(
            (
                await connection.execute(
                    select(notifications.c.reminder_id, func.count())
                    .where(notifications.c.reminder_id.in_([uuid.UUID(r) for r in reminder_ids]))
                    .group_by(notifications.c.reminder_id)
                )
            ).all()
        )
    assert {str(k): v for k, v in per_reminder.items()} == {r: 1 for r in reminder_ids}
    hooked = [r["json"]["reminderId"] for r in receiver.hooks["dave"].received]
    assert sorted(hooked) == sorted(reminder_ids)


async def test_a_reminder_due_while_the_service_was_down_fires_once_on_return(
    notify_settings: Settings, engine: AsyncEngine
) -> None:
    async with running(notify_settings, engine) as system:
        erin, _ = await user(system)
        task = await create(erin, title="While away", reminders=[{"remindAt": soon(1)}])
        reminder_id = task["reminders"][0]["id"]
        await eventually(lambda: _has_row(engine, reminder_id))
    await asyncio.sleep(1.5)  # the reminder comes due while nothing runs
    row = await schedule_row(engine, reminder_id)
    assert row.state == "SCHEDULED"
    late_before = REGISTRY.get_sample_value("taskstream_reminder_lateness_seconds_sum") or 0.0
    remind_at = datetime.fromisoformat(task["reminders"][0]["remindAt"])
    back_at = datetime.now(UTC)
    async with running(notify_settings, engine) as system:
        back = GraphQLClient(system)
        back.token = erin.token
        await until_state(back, task["id"], "SENT", by=datetime.now(UTC) + timedelta(seconds=2))
        await asyncio.sleep(0.5)
        assert (await back.data(NOTIFICATIONS))["notifications"]["totalCount"] == 1
    # It came due while nothing ran, so it fired late by at least the wait for the service's
    # return (the database clock decides, so allow for a little skew), and the histogram says so.
    late_after = REGISTRY.get_sample_value("taskstream_reminder_lateness_seconds_sum") or 0.0
    assert late_after - late_before >= (back_at - remind_at).total_seconds() - 0.1 > 0


async def test_another_users_notifications_and_webhooks_are_not_found(
    notify_system: httpx.AsyncClient, receiver: Receiver
) -> None:
    carol, _ = await user(notify_system)
    mallory, _ = await user(notify_system)
    hook = (await carol.data(REGISTER, {"u": receiver.url("carol-private")}))["registerWebhook"]
    task = await create(carol, title="Private", reminders=[{"remindAt": soon(0.3)}])
    await until_state(carol, task["id"], "SENT", by=datetime.now(UTC) + timedelta(seconds=3))
    mine = (await carol.data(NOTIFICATIONS))["notifications"]["edges"][0]["node"]["id"]

    read = await mallory.error(
        "mutation($id: ID!) { markNotificationRead(id: $id) { id } }", {"id": mine}
    )
    assert read["extensions"] == {"code": "NOT_FOUND"}
    delete = await mallory.error(
        "mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": hook["webhook"]["id"]}
    )
    assert delete["extensions"] == {"code": "NOT_FOUND"}
    theirs = await mallory.data("{ webhooks { id } notifications { totalCount edges { cursor } } }")
    assert theirs == {"webhooks": [], "notifications": {"totalCount": 0, "edges": []}}
    # Carol's notification is still unread and her webhook still there.
    page = (await carol.data(NOTIFICATIONS, {"unread": True}))["notifications"]
    assert page["totalCount"] == 1
    assert [w["id"] for w in (await carol.data("{ webhooks { id } }"))["webhooks"]] == [
        hook["webhook"]["id"]
    ]


async def test_webhook_registration_emits_events_for_the_audit_trail(
    notify_system: httpx.AsyncClient, receiver: Receiver, engine: AsyncEngine
) -> None:
    carol, profile = await user(notify_system)
    hook = (await carol.data(REGISTER, {"u": receiver.url("audited")}))["registerWebhook"]
    await carol.data("mutation($id: ID!) { deleteWebhook(id: $id) }", {"id": hook["webhook"]["id"]})
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(outbox.c.type, outbox.c.topic)
                .where(outbox.c.payload["data"]["webhookId"].astext == hook["webhook"]["id"])
                .order_by(outbox.c.position)
            )
        ).all()
        raw = await connection.scalar(
            text("SELECT count(*) FROM notifications.webhooks WHERE user_id = :u"),
            {"u": uuid.UUID(profile["id"])},
        )
    assert [tuple(r) for r in rows] == [
        ("taskstream.webhook.registered.v1", "notifications"),
        ("taskstream.webhook.deleted.v1", "notifications"),
    ]
    assert raw == 0
