"""The Task aggregate and its parts; every change raises a domain event."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from taskstream.errors import Conflict, InvalidInput, NotFound
from taskstream.recurrence import Recurrence, RepeatFrom

TITLE_MAX = 500
NOTES_MAX = 20_000
TAGS_MAX = 20
TAG_NAME_MAX = 50
REMINDERS_MAX = 10
BEFORE_DUE_MAX_MINUTES = 366 * 24 * 60
SNOOZE_MAX_MINUTES = 30 * 24 * 60


class Priority(enum.IntEnum):
    """Priorities in ascending order of urgency; the integer is the sort key."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


class TaskStatus(enum.Enum):
    """Whether a task is still to be done."""

    OPEN = "OPEN"
    DONE = "DONE"


class Channel(enum.Enum):
    """Where a reminder is delivered."""

    IN_APP = "IN_APP"
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"
    PUSH = "PUSH"


class ReminderState(enum.Enum):
    """Lifecycle of one reminder."""

    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


def clean_title(title: str) -> str:
    """The title trimmed, or InvalidInput when it is empty or too long."""
    trimmed = title.strip()
    if not 1 <= len(trimmed) <= TITLE_MAX:
        raise InvalidInput("title", f"must be 1 to {TITLE_MAX} characters after trimming")
    return trimmed


def clean_notes(notes: str) -> str:
    """The notes as given, or InvalidInput when longer than allowed."""
    if len(notes) > NOTES_MAX:
        raise InvalidInput("notes", f"must be at most {NOTES_MAX} characters")
    return notes


def clean_tag_name(name: str, *, field_name: str = "tags") -> str:
    """A tag name trimmed, or InvalidInput when empty or too long."""
    trimmed = " ".join(name.split())
    if not 1 <= len(trimmed) <= TAG_NAME_MAX:
        raise InvalidInput(field_name, f"tag names must be 1 to {TAG_NAME_MAX} characters")
    return trimmed


def tag_key(name: str) -> str:
    """The case-insensitive identity of a tag name."""
    return name.casefold()


def clean_tags(names: list[str]) -> tuple[str, ...]:
    """Tag names trimmed and de-duplicated case-insensitively, first spelling kept."""
    seen: dict[str, str] = {}
    for name in names:
        cleaned = clean_tag_name(name)
        seen.setdefault(tag_key(cleaned), cleaned)
    if len(seen) > TAGS_MAX:
        raise InvalidInput("tags", f"a task may carry at most {TAGS_MAX} tags")
    return tuple(seen.values())


def require_aware(value: datetime, field_name: str) -> datetime:
    """The datetime when it carries an offset, else InvalidInput."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field_name, "must be an RFC 3339 date-time with an explicit offset")
    return value


@dataclass(frozen=True, slots=True)
class ReminderSpec:
    """What a client asks for: exactly one of an absolute time or minutes before due."""

    remind_at: datetime | None
    before_due: int | None
    channels: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class Reminder:
    """A reminder of a task; relative ones follow the task's due date."""

    id: uuid.UUID
    remind_at: datetime
    before_due: int | None
    channels: tuple[Channel, ...]
    state: ReminderState = ReminderState.SCHEDULED
    sent_at: datetime | None = None


def build_reminders(specs: list[ReminderSpec], due_at: datetime | None) -> tuple[Reminder, ...]:
    """New scheduled reminders from client specs, validated against the due date."""
    if len(specs) > REMINDERS_MAX:
        raise InvalidInput("reminders", f"a task may have at most {REMINDERS_MAX} reminders")
    built = []
    for index, spec in enumerate(specs):
        where = f"reminders[{index}]"
        if (spec.remind_at is None) == (spec.before_due is None):
            raise InvalidInput(where, "give exactly one of remindAt and beforeDue")
        if not spec.channels:
            raise InvalidInput(f"{where}.channels", "give at least one channel")
        channels = tuple(dict.fromkeys(spec.channels))
        if spec.before_due is not None:
            if not 0 <= spec.before_due <= BEFORE_DUE_MAX_MINUTES:
                raise InvalidInput(
                    f"{where}.beforeDue", f"must be 0 to {BEFORE_DUE_MAX_MINUTES} minutes"
                )
            if due_at is None:
                raise InvalidInput(f"{where}.beforeDue", "a relative reminder needs a due date")
            remind_at = due_at - timedelta(minutes=spec.before_due)
        else:
            assert spec.remind_at is not None
            remind_at = require_aware(spec.remind_at, f"{where}.remindAt")
        built.append(Reminder(uuid.uuid4(), remind_at, spec.before_due, channels))
    return tuple(built)


