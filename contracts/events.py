"""Every CloudEvent type Taskstream publishes, one typed model per type and version.

Adding an event type is one class here: give it `TYPE` and `TOPIC`, its `data` fields, and say
what its subject and partition key are; it is registered by being defined. Producers build
events only through these models (`taskstream.messaging.cloudevents.encode`), consumers
register handlers by model (`Consumer.on(TaskCompleted, handler)`) and receive them typed, and
`taskstream events-schema` writes docs/events/*.schema.json from them.

A breaking change is a new class with the next version in its `TYPE` (docs/events.md,
"Versioning policy"); the old one stays until no consumer needs it.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal, Self, TypeVar

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from contracts.task import Change, Channel, TagName, Task, TaskChanges
from taskstream.errors import InvalidInput
from taskstream.messaging.cloudevents import (
    NOTIFICATIONS_TOPIC,
    REMINDERS_TOPIC,
    TASK_EVENTS_TOPIC,
    CloudEvent,
    EventModel,
    Instant,
    WireModel,
    decode,
    type_name,
    validate,
)

# type -> model of every event type defined below (filled as the classes are defined).
REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound="Event")


class Event(EventModel):
    """Base of the registered event types: a subclass with its own `TYPE` is registered.

    Every event is about one user's data: `userId` comes first in every `data` and is the
    partition key, so one user's events stay in order.
    """

    user_id: uuid.UUID

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        event_type = cls.__dict__.get("TYPE")
        if event_type is None:
            return
        if event_type in REGISTRY:
            raise TypeError(f"{event_type} is already defined by {REGISTRY[event_type]}")
        REGISTRY[event_type] = cls

    def partition_key(self) -> str:
        """The user id: one user's events stay in order."""
        return str(self.user_id)


class TaskEvent(Event):
    """What every task event carries: whose task, which, at which version, and the task."""

    TOPIC: ClassVar[str] = TASK_EVENTS_TOPIC

    task_id: uuid.UUID
    version: int = Field(ge=1)
    task: Task
    actor_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The user who made the change, when the task is in a shared project (any member "
            "with the role may change it; `userId` stays its owner); absent otherwise."
        ),
    )

    @model_serializer(mode="wrap")
    def _actor_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent rather than null: personal tasks' events read as before projects existed.
        dumped: dict[str, Any] = handler(self)
        if dumped.get("actorId", "") is None:
            del dumped["actorId"]
        return dumped

    @classmethod
    def of(cls, task: Task, **fields: Any) -> Self:
        """The event of a task in its state after the change."""
        return cls(user_id=task.user_id, task_id=task.id, version=task.version, task=task, **fields)

    def subject(self) -> str:
        """The task id."""
        return str(self.task_id)


class TaskCreated(TaskEvent):
    """A task was created (by a user, or by the recurrence service as a series' next instance)."""

    TYPE: ClassVar[str] = "taskstream.task.created.v1"


class TaskUpdated(TaskEvent):
    """Fields of a task changed (updateTask, skipOccurrence, snoozeReminder, a tag rename or
    delete, a reminder outcome recorded by the notifications service); `changes` maps each
    changed field to its before and after."""

    TYPE: ClassVar[str] = "taskstream.task.updated.v1"

    changes: TaskChanges


class TaskCompleted(TaskEvent):
    """An open task was completed (its pending reminders are cancelled)."""

    TYPE: ClassVar[str] = "taskstream.task.completed.v1"


class TaskReopened(TaskEvent):
    """A done task was opened again."""

    TYPE: ClassVar[str] = "taskstream.task.reopened.v1"


class TaskDeleted(TaskEvent):
    """A task was deleted; `task` is its last state."""

    TYPE: ClassVar[str] = "taskstream.task.deleted.v1"


class TaskRestored(TaskEvent):
    """A deleted task was brought back within the restore window (restoreTask), with the
    reminders its deletion cancelled scheduled again; `task` is its state after the restore
    (its subtasks come back too, each with its own event)."""

    TYPE: ClassVar[str] = "taskstream.task.restored.v1"


class TagNameChange(Change[TagName]):
    """A tag's name before and after."""


class TagRenamedChanges(WireModel):
    """The tag's name before and after."""

    name: TagNameChange


class TagDeletedName(WireModel):
    """The deleted tag's last name; `after` is always null."""

    before: TagName
    after: None = None


class TagDeletedChanges(WireModel):
    """The tag's name before, and null after."""

    name: TagDeletedName


class TagEvent(Event):
    """A tag of a user changed; each task carrying it gets its own task.updated as well."""

    TOPIC: ClassVar[str] = TASK_EVENTS_TOPIC

    tag_id: uuid.UUID

    def subject(self) -> str:
        """The tag id."""
        return str(self.tag_id)


class TagRenamed(TagEvent):
    """A tag was renamed."""

    TYPE: ClassVar[str] = "taskstream.tag.renamed.v1"

    changes: TagRenamedChanges


