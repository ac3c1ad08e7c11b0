"""The gateway's internal API: what workers ask of it (they never touch its tables).

Every change made here goes through the gateway's services, aggregate rules and outbox, like a
user's mutation.
"""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, Field

from contracts.invocation import SOURCE_MAX, TEXT_MAX, Answer, Request
from taskstream.invocation import Endpoint, ServiceInvoker

SERVICE = "gateway"


class GetUser(Request):
    """A user by id."""

    user_id: uuid.UUID


class FindUser(Request):
    """A user by email (compared as the gateway compares emails at login)."""

    email: str = Field(max_length=TEXT_MAX)


class User(Answer):
    """A user as services may know them."""

    id: uuid.UUID
    email: str
    timezone: str


class GetInvitation(Request):
    """An invitation to a shared project by id (for the notifications service's email)."""

    invitation_id: uuid.UUID


class Invitation(Answer):
    """An invitation as it is now, with what its email says: the invited address (which may
    have no account, so it never travels in events), the project's name, the inviter's
    address and the role."""

    id: uuid.UUID
    project_id: uuid.UUID
    project_name: str
    email: str
    role: str
    state: str
    invited_by: uuid.UUID
    invited_by_email: str


class CreateNextInstance(Request):
    """Create the next instance of the series whose instance `task_id` was completed."""

    task_id: uuid.UUID
    user_id: uuid.UUID
    due_at: AwareDatetime
    source: str = Field(default="recurrence", min_length=1, max_length=SOURCE_MAX)


class TaskInstance(Answer):
    """The instance a series has next (new, or the one an earlier call created)."""

    id: uuid.UUID
    series_id: uuid.UUID | None
    instance_number: int
    due_at: AwareDatetime | None


class RecordReminderOutcome(Request):
    """Record that a reminder was sent, or that sending it failed for good."""

    reminder_id: uuid.UUID
    user_id: uuid.UUID
    sent: bool
    at: AwareDatetime
    source: str = Field(default="notifications", min_length=1, max_length=SOURCE_MAX)


class ReminderRecorded(Answer):
    """A reminder after its outcome was recorded."""

    id: uuid.UUID
    state: str
    sent_at: AwareDatetime | None


GET_USER = Endpoint(SERVICE, "GET", "/internal/users/{userId}", GetUser, User)
FIND_USER = Endpoint(SERVICE, "GET", "/internal/users", FindUser, User)
GET_INVITATION = Endpoint(
    SERVICE, "GET", "/internal/invitations/{invitationId}", GetInvitation, Invitation
)
CREATE_NEXT_INSTANCE = Endpoint(
    SERVICE, "POST", "/internal/tasks/{taskId}/next-instance", CreateNextInstance, TaskInstance
)
RECORD_REMINDER_OUTCOME = Endpoint(
    SERVICE,
    "POST",
    "/internal/reminders/{reminderId}/outcome",
    RecordReminderOutcome,
    ReminderRecorded,
)


class GatewayClient:
    """Calls the gateway's internal API (through Dapr, or in-process in `up`)."""

    def __init__(self, invoker: ServiceInvoker) -> None:
        self._invoker = invoker

    async def get_user(self, request: GetUser) -> User:
        """The user with this id; NotFound when there is none."""
        return await self._invoker.invoke(GET_USER, request)

    async def find_user(self, request: FindUser) -> User:
        """The user with this email; NotFound when there is none."""
        return await self._invoker.invoke(FIND_USER, request)

    async def get_invitation(self, request: GetInvitation) -> Invitation:
        """The invitation as it is now; NotFound when there is none (its project deleted)."""
        return await self._invoker.invoke(GET_INVITATION, request)

    async def create_next_instance(self, request: CreateNextInstance) -> TaskInstance:
        """The series' next instance (exactly one, however often asked); NotFound if gone."""
        return await self._invoker.invoke(CREATE_NEXT_INSTANCE, request)

    async def record_reminder_outcome(self, request: RecordReminderOutcome) -> ReminderRecorded:
        """Record a reminder's outcome; NotFound (task gone) or Conflict (reminder changed)."""
        return await self._invoker.invoke(RECORD_REMINDER_OUTCOME, request)
