"""Reminders and "assigned to you" notices reach a project task's assignee in `up`: gateway →
outbox → notifications, with a real SMTP server. Bob assigned: Bob gets the reminder and the
notice, Alice (the owner) nothing; reassigned to Carol: only Carol; Bob removed from the
project: nothing more for Bob (the reminder goes back to Alice)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_notifications_flow import Mailbox, eventually, free_port, running, soon
from tests.e2e.test_projects import create, join, new_user
from workers.notifications.tables import schedule

pytestmark = pytest.mark.e2e

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id reminders { id } } }"
ASSIGN = "mutation($id: ID!, $a: ID!) { updateTask(id: $id, input: {assigneeId: $a}) { id } }"
REMOVE = "mutation($p: ID!, $u: ID!) { removeMember(projectId: $p, userId: $u) { id } }"
STATE = "query($id: ID!) { task(id: $id) { reminders { state } } }"
INBOX = "{ notifications(first: 50) { edges { node { taskId title channel } } } }"


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


@pytest.fixture
async def system(
    settings: Settings, mailbox: Mailbox, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The whole in-process system with email on."""
    with_email = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{mailbox.port}"})
    async with running(with_email, engine) as client:
        yield client


async def recipient(engine: AsyncEngine, reminder_id: str) -> uuid.UUID | None:
    """Who the notifications service will deliver the reminder to (None before its event)."""
    async with engine.connect() as connection:
        found: uuid.UUID | None = await connection.scalar(
            select(schedule.c.recipient_id).where(schedule.c.reminder_id == uuid.UUID(reminder_id))
        )
        return found


async def fire_when_sent_to(
    engine: AsyncEngine, owner: GraphQLClient, task: dict[str, Any], user_id: str
) -> None:
    """Once the service has the reminder for `user_id`, make it due now and await its SENT."""
    reminder_id = task["reminders"][0]["id"]

    async def routed() -> bool:
        return await recipient(engine, reminder_id) == uuid.UUID(user_id)

    await eventually(routed)
    # Rather than wait an hour, let the hour pass for the service.
    async with engine.begin() as connection:
        await connection.execute(
            update(schedule)
            .where(schedule.c.reminder_id == uuid.UUID(reminder_id))
            .values(remind_at=func.now())
        )

    async def sent() -> bool:
        found = await owner.data(STATE, {"id": task["id"]})
        return bool(found["task"]["reminders"][0]["state"] == "SENT")

    await eventually(sent, 10.0)


async def inbox(client: GraphQLClient) -> list[tuple[str, str]]:
    """(task id, title) of the client's in-app notifications about tasks, sorted."""
    page = await client.data(INBOX)
    # An invitation's notice (no task; sent or not, depending on how fast it was accepted) aside.
    nodes = (e["node"] for e in page["notifications"]["edges"])
    return sorted((n["taskId"], n["title"]) for n in nodes if n["taskId"] is not None)


async def test_reminders_and_notices_follow_the_assignee(
    system: httpx.AsyncClient, mailbox: Mailbox, engine: AsyncEngine
) -> None:
    alice, a = await new_user(system)
    bob, b = await new_user(system)
    carol, c = await new_user(system)
    project = (await create(alice))["id"]
    await join(alice, bob, project, b["email"], "EDITOR")
    await join(alice, carol, project, c["email"], "EDITOR")

    async def task(title: str) -> dict[str, Any]:
        created: dict[str, Any] = (
            await alice.data(
                CREATE,
                {
                    "i": {
                        "title": title,
                        "projectId": project,
                        "assigneeId": b["id"],
                        "reminders": [{"remindAt": soon(3600), "channels": ["IN_APP", "EMAIL"]}],
                    }
                },
            )
        )["createTask"]
        return created

    first = await task("For Bob")
    await fire_when_sent_to(engine, alice, first, b["id"])

    second = await task("For Carol")
    await alice.data(ASSIGN, {"id": second["id"], "a": c["id"]})
    await fire_when_sent_to(engine, alice, second, c["id"])

    third = await task("Back to Alice")
    await alice.data(REMOVE, {"p": project, "u": b["id"]})
    await fire_when_sent_to(engine, alice, third, a["id"])

    assert await inbox(bob) == sorted(
        [
            (first["id"], "Assigned to you: For Bob"),
            (first["id"], "For Bob"),
            (second["id"], "Assigned to you: For Carol"),
            (third["id"], "Assigned to you: Back to Alice"),
        ]
    )
    assert await inbox(carol) == sorted(
        [(second["id"], "Assigned to you: For Carol"), (second["id"], "For Carol")]
    )
    # Alice assigned everything herself (no notice) and owns only the reminder she got back.
    assert await inbox(alice) == [(third["id"], "Back to Alice")]

    def subjects(email: str) -> list[str]:
        # Invitation emails (sent or not, depending on how fast the invitee accepted) aside.
        found = (str(m["Subject"]) for m in mailbox.to(email))
        return sorted(s for s in found if s.startswith(("Assigned to you: ", "Reminder: ")))

    async def mailed() -> bool:
        return len(subjects(b["email"])) == 4 and len(subjects(c["email"])) == 2

    await eventually(mailed)
    assert subjects(b["email"]) == [
        "Assigned to you: Back to Alice",
        "Assigned to you: For Bob",
        "Assigned to you: For Carol",
        "Reminder: For Bob",
    ]
    assert subjects(c["email"]) == ["Assigned to you: For Carol", "Reminder: For Carol"]
    assert subjects(a["email"]) == ["Reminder: Back to Alice"]