class TagDeleted(TagEvent):
    """A tag was deleted and taken off every task that carried it."""

    TYPE: ClassVar[str] = "taskstream.tag.deleted.v1"

    changes: TagDeletedChanges


class UserDeleted(Event):
    """An account was deleted: every service erases the user's data (docs/compliance.md)."""

    TYPE: ClassVar[str] = "taskstream.user.deleted.v1"
    TOPIC: ClassVar[str] = TASK_EVENTS_TOPIC

    def subject(self) -> str:
        """The user id."""
        return str(self.user_id)


class WebhookEvent(Event):
    """A user's webhook changed (recorded by the audit trail; never carries the secret)."""

    TOPIC: ClassVar[str] = NOTIFICATIONS_TOPIC

    webhook_id: uuid.UUID
    url: str = Field(pattern=r"^https?://")

    def subject(self) -> str:
        """The webhook id."""
        return str(self.webhook_id)


class WebhookRegistered(WebhookEvent):
    """A webhook was registered."""

    TYPE: ClassVar[str] = "taskstream.webhook.registered.v1"


class WebhookDeleted(WebhookEvent):
    """A webhook was deleted."""

    TYPE: ClassVar[str] = "taskstream.webhook.deleted.v1"


class ReminderDue(Event):
    """The scheduler's record that a reminder came due and its deliveries were queued."""

    TYPE: ClassVar[str] = "taskstream.reminder.due.v1"
    TOPIC: ClassVar[str] = REMINDERS_TOPIC

    task_id: uuid.UUID
    reminder_id: uuid.UUID
    remind_at: Instant
    channels: list[Channel] = Field(min_length=1)
    firing: int = Field(ge=1, description="1 for the first firing, +1 per re-fire after a snooze")

    def subject(self) -> str:
        """The task id."""
        return str(self.task_id)


class NotificationSent(Event):
    """One channel delivery of a reminder succeeded."""

    TYPE: ClassVar[str] = "taskstream.notification.sent.v1"
    TOPIC: ClassVar[str] = NOTIFICATIONS_TOPIC

    task_id: uuid.UUID
    reminder_id: uuid.UUID
    delivery_id: uuid.UUID
    notification_id: uuid.UUID | None = Field(
        description="Set for IN_APP deliveries only (the stored Notification the subscription "
        "pushes)."
    )
    channel: Channel
    title: str
    body: str
    created_at: Instant
    attempts: int = Field(ge=0)
    webhook_id: uuid.UUID | None = Field(
        default=None, description="Present for WEBHOOK deliveries to a registered webhook."
    )

    @model_serializer(mode="wrap")
    def _webhook_only_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Absent rather than null for deliveries to no registered webhook (as always written).
        dumped: dict[str, Any] = handler(self)
        if dumped.get("webhookId", "") is None:
            del dumped["webhookId"]
        return dumped

    def subject(self) -> str:
        """The task id."""
        return str(self.task_id)


class NotificationFailed(NotificationSent):
    """One channel delivery of a reminder gave up after its retries; `error` says why."""

    TYPE: ClassVar[str] = "taskstream.notification.failed.v1"

    error: str


class NotificationCreated(Event):
    """An in-app notification that no reminder delivery announces was stored: an assignment
    notice, an invitation. `userId` is its recipient, whose `notifications` subscription
    pushes it (a reminder's in-app notification is announced by `notification.sent.v1`)."""

    TYPE: ClassVar[str] = "taskstream.notification.created.v1"
    TOPIC: ClassVar[str] = NOTIFICATIONS_TOPIC

    notification_id: uuid.UUID
    task_id: uuid.UUID | None = Field(
        description="The task it is about (an assignment), or null (an invitation)."
    )
    title: str
    body: str
    created_at: Instant

    def subject(self) -> str:
        """The notification id."""
        return str(self.notification_id)


ProjectRoleName = Literal["OWNER", "EDITOR", "VIEWER"]
InvitationStateName = Literal["PENDING", "ACCEPTED", "DECLINED", "REVOKED"]


class ProjectEvent(Event):
    """A change to a shared project; `userId` is the user who made it.

    The partition key is the project id, not the user: the changes of one project, made by
    several members, stay in the order they were committed.
    """

    TOPIC: ClassVar[str] = TASK_EVENTS_TOPIC

    project_id: uuid.UUID
    version: int = Field(ge=1, description="The project's version after the change.")

    def subject(self) -> str:
        """The project id."""
        return str(self.project_id)

    def partition_key(self) -> str:
        """The project id: one project's changes stay in order whoever made them."""
        return str(self.project_id)


class ProjectCreated(ProjectEvent):
    """A project was created; its creator is its first OWNER."""

    TYPE: ClassVar[str] = "taskstream.project.created.v1"

    name: str = Field(min_length=1, max_length=100)
    color: str | None


class ProjectUpdated(ProjectEvent):
    """A project's name, color or archived flag changed (the state after the change)."""

    TYPE: ClassVar[str] = "taskstream.project.updated.v1"

    name: str = Field(min_length=1, max_length=100)
    color: str | None
    archived: bool