# The fields an update reports in its before/after diff, in the order it reports them.
DIFFED_FIELDS = (
    "title",
    "notes",
    "priority",
    "tags",
    "due_at",
    "recurrence",
    "series_id",
    "reminders",
    "assignee_id",
)


@dataclass(slots=True)
class Task:
    """The aggregate: one task, its tags, reminders and recurrence, and its pending events."""

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    notes: str
    status: TaskStatus
    priority: Priority
    tags: tuple[str, ...]
    due_at: datetime | None
    completed_at: datetime | None
    recurrence: Recurrence | None
    series_id: uuid.UUID | None
    instance_number: int
    reminders: tuple[Reminder, ...]
    created_at: datetime
    updated_at: datetime
    version: int
    # None: the owner's personal space (the inbox); else the shared project holding it.
    project_id: uuid.UUID | None = None
    # Who the task is assigned to (a member of its project; in the inbox only the owner).
    assignee_id: uuid.UUID | None = None
    # Structure: the project's section, the parent task (a subtask lives in its parent's
    # project and section), and the fractional-index key among its siblings ("" until the
    # repository appends it to its list).
    section_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    position: str = ""
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        user_id: uuid.UUID,
        title: str,
        notes: str = "",
        priority: Priority = Priority.NONE,
        tags: list[str] | None = None,
        due_at: datetime | None = None,
        recurrence: RecurrenceRequest | None = None,
        reminders: list[ReminderSpec] | None = None,
        now: datetime,
        source: str = "gateway",
        series: SeriesContinuation | None = None,
        project_id: uuid.UUID | None = None,
        assignee_id: uuid.UUID | None = None,
        section_id: uuid.UUID | None = None,
        parent_id: uuid.UUID | None = None,
        position: str = "",
    ) -> Task:
        """A new open task, validated, with its TaskCreated event."""
        if due_at is not None:
            require_aware(due_at, "dueAt")
        parsed: Recurrence | None = None
        if recurrence is not None:
            parsed = recurrence.parse(dtstart=due_at, now=now)
            due_at = due_at if due_at is not None else parsed.dtstart
        task = cls(
            id=uuid.uuid4(),
            user_id=user_id,
            title=clean_title(title),
            notes=clean_notes(notes),
            status=TaskStatus.OPEN,
            priority=priority,
            tags=clean_tags(tags or []),
            due_at=due_at,
            completed_at=None,
            recurrence=parsed,
            series_id=uuid.uuid4() if parsed is not None else None,
            instance_number=1,
            reminders=build_reminders(reminders or [], due_at),
            created_at=now,
            updated_at=now,
            version=1,
            project_id=project_id,
            assignee_id=assignee_id,
            section_id=section_id,
            parent_id=parent_id,
            position=position,
        )
        if series is not None:
            task.series_id = series.series_id
            task.instance_number = series.instance_number
        task.events.append(TaskCreated(task=task.copy(), source=source, at=now))
        return task

    def next_instance(self, *, due_at: datetime, now: datetime, source: str) -> Task:
        """The next open instance of this recurring task's series, due at `due_at`."""
        if self.recurrence is None or self.series_id is None or self.due_at is None:
            raise InvalidInput("id", "only a recurring task has a next instance")
        shift = due_at - self.due_at
        task = Task(
            id=uuid.uuid4(),
            user_id=self.user_id,
            title=self.title,
            notes=self.notes,
            status=TaskStatus.OPEN,
            priority=self.priority,
            tags=self.tags,
            due_at=due_at,
            completed_at=None,
            recurrence=self.recurrence,
            series_id=self.series_id,
            instance_number=self.instance_number + 1,
            reminders=tuple(
                replace(r, id=uuid.uuid4(), state=ReminderState.SCHEDULED, sent_at=None)
                for r in shift_reminders(
                    tuple(replace(r, state=ReminderState.SCHEDULED) for r in self.reminders),
                    due_at,
                    shift,
                )
            ),
            created_at=now,
            updated_at=now,
            version=1,
            project_id=self.project_id,
            assignee_id=self.assignee_id,
            section_id=self.section_id,
            parent_id=self.parent_id,
        )
        task.events.append(TaskCreated(task=task.copy(), source=source, at=now))
        return task

    def copy_under(
        self,
        *,
        parent_id: uuid.UUID,
        due_shift: timedelta | None,
        now: datetime,
        source: str,
    ) -> Task:
        """An open copy of this subtask under `parent_id` (a series' next instance or a copy
        below it), in the same list position, with its own TaskCreated event."""
        task = Task(
            id=uuid.uuid4(),
            user_id=self.user_id,
            title=self.title,
            notes=self.notes,
            status=TaskStatus.OPEN,
            priority=self.priority,
            tags=self.tags,
            # A subtask's due date is relative to its series: it moves with the instance
            # (dropped when the series did not move by a known interval).
            due_at=(
                self.due_at + due_shift
                if self.due_at is not None and due_shift is not None
                else None
            ),
            completed_at=None,
            # Only the instance repeats; a copied subtask is one task, with no reminders of
            # its own to fire twice across the series.
            recurrence=None,
            series_id=None,
            instance_number=1,
            reminders=(),
            created_at=now,
            updated_at=now,
            version=1,
            project_id=self.project_id,
            assignee_id=self.assignee_id,
            section_id=self.section_id,
            parent_id=parent_id,
            position=self.position,
        )
        task.events.append(TaskCreated(task=task.copy(), source=source, at=now))
        return task

    def record_reminder_outcome(
        self, reminder_id: uuid.UUID, *, sent: bool, at: datetime, source: str
    ) -> Reminder:
        """Mark a scheduled reminder SENT (at `at`) or FAILED; CONFLICT when it was not due."""
        before = self.reminders
        updated: Reminder | None = None
        reminders = []
        for reminder in self.reminders:
            if reminder.id == reminder_id:
                if reminder.state is not ReminderState.SCHEDULED:
                    raise Conflict(
                        f"reminder {reminder_id} is {reminder.state.value}, not SCHEDULED"
                    )
                reminder = replace(
                    reminder,
                    state=ReminderState.SENT if sent else ReminderState.FAILED,
                    sent_at=at if sent else None,
                )
                updated = reminder
            reminders.append(reminder)
        if updated is None:
            raise NotFound("reminder", reminder_id)
        self._replace_reminders(tuple(reminders), before, at=at, source=source)
        return updated

    def copy(self) -> Task:
        """This task as it is now, for an event (later changes do not reach the copy)."""
        return replace(self, events=[])

    def _state(self, names: tuple[str, ...] = DIFFED_FIELDS) -> dict[str, Any]:
        """The values of the diffed fields, to compare before and after a change."""
        return {name: getattr(self, name) for name in names}

    def _diff(
        self, before: dict[str, Any], names: tuple[str, ...] = DIFFED_FIELDS
    ) -> dict[str, tuple[Any, Any]]:
        """Each of `names` whose value differs from `before`: (before, after)."""
        after = self._state(names)
        return {name: (before[name], after[name]) for name in names if before[name] != after[name]}

    def update(self, change: TaskChange, *, now: datetime, source: str = "gateway") -> None:
        """Apply the given fields; raises TaskUpdated with before/after of what changed."""
        if change.expected_version is not None and change.expected_version != self.version:
            raise Conflict(
                f"expectedVersion: the task is at version {self.version}, "
                f"not {change.expected_version}"
            )
        before = self._state()
        title = clean_title(change.title) if change.title is not None else self.title
        notes = clean_notes(change.notes) if change.notes is not None else self.notes
        priority = change.priority if change.priority is not None else self.priority
        tags = clean_tags(change.tags) if change.tags is not None else self.tags
        if change.clear_due_at and change.due_at is not None:
            raise InvalidInput("clearDueAt", "cannot be combined with dueAt")
        if change.clear_recurrence and change.recurrence is not None:
            raise InvalidInput("clearRecurrence", "cannot be combined with recurrence")
        if change.clear_assignee and change.assignee_id is not None:
            raise InvalidInput("clearAssignee", "cannot be combined with assigneeId")
        assignee_id = self.assignee_id
        if change.assignee_id is not None:
            assignee_id = change.assignee_id
        elif change.clear_assignee:
            assignee_id = None
        due_at = self.due_at
        if change.due_at is not None:
            due_at = require_aware(change.due_at, "dueAt")
        elif change.clear_due_at:
            due_at = None
        recurrence, series_id, instance_number = (
            self.recurrence,
            self.series_id,
            self.instance_number,
        )
        if change.clear_recurrence:
            recurrence, series_id, instance_number = None, None, 1
        elif change.recurrence is not None:
            # A new rule governs the series from this instance on: it is its new DTSTART.
            recurrence = change.recurrence.parse(dtstart=due_at, now=now)
            due_at = due_at if due_at is not None else recurrence.dtstart
            series_id = series_id or uuid.uuid4()
            instance_number = 1
        elif recurrence is not None and due_at is None:
            raise InvalidInput("clearDueAt", "a recurring task needs a due date")
        if change.reminders is not None:
            reminders = build_reminders(change.reminders, due_at)
        else:
            # Only a moved due date moves relative reminders (an edit keeps a snoozed one's time).
            reminders = (
                self.reminders
                if due_at == self.due_at
                else _follow_due_date(self.reminders, due_at, field_name="dueAt")
            )

        self.title, self.notes, self.priority, self.tags = title, notes, priority, tags
        self.due_at, self.recurrence = due_at, recurrence
        self.series_id, self.instance_number, self.reminders = series_id, instance_number, reminders
        self.assignee_id = assignee_id
        changes = self._diff(before)
        if not changes:
            return
        self._bump(now)
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=now))

    def unassign(self, *, now: datetime, source: str = "gateway") -> None:
        """Take the task off its assignee (they left the project or lost the role)."""
        if self.assignee_id is None:
            return
        before = self._state(("assignee_id",))
        self.assignee_id = None
        self._bump(now)
        changes = self._diff(before, ("assignee_id",))
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=now))

    def hand_over(self, owner_id: uuid.UUID, *, now: datetime, source: str = "gateway") -> None:
        """Store the task under another owner (its creator's account is being deleted while
        the task stays in a shared project): the change says who held it before."""
        if owner_id == self.user_id:
            return
        before = self._state(("user_id",))
        self.user_id = owner_id
        self._bump(now)
        changes = self._diff(before, ("user_id",))
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=now))

    def complete(self, *, now: datetime, source: str = "gateway") -> None:
        """Mark an open task done and cancel its pending reminders; done tasks stay as they are."""
        if self.status is TaskStatus.DONE:
            return
        self.status = TaskStatus.DONE
        self.completed_at = now
        self.reminders = _cancel_scheduled(self.reminders)
        self._bump(now)
        self.events.append(TaskCompleted(task=self.copy(), source=source, at=now))

    def reopen(self, *, now: datetime, source: str = "gateway") -> None:
        """Make a done task open again; open tasks stay as they are."""
        if self.status is TaskStatus.OPEN:
            return
        self.status = TaskStatus.OPEN
        self.completed_at = None
        self._bump(now)
        self.events.append(TaskReopened(task=self.copy(), source=source, at=now))

    def delete(self, *, now: datetime, source: str = "gateway") -> None:
        """Record the deletion; pending reminders are cancelled."""
        pending = tuple(r.id for r in self.reminders if r.state is ReminderState.SCHEDULED)
        self.reminders = _cancel_scheduled(self.reminders)
        self._bump(now)
        self.events.append(
            TaskDeleted(task=self.copy(), source=source, at=now, cancelled_reminders=pending)
        )

    def restore(
        self,
        *,
        place: Place,
        revive: frozenset[uuid.UUID],
        keep_assignee: bool,
        now: datetime,
        source: str = "gateway",
    ) -> None:
        """Bring a deleted task (its last state) back at `place`: the reminders its deletion
        cancelled (`revive`) are scheduled again, relative ones from the due date; without
        `keep_assignee` (who held it may not hold it there any more) it is unassigned."""
        self.project_id = place.project_id
        self.section_id = place.section_id
        self.parent_id = place.parent_id
        self.position = place.position
        if not keep_assignee:
            self.assignee_id = None
        revived = tuple(
            replace(r, state=ReminderState.SCHEDULED)
            if r.id in revive and r.state is ReminderState.CANCELLED
            else r
            for r in self.reminders
        )
        self.reminders = _follow_due_date(revived, self.due_at, field_name="id")
        self._bump(now)
        self.events.append(TaskRestored(task=self.copy(), source=source, at=now))

    def skip_occurrence(self, *, now: datetime, source: str = "gateway") -> None:
        """Move an open recurring instance to its next occurrence, remembering the skipped one."""
        if self.recurrence is None or self.due_at is None:
            raise InvalidInput("id", "only a recurring task has occurrences to skip")
        if self.status is not TaskStatus.OPEN:
            raise InvalidInput("id", "only an open instance can skip its occurrence")
        skipped = self.recurrence.with_skipped(self.due_at)
        upcoming = skipped.upcoming(self.due_at, 1)
        if not upcoming:
            raise InvalidInput("id", "the series has no later occurrence to move to")
        moved = ("due_at", "recurrence", "reminders")
        before = self._state(moved)
        shift = upcoming[0] - self.due_at
        self.recurrence = skipped
        self.reminders = shift_reminders(self.reminders, upcoming[0], shift)
        self.due_at = upcoming[0]
        changes = self._diff(before, moved)
        self._bump(now)
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=now))

    def snooze_reminder(
        self, reminder_id: uuid.UUID, *, minutes: int, now: datetime, source: str = "gateway"
    ) -> Reminder:
        """Fire one reminder again at now + minutes. A relative reminder stays relative: it is
        snoozed this once, and follows the due date again when the due date moves."""
        if not 1 <= minutes <= SNOOZE_MAX_MINUTES:
            raise InvalidInput("minutes", f"must be 1 to {SNOOZE_MAX_MINUTES}")
        if self.status is not TaskStatus.OPEN:
            raise InvalidInput("id", "the reminder's task is done; reopen it first")
        before = self.reminders
        snoozed = None
        reminders = []
        for reminder in self.reminders:
            if reminder.id == reminder_id:
                snoozed = Reminder(
                    reminder.id,
                    now + timedelta(minutes=minutes),
                    reminder.before_due,
                    reminder.channels,
                    ReminderState.SCHEDULED,
                )
                reminder = snoozed
            reminders.append(reminder)
        if snoozed is None:
            raise NotFound("reminder", reminder_id)
        self._replace_reminders(tuple(reminders), before, at=now, source=source)
        return snoozed

    def _replace_reminders(
        self,
        reminders: tuple[Reminder, ...],
        before: tuple[Reminder, ...],
        *,
        at: datetime,
        source: str,
    ) -> None:
        """Install new reminder states and raise the update with their before and after."""
        self.reminders = reminders
        self._bump(at)
        changes = {"reminders": (before, reminders)}
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=at))

    def _bump(self, now: datetime) -> None:
        self.version += 1
        self.updated_at = now

    def move_to(
        self,
        place: Place,
        *,
        now: datetime,
        expected_version: int | None = None,
        unassign: bool = False,
        source: str = "gateway",
    ) -> None:
        """Put the task in another place (project, section, parent, position, owner); one
        TaskUpdated with the old and new place, nothing when it stays where it is.

        `unassign`: the assignee may not hold the task in its new place (not an EDITOR of the
        target project, or not the owner of the target inbox); the same event says so."""
        if expected_version is not None and expected_version != self.version:
            raise Conflict(
                f"expectedVersion: the task is at version {self.version}, not {expected_version}"
            )
        fields = (*PLACE_FIELDS, "assignee_id") if unassign else PLACE_FIELDS
        before = self._state(fields)
        self.project_id, self.section_id = place.project_id, place.section_id
        self.parent_id, self.position = place.parent_id, place.position
        if unassign:
            self.assignee_id = None
        owner_changed = place.owner_id != self.user_id
        self.user_id = place.owner_id
        changes = self._diff(before, fields)
        if not changes and not owner_changed:
            return
        self._bump(now)
        self.events.append(TaskUpdated(task=self.copy(), changes=changes, source=source, at=now))


# Where a task stands; moveTask changes them together (reported in TaskUpdated's changes).
PLACE_FIELDS = ("project_id", "section_id", "parent_id", "position")


@dataclass(frozen=True, slots=True)
class Place:
    """A task's place: whose (the inbox's owner, or the creator in a project), which project,
    section and parent, and its position among the siblings there."""

    owner_id: uuid.UUID
    project_id: uuid.UUID | None
    section_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    position: str


@dataclass(frozen=True, slots=True)
class RecurrenceRequest:
    """A client's recurrence input, parsed once the due date is known."""

    rule: str
    repeat_from: RepeatFrom
    timezone: str

    def parse(
        self, *, dtstart: datetime | None, now: datetime, start_field: str = "dueAt"
    ) -> Recurrence:
        """The validated Recurrence with this DTSTART (or the first occurrence from now)."""
        return Recurrence.parse(
            rule=self.rule,
            repeat_from=self.repeat_from,
            timezone=self.timezone,
            dtstart=dtstart,
            now=now,
            start_field=start_field,
        )


@dataclass(frozen=True, slots=True)
class SeriesContinuation:
    """Where a new instance stands in an existing series."""

    series_id: uuid.UUID
    instance_number: int


@dataclass(frozen=True, slots=True)
class TaskChange:
    """The fields of an update; None leaves a field as it is."""

    title: str | None = None
    notes: str | None = None
    priority: Priority | None = None
    tags: list[str] | None = None
    due_at: datetime | None = None
    clear_due_at: bool = False
    recurrence: RecurrenceRequest | None = None
    clear_recurrence: bool = False
    reminders: list[ReminderSpec] | None = None
    expected_version: int | None = None
    # Checked against the task's project by the service (gateway_core/services/tasks.py).
    assignee_id: uuid.UUID | None = None
    clear_assignee: bool = False