class ProjectDeleted(ProjectEvent):
    """A project was deleted with its memberships and invitations."""

    TYPE: ClassVar[str] = "taskstream.project.deleted.v1"

    member_ids: list[uuid.UUID] = Field(description="Who were members when it was deleted.")


class ProjectMemberEvent(ProjectEvent):
    """A membership of a project changed: whose, and their role."""

    member_id: uuid.UUID
    role: ProjectRoleName


class ProjectMemberAdded(ProjectMemberEvent):
    """A user joined a project (the creator, or an invitee accepting)."""

    TYPE: ClassVar[str] = "taskstream.project.member.added.v1"


class ProjectMemberChanged(ProjectMemberEvent):
    """A member's role changed; `role` is the new one."""

    TYPE: ClassVar[str] = "taskstream.project.member.changed.v1"

    previous_role: ProjectRoleName


class ProjectMemberRemoved(ProjectMemberEvent):
    """A member was removed, or left (`userId` equals `memberId`); `role` is the last one."""

    TYPE: ClassVar[str] = "taskstream.project.member.removed.v1"


class ProjectInvitationEvent(ProjectEvent):
    """An invitation to a project changed; never carries the invitee's email (personal data
    of someone who may have no account)."""

    invitation_id: uuid.UUID
    role: ProjectRoleName
    state: InvitationStateName


class ProjectInvitationCreated(ProjectInvitationEvent):
    """An owner invited an email address to a project."""

    TYPE: ClassVar[str] = "taskstream.project.invitation.created.v1"

    invitee_id: uuid.UUID | None = Field(
        description="The account with the invited email when there is one, else null."
    )


class ProjectInvitationAnswered(ProjectInvitationEvent):
    """The invitee accepted or declined (`state`); `userId` is the invitee."""

    TYPE: ClassVar[str] = "taskstream.project.invitation.answered.v1"


class ProjectInvitationRevoked(ProjectInvitationEvent):
    """An owner revoked a pending invitation."""

    TYPE: ClassVar[str] = "taskstream.project.invitation.revoked.v1"


class ProjectSectionEvent(ProjectEvent):
    """A section of a project changed: which, its name and its position (after the change;
    the last ones for a deletion)."""

    section_id: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    position: str = Field(min_length=1, max_length=255)


class ProjectSectionCreated(ProjectSectionEvent):
    """An editor or owner added a section to a project (at the end of its sections)."""

    TYPE: ClassVar[str] = "taskstream.project.section.created.v1"


class ProjectSectionRenamed(ProjectSectionEvent):
    """A section was renamed; `name` is the new name."""

    TYPE: ClassVar[str] = "taskstream.project.section.renamed.v1"


class ProjectSectionDeleted(ProjectSectionEvent):
    """A section was deleted; its tasks moved to the project's tasks without a section (each
    with its own task.updated), none was deleted."""

    TYPE: ClassVar[str] = "taskstream.project.section.deleted.v1"

    moved_task_count: int = Field(ge=0, description="How many tasks moved out of the section.")


class ProjectMoved(Event):
    """A member moved a project in their own sidebar (each member orders their own); only
    that member's windows follow it. `position` is the project's new key among theirs."""

    TYPE: ClassVar[str] = "taskstream.project.moved.v1"
    TOPIC: ClassVar[str] = TASK_EVENTS_TOPIC

    project_id: uuid.UUID
    position: str = Field(min_length=1, max_length=255)

    def subject(self) -> str:
        """The project id."""
        return str(self.project_id)


def model_among(body: dict[str, Any], *, models: tuple[type[E], ...]) -> type[E] | None:
    """The model of a CloudEvent's type when it is one of `models`; None when it is none of them.

    InvalidInput when the body is not a CloudEvent, or is another version of one of `models`
    (it cannot be read as a version known here): such an event is for the dead-letter topic.
    """
    validate(body)
    event_type = str(body["type"])
    for model in models:
        if event_type == model.TYPE:
            return model
    name, _ = type_name(event_type)
    known = sorted(m.TYPE for m in models if type_name(m.TYPE)[0] == name)
    if known:
        raise InvalidInput("cloudevent.type", f"unknown version {event_type}: known {known}")
    return None


def decode_among(
    body: dict[str, Any], *, topic: str, models: tuple[type[E], ...]
) -> CloudEvent[E] | None:
    """The event when its type is one of `models`, typed; None when it is none of them.

    InvalidInput when it is another version of one of them or fails validation.
    """
    model = model_among(body, models=models)
    return None if model is None else decode(body, model, topic=topic)


def decode_any(body: dict[str, Any], *, topic: str) -> CloudEvent[Event]:
    """Any registered event, typed; InvalidInput when its type is unknown or it is malformed."""
    model = REGISTRY.get(str(body.get("type")))
    if model is None:
        raise InvalidInput("cloudevent.type", f"unknown event type {body.get('type')!r}")
    return decode(body, model, topic=topic)