def _cancel_scheduled(reminders: tuple[Reminder, ...]) -> tuple[Reminder, ...]:
    return tuple(
        replace(r, state=ReminderState.CANCELLED) if r.state is ReminderState.SCHEDULED else r
        for r in reminders
    )


def _follow_due_date(
    reminders: tuple[Reminder, ...], due_at: datetime | None, *, field_name: str
) -> tuple[Reminder, ...]:
    """Relative reminders recomputed from the (possibly new) due date."""
    followed = []
    for reminder in reminders:
        if reminder.before_due is None or reminder.state is not ReminderState.SCHEDULED:
            followed.append(reminder)
            continue
        if due_at is None:
            raise InvalidInput(
                field_name, "the task has reminders relative to its due date; remove them first"
            )
        followed.append(
            replace(reminder, remind_at=due_at - timedelta(minutes=reminder.before_due))
        )
    return tuple(followed)


def shift_reminders(
    reminders: tuple[Reminder, ...], due_at: datetime, shift: timedelta
) -> tuple[Reminder, ...]:
    """Reminders for a moved occurrence: relative ones follow, absolute ones shift as much."""
    return tuple(
        replace(
            r,
            remind_at=due_at - timedelta(minutes=r.before_due)
            if r.before_due is not None
            else r.remind_at + shift,
        )
        if r.state is ReminderState.SCHEDULED
        else r
        for r in reminders
    )


# Domain events: raised by the Task, in the domain's language (a copy of the Task, domain
# values before and after); the gateway maps them to the wire at its edge (gateway_core/wire.py).


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a task; `task` is a copy of it right after the change."""

    kind: ClassVar[str] = ""
    task: Task
    source: str
    at: datetime
    # Fixed when the event happens, so every copy of it carries the same CloudEvent id.
    id: uuid.UUID = field(default_factory=uuid.uuid4, kw_only=True)


@dataclass(frozen=True, slots=True)
class TaskCreated(Event):
    """A task was created (by a user or as the next instance of a series)."""

    kind: ClassVar[str] = "created"


@dataclass(frozen=True, slots=True)
class TaskUpdated(Event):
    """Fields of a task changed; `changes` maps each (a Task attribute) to (before, after)."""

    kind: ClassVar[str] = "updated"
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskCompleted(Event):
    """An open task was completed."""

    kind: ClassVar[str] = "completed"


@dataclass(frozen=True, slots=True)
class TaskReopened(Event):
    """A done task was opened again."""

    kind: ClassVar[str] = "reopened"


@dataclass(frozen=True, slots=True)
class TaskDeleted(Event):
    """A task was deleted; `task` is its last state, `cancelled_reminders` the reminders the
    deletion cancelled (scheduled again if the task is restored)."""

    kind: ClassVar[str] = "deleted"
    cancelled_reminders: tuple[uuid.UUID, ...] = field(default=(), kw_only=True)


@dataclass(frozen=True, slots=True)
class TaskRestored(Event):
    """A deleted task was brought back (within the restore window) with its subtasks."""

    kind: ClassVar[str] = "restored"
