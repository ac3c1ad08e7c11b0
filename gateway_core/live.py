"""Live updates: committed events → every gateway replica → each user's open subscriptions.

One replica's live consumer receives each event from the durable bus (the replicas share a
consumer group) and publishes it to a broadcast channel that every replica listens to
(PostgreSQL LISTEN/NOTIFY across processes, memory in `taskstream up`). Each replica keeps one
listener and hands messages to its local subscribers through bounded queues: a subscriber
that falls behind is cut off (and refetches on reconnect) instead of growing memory. A lost
broadcast connection is re-established; subscribers that may have missed events meanwhile are
cut off too, for the same reason.

The same channel carries session revocations (gateway/sessions.py): every replica applies them
to its cache of session state and closes the revoked sockets as soon as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Hashable,
    Iterator,
)
from datetime import datetime
from typing import Any

from broadcaster import Broadcast
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from pydantic import Field, ValidationError

from contracts import events as wire_events
from gateway_core.domain.sessions import Revocation
from taskstream import telemetry
from taskstream.errors import InvalidInput
from taskstream.messaging.bus import (
    DeadLetter,
    Message,
    MessageHandler,
    Outcome,
    Subscription,
    Verdict,
)
from taskstream.messaging.cloudevents import (
    NOTIFICATIONS_TOPIC,
    TASK_EVENTS_TOPIC,
    WireModel,
    describe,
    type_name,
)
from taskstream.messaging.consumer import handling_span

log = logging.getLogger(__name__)

CHANNEL = "taskstream_live"
# PostgreSQL NOTIFY payloads must stay under 8000 bytes: larger snapshots are refetched.
INLINE_LIMIT = 7000
HEARTBEAT_SECONDS = 5.0
SILENCE_LIMIT_SECONDS = 3 * HEARTBEAT_SECONDS
# How long a revocation that could not be broadcast is retried (replicas that missed it
# meanwhile were disconnected too, and check every request against the database).
REVOCATION_RETRY_SECONDS = 60.0

LIVE_SUBSCRIBERS = Gauge(
    "taskstream_live_subscribers", "Open live subscriptions on this replica.", registry=REGISTRY
)
LIVE_CUT_OFF = Counter(
    "taskstream_live_cut_off_total",
    "Subscribers disconnected because they fell behind or the broadcast was interrupted.",
    ["reason"],
    registry=REGISTRY,
)

LIVE_PUSH_SECONDS = Histogram(
    "taskstream_live_push_seconds",
    "Seconds from a change's commit to its push on a subscriber's socket, by subscription.",
    ["subscription"],
    registry=REGISTRY,
    # From a few milliseconds (one process) to the seconds a backlog takes.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
LIVE_GROUP = "gateway-live"


class SubscriberCutOff(Exception):
    """The subscriber must reconnect and refetch: it may have missed events."""


class LiveSubscription:
    """One open subscription's bounded queue of messages for one user.

    `kinds` are the message kinds it reads ("task", "project", "notification"; None: all):
    others never take a place in its queue. Project messages reach it only if it
    `reads_projects`, and only those of the user's projects.
    """

    def __init__(
        self,
        user_id: str,
        size: int,
        kinds: frozenset[str] | None = None,
        reads_projects: bool = False,
    ) -> None:
        self.user_id = user_id
        self.kinds = kinds
        # Whether it is offered the messages of the user's projects (LiveHub.projects).
        self.reads_projects = reads_projects
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=size)
        self.cut_off_reason: str | None = None

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a message, or cut the subscriber off when it is full."""
        if self.cut_off_reason is not None:
            return
        if self.kinds is not None and message.get("kind") not in self.kinds:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.cut_off("slow")

    def cut_off(self, reason: str) -> None:
        """End this subscription; its reader raises SubscriberCutOff."""
        if self.cut_off_reason is None:
            self.cut_off_reason = reason
            LIVE_CUT_OFF.labels(reason).inc()
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            if self.cut_off_reason is not None:
                raise SubscriberCutOff(self.cut_off_reason)
            message = await self.queue.get()
            if message is None:
                raise SubscriberCutOff(self.cut_off_reason or "closed")
            yield message


@contextlib.contextmanager
def pushing(message: dict[str, Any], subscription: str) -> Iterator[None]:
    """One message on its way to one subscriber's socket (the block resolves it for them).

    A PRODUCER span in the change's trace (the live consumer's handling is its parent, on
    whichever replica consumed the event), current while the block reads what the push needs;
    then the push latency since the change's commit, with the trace id as its exemplar.
    """
    span = telemetry.start_span(
        f"push {subscription}",
        kind=SpanKind.PRODUCER,
        traceparent=message.get("traceparent"),
        attributes={
            "messaging.system": "graphql-transport-ws",
            "graphql.subscription": subscription,
        },
    )
    with trace.use_span(span, end_on_exit=True):
        yield
    committed = message.get("at")
    if isinstance(committed, str):
        latency = time.time() - datetime.fromisoformat(committed).timestamp()
        LIVE_PUSH_SECONDS.labels(subscription).observe(max(0.0, latency), telemetry.exemplar(span))


def _traced(handler: MessageHandler) -> MessageHandler:
    """The live consumer's handling of a message, in a span of the event's trace."""

    async def handling(message: Message) -> Verdict:
        with trace.use_span(handling_span(LIVE_GROUP, message), end_on_exit=True):
            return await handler(message)

    return handling


def _trace_context() -> dict[str, str]:
    """The handling's traceparent for a broadcast message: each push continues the trace."""
    traceparent = telemetry.current_traceparent()
    return {} if traceparent is None else {"traceparent": traceparent}


# Project event kinds that change who belongs to the project (ProjectEventKind values).
MEMBERSHIP_KINDS = frozenset({"MEMBER_ADDED", "MEMBER_REMOVED", "DELETED"})
# Memberships remembered per replica; past it the cache starts again from empty.
MEMBERSHIP_CACHE_MAX = 100_000
# How long a remembered membership is trusted when no change of it was heard
# (TASKSTREAM_LIVE_MEMBERSHIP_TTL_SECONDS).
MEMBERSHIP_TTL_SECONDS = 5.0


# Results of project events kept for the members' executions that have not reached them yet.
SHARED_RESULTS_MAX = 1024
LIVE_SHARED_RESULTS = Counter(
    "taskstream_live_shared_results_total",
    "Project events' live results by how a member's subscription got them: executed it "
    "(for itself and the members after it), or reused another member's.",
    ["outcome"],
    registry=REGISTRY,
)

SharedKey = tuple[Hashable, Hashable]


class SharedResults:
    """This replica's serialised results of project events, shared by the members'
    subscriptions that run the same viewer-independent document.

    The first subscription to reach an event executes it and publishes the text; the others
    wait for it (single flight) and send it as theirs. A result that is not published (an
    error, the execution cancelled or abandoned) leaves each waiter to execute the event
    itself. At most `size` events are remembered, the oldest forgotten first: an event
    reached after that is executed again, never lost.
    """

    def __init__(self, size: int = SHARED_RESULTS_MAX) -> None:
        self.size = size
        self._texts: OrderedDict[SharedKey, asyncio.Future[str | None]] = OrderedDict()

    def share(
        self, document: Hashable, deliver: Callable[[str], None], *, wait_seconds: float
    ) -> ResultShare:
        """One execution's handle: `document` identifies what it runs (document, variables,
        operation name), `deliver` sends a reused text to its sockets."""
        return ResultShare(self, document, deliver, wait_seconds)

    def claim(self, key: SharedKey) -> tuple[asyncio.Future[str | None], bool]:
        """The key's (future) text, and whether it is the caller's to execute and `settle`
        (True: no execution had claimed it)."""
        found = self._texts.get(key)
        if found is not None:
            self._texts.move_to_end(key)
            return found, False
        claimed: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._texts[key] = claimed
        while len(self._texts) > self.size:
            _, oldest = self._texts.popitem(last=False)
            if not oldest.done():
                # Its waiters execute the event themselves; its executor's text is dropped.
                oldest.set_result(None)
        return claimed, True

    def settle(self, key: SharedKey, claimed: asyncio.Future[str | None], text: str | None) -> None:
        """Publish a claimed key's text (None: not shareable; its waiters execute it, and the
        next to reach the event claims it anew)."""
        if not claimed.done():
            claimed.set_result(text)
        if text is None and self._texts.get(key) is claimed:
            del self._texts[key]

    def __len__(self) -> int:
        return len(self._texts)


class ResultShare:
    """One shared execution's part in `SharedResults`: the event it claimed and executes."""

    __slots__ = ("_claimed", "_deliver", "_document", "_results", "_wait_seconds")

    def __init__(
        self,
        results: SharedResults,
        document: Hashable,
        deliver: Callable[[str], None],
        wait_seconds: float,
    ) -> None:
        self._results = results
        self._document = document
        self._deliver = deliver
        self._wait_seconds = wait_seconds
        self._claimed: tuple[SharedKey, asyncio.Future[str | None]] | None = None

    async def reuse(self, event: Hashable) -> bool:
        """Send another execution's text for the event and say True; False: the caller executes
        the event itself (its result is published by the next `settle`, if it claimed it)."""
        self.abandon()
        key = (self._document, event)
        pending, mine = self._results.claim(key)
        if mine:
            self._claimed = (key, pending)
            LIVE_SHARED_RESULTS.labels("executed").inc()
            return False
        try:
            async with asyncio.timeout(self._wait_seconds):
                # Shielded: a waiter cancelled (its socket gone) cancels nobody else's wait.
                text = await asyncio.shield(pending)
        except TimeoutError:
            text = None
        if text is None:
            LIVE_SHARED_RESULTS.labels("executed").inc()
            return False
        LIVE_SHARED_RESULTS.labels("reused").inc()
        self._deliver(text)
        return True

    def settle(self, text: str | None) -> None:
        """The execution's result for the event it claimed, if it claimed one (None: an
        error or another reason not to share it)."""
        claimed, self._claimed = self._claimed, None
        if claimed is not None:
            self._results.settle(*claimed, text)

    def abandon(self) -> None:
        """The claimed event will not be settled (the execution ended or moved on)."""
        self.settle(None)


class MembershipCache:
    """Per replica: whether a user belongs to a project, as last read from the database.

    Delivery asks it once per subscriber and project event instead of querying each time. A
    project is forgotten as soon as its membership changes: the replica that commits the
    change forgets it at once and tells the others over the broadcast channel
    (`LiveHub.publish_membership_change`), and every replica forgets it again when the
    project's member event itself comes through. A read that overlapped a change is not kept
    (the project's generation moved on meanwhile), so nothing stale outlives the change.

    Should both announcements be lost (the broadcast down while the change commits, the live
    consumer behind), an answer is still read again once it is `ttl` seconds old: a removed
    member stops receiving the project's events within that time at worst.
    """

    def __init__(
        self,
        maximum: int = MEMBERSHIP_CACHE_MAX,
        *,
        ttl: float = MEMBERSHIP_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = maximum
        self.ttl = ttl
        self._clock = clock
        # project -> user -> (member, read at)
        self._known: dict[str, dict[str, tuple[bool, float]]] = {}
        self._size = 0
        self._generations: dict[str, int] = defaultdict(int)

    def get(self, user_id: str, project_id: str) -> bool | None:
        """The cached answer, or None when it must be read (never read, or too old)."""
        members = self._known.get(project_id)
        known = None if members is None else members.get(user_id)
        if known is None:
            return None
        member, read_at = known
        return member if self._clock() - read_at < self.ttl else None

    def generation(self, project_id: str) -> int:
        """Taken before a read, handed back to `put`."""
        return self._generations[project_id]

    def put(self, user_id: str, project_id: str, member: bool, generation: int) -> None:
        """Remember a read, unless the project's membership changed since it began."""
        if self._generations[project_id] != generation:
            return
        if self._size >= self.maximum:
            self.clear()
        members = self._known.setdefault(project_id, {})
        if user_id not in members:
            self._size += 1
        members[user_id] = (member, self._clock())

    def forget(self, project_id: str) -> None:
        """Drop what is known of the project (its membership changed)."""
        self._generations[project_id] += 1
        members = self._known.pop(project_id, None)
        if members is not None:
            self._size -= len(members)

    def clear(self) -> None:
        """Drop everything (the broadcast reconnected: changes may have been missed)."""
        for project_id in list(self._known):
            self.forget(project_id)


# Reads the ids of the projects a user belongs to now (at most 200 each: PROJECTS_PER_USER).
ProjectsLoader = Callable[[str], Awaitable[Collection[str]]]
# Project messages held for a user while their projects are read; past it they are cut off.
PENDING_MAX = 4096
# Reads of one user's projects in a row that a membership change overlapped; the last one
# settles for the read plus what the index held (a superset: delivery re-checks membership).
LOAD_ATTEMPTS = 3
# Re-reads after membership changes run at most this many at once (each holds a connection).
RELOAD_CONCURRENCY = 4
# A read of a user's projects that takes longer cuts their project subscriptions off.
LOAD_TIMEOUT_SECONDS = 10.0


class IndexedUser:
    """One subscribed user's entry in the project index."""

    __slots__ = ("generation", "loader", "pending", "projects", "reloading", "subscriptions")

    def __init__(self, loader: ProjectsLoader) -> None:
        self.loader = loader
        self.projects: set[str] = set()
        self.subscriptions = 0
        # Bumped by every membership change heard for the user: a read that began before
        # it may have missed it.
        self.generation = 0
        # Project messages held until the first read settles (None once it has).
        self.pending: list[dict[str, Any]] | None = []
        self.reloading = False


class ProjectIndex:
    """Per replica: the projects of each user with a project-reading subscription here.

    A project's message is offered only to the subscriptions of users indexed as its members
    (and of users it names in `also`), not to every subscriber of the replica. A user's
    projects are read when their first such subscription starts, changed as membership
    changes are heard (the committing replica's broadcast, then the member event), re-read
    after each change to settle any order the two arrived in, and dropped with the user's last
    subscription. Between a change and its re-read the index may hold a project the user just
    left, never lack one they belong to except after a stale removal and until the re-read;
    delivery still checks membership (graphql_schema/projects/live.py), so a removal racing
    a message is never leaked.

    Memory: one entry per subscribed user (not per socket) with their project ids and the
    reverse map project -> subscribed users; each id is one string shared by both maps, so a
    membership costs two set slots: about 125 bytes, 25 KB for a user in the most projects
    there may be (200; measured with tracemalloc, 1,000 such users: 25 MB), about 1 KB in five.
    """

    def __init__(self) -> None:
        self._users: dict[str, IndexedUser] = {}
        self._members: dict[str, set[str]] = {}
        # Users whose first read has not settled: their project messages are held.
        self._loading: dict[str, IndexedUser] = {}
        # One string object per project id (the reverse map's key), shared by every user's set.
        self._ids: dict[str, str] = {}

    def track(self, user_id: str, loader: ProjectsLoader) -> IndexedUser:
        """One more subscription of the user's; a new entry must be read (`loaded`)."""
        entry = self._users.get(user_id)
        if entry is None:
            entry = self._users[user_id] = self._loading[user_id] = IndexedUser(loader)
        entry.subscriptions += 1
        return entry

    def untrack(self, user_id: str, entry: IndexedUser) -> None:
        """One subscription fewer; the user's last one drops the entry."""
        entry.subscriptions -= 1
        if entry.subscriptions > 0 or self._users.get(user_id) is not entry:
            return
        del self._users[user_id]
        self._loading.pop(user_id, None)
        for project_id in entry.projects:
            self._leave(user_id, project_id)

    def entry(self, user_id: str) -> IndexedUser | None:
        """The user's entry, if they have a project-reading subscription here."""
        return self._users.get(user_id)

    def projects_of(self, user_id: str) -> frozenset[str]:
        """The projects indexed for the user."""
        entry = self._users.get(user_id)
        return frozenset() if entry is None else frozenset(entry.projects)

    def users_of(self, project_id: str) -> frozenset[str]:
        """The subscribed users indexed as the project's members."""
        return frozenset(self._members.get(project_id, ()))

    def loading(self) -> list[tuple[str, IndexedUser]]:
        """Users whose first read has not settled yet (their project messages are held)."""
        return list(self._loading.items())

    def release(self, user_id: str, entry: IndexedUser) -> list[dict[str, Any]]:
        """The messages held until the user's first read settled (now it has)."""
        held = entry.pending or []
        entry.pending = None
        if self._loading.get(user_id) is entry:
            del self._loading[user_id]
        return held

    def loaded(
        self, user_id: str, entry: IndexedUser, projects: Collection[str], generation: int
    ) -> bool:
        """Settle a read begun at `generation`; False when a change overlapped it (read again).

        Use `settle` instead on the last attempt.
        """
        if self._users.get(user_id) is not entry:
            return True  # the user's subscriptions ended meanwhile: nothing to settle
        if entry.generation != generation:
            return False
        self._replace(user_id, entry, set(projects))
        return True

    def settle(self, user_id: str, entry: IndexedUser, projects: Collection[str]) -> None:
        """Settle a read that changes kept overlapping: the read plus what the entry holds."""
        if self._users.get(user_id) is entry:
            self._replace(user_id, entry, set(projects) | entry.projects)

    def changed(self, user_id: str, project_id: str, member: bool | None) -> IndexedUser | None:
        """A membership change heard for the user: joined (True), left (False) or either (None:
        an event that may be older than what the index knows, so the project is kept until
        the re-read). Returns the entry to re-read, or None when the user is not indexed."""
        entry = self._users.get(user_id)
        if entry is None:
            return None
        entry.generation += 1
        if member is False:
            if project_id in entry.projects:
                entry.projects.discard(project_id)
                self._leave(user_id, project_id)
        elif project_id not in entry.projects:
            project_id = self._ids.setdefault(project_id, project_id)
            entry.projects.add(project_id)
            self._members.setdefault(project_id, set()).add(user_id)
        return entry

    def discard(self, user_id: str, entry: IndexedUser) -> None:
        """Drop the user's entry now (its read failed): their next subscription reads anew."""
        if self._users.get(user_id) is entry:
            entry.subscriptions = 1
            self.untrack(user_id, entry)

    def reset(self) -> None:
        """Forget everything (the broadcast reconnected and every subscriber was cut off)."""
        self._users.clear()
        self._members.clear()
        self._ids.clear()
        self._loading.clear()

    def _replace(self, user_id: str, entry: IndexedUser, projects: set[str]) -> None:
        for gone in entry.projects - projects:
            self._leave(user_id, gone)
        shared: set[str] = set()
        for project_id in projects:
            project_id = self._ids.setdefault(project_id, project_id)
            shared.add(project_id)
            self._members.setdefault(project_id, set()).add(user_id)
        entry.projects = shared

    def _leave(self, user_id: str, project_id: str) -> None:
        members = self._members.get(project_id)
        if members is None:
            return
        members.discard(user_id)
        if not members:
            del self._members[project_id]
            self._ids.pop(project_id, None)


class LiveHub:
    """This replica's end of the broadcast channel."""

    def __init__(
        self, url: str, *, queue_size: int = 256, membership_ttl: float = MEMBERSHIP_TTL_SECONDS
    ) -> None:
        self.url = url
        self.queue_size = queue_size
        self._subscribers: dict[str, set[LiveSubscription]] = defaultdict(set)
        self._broadcast: Broadcast | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._heartbeat = uuid.uuid4().hex
        # When the oldest heartbeat that has not come back yet was sent (None: all came back).
        self._unanswered_since: float | None = None
        self._last_received = 0.0
        # broadcaster's PostgreSQL backend publishes over its one listening connection,
        # which runs one statement at a time.
        self._publish_lock = asyncio.Lock()
        # Connections made so far: what was cached under an older one may have missed messages.
        self.epoch = 0
        self._revocation_listeners: list[Callable[[Revocation], None]] = []
        self._retries: set[asyncio.Task[None]] = set()
        self.memberships = MembershipCache(ttl=membership_ttl)
        self.projects = ProjectIndex()
        self._loads: set[asyncio.Task[None]] = set()
        self._load_slots = asyncio.Semaphore(RELOAD_CONCURRENCY)

    @property
    def connected(self) -> bool:
        """Whether this replica hears every message now (false while it reconnects).

        A hub never started (a lone in-process app, as in tests) has no other replica to hear
        from: it applies what it publishes itself, so it misses nothing either.
        """
        return self._task is None or self._ready.is_set()

    def on_revocation(self, listener: Callable[[Revocation], None]) -> None:
        """Call `listener` with every revocation, from this replica or any other."""
        self._revocation_listeners.append(listener)

    async def publish_revocation(self, revocation: Revocation) -> None:
        """Apply a revocation here at once and send it to every other replica."""
        self._apply_revocation(revocation)
        if self._task is None:
            return  # never started: no other replica listens through this hub
        raw = json.dumps({"revoke": revocation.to_json()}, separators=(",", ":"))
        try:
            await self._send(raw)
        except Exception:
            log.warning("revocation not broadcast yet; retrying in the background")
            task = asyncio.create_task(self._resend(raw), name="revocation-retry")
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def publish_membership_change(
        self, project_id: str, member_id: str | None = None, *, joined: bool = False
    ) -> None:
        """Tell this replica at once and every other one that a membership of the project
        changed (called after the change commits, before its event makes the rounds): the
        member who joined or left, or none when the project was deleted."""
        self.memberships.forget(project_id)
        notice: dict[str, Any] = {"forgetProject": project_id}
        if member_id is not None:
            notice |= {"memberId": member_id, "joined": joined}
        if self._task is None:
            # Never started: no other replica listens, and no echo comes back.
            self._heard_membership_change(notice)
            return
        raw = json.dumps(notice, separators=(",", ":"))
        try:
            await self._send(raw)
        except Exception:
            log.warning("membership change not broadcast yet; retrying in the background")
            task = asyncio.create_task(self._resend(raw), name="membership-retry")
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _resend(self, raw: str) -> None:
        async with asyncio.timeout(REVOCATION_RETRY_SECONDS):
            while True:
                await self._ready.wait()
                try:
                    await self._send(raw)
                    return
                except Exception:
                    await asyncio.sleep(0.2)

    def _apply_revocation(self, revocation: Revocation) -> None:
        for listener in list(self._revocation_listeners):
            try:
                listener(revocation)
            except Exception:
                log.exception("a revocation listener failed")

    async def start(self) -> None:
        """Connect and start listening (returns once the first connection is up)."""
        self._task = asyncio.create_task(self._run(), name="live-hub")
        ready = asyncio.create_task(self._ready.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task.done():
            self._task.result()

    async def stop(self) -> None:
        """Stop listening and end every subscription."""
        # Not listening any more: session checks stop trusting their cache (gateway/sessions.py).
        self._ready.clear()
        for pending in [*self._retries, *self._loads]:
            pending.cancel()
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(
            *([] if self._task is None else [self._task]),
            *self._retries,
            *self._loads,
            return_exceptions=True,
        )
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.cut_off("shutdown")

    async def publish(self, user_id: str, message: dict[str, Any]) -> None:
        """Send a message to the user's subscribers on every replica."""
        await self._ready.wait()
        await self._send(json.dumps({"userId": user_id, **message}, separators=(",", ":")))

    async def publish_to_project(self, project_id: str, message: dict[str, Any]) -> None:
        """Send a message about a shared project or its task to every replica; each replica
        offers it to the subscriptions of the members it indexes (and of the users it names in
        `also`), and each subscription checks membership on delivery."""
        await self._send(json.dumps({"projectId": project_id, **message}, separators=(",", ":")))

    async def _send(self, raw: str) -> None:
        async with self._publish_lock:
            if self._broadcast is None:
                raise ConnectionError("the live broadcast is reconnecting")
            await self._broadcast.publish(CHANNEL, raw)

    @contextlib.asynccontextmanager
    async def listen(
        self,
        user_id: str,
        *,
        kinds: frozenset[str] | None = None,
        projects: ProjectsLoader | None = None,
    ) -> AsyncIterator[LiveSubscription]:
        """A subscription to the user's messages of these kinds (None: all) for as long as the
        block lasts; given where to read the user's projects, also to their projects' messages
        (held until that read, which starts with the user's first such subscription)."""
        subscription = LiveSubscription(user_id, self.queue_size, kinds, projects is not None)
        self._subscribers[user_id].add(subscription)
        LIVE_SUBSCRIBERS.inc()
        entry = None if projects is None else self.projects.track(user_id, projects)
        try:
            if entry is not None and entry.pending is not None and not entry.reloading:
                self._load(user_id, entry)
            yield subscription
        finally:
            LIVE_SUBSCRIBERS.dec()
            if entry is not None:
                self.projects.untrack(user_id, entry)
            self._subscribers[user_id].discard(subscription)
            if not self._subscribers[user_id]:
                del self._subscribers[user_id]

    def _load(self, user_id: str, entry: IndexedUser) -> None:
        """Read the user's projects in the background (unless a read is under way: it reads
        again when it sees the change that asked for this one)."""
        if entry.reloading:
            return
        entry.reloading = True
        task = asyncio.create_task(self._read_projects(user_id, entry), name="live-projects")
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _read_projects(self, user_id: str, entry: IndexedUser) -> None:
        generation = entry.generation
        try:
            async with self._load_slots:
                for attempt in range(1, LOAD_ATTEMPTS + 1):
                    generation = entry.generation
                    async with asyncio.timeout(LOAD_TIMEOUT_SECONDS):
                        projects = await entry.loader(user_id)
                    if attempt == LOAD_ATTEMPTS:
                        self.projects.settle(user_id, entry, projects)
                    elif not self.projects.loaded(user_id, entry, projects, generation):
                        continue
                    break
        except Exception:
            log.exception("reading a live subscriber's projects failed; cutting them off")
            entry.reloading = False
            self.projects.discard(user_id, entry)
            self._cut_off_projects(user_id, "interrupted")
            return
        entry.reloading = False
        for message in self.projects.release(user_id, entry):
            if self._reaches(user_id, entry, message):
                self._offer_projects(user_id, message)
        if entry.generation != generation and self.projects.entry(user_id) is entry:
            self._load(user_id, entry)  # changed during the last read: settle it exactly

    @staticmethod
    def _reaches(user_id: str, entry: IndexedUser, message: dict[str, Any]) -> bool:
        """Whether a held project message is for the user (a member, or named in it)."""
        return str(message["projectId"]) in entry.projects or user_id in message.get("also", ())

    def _offer_projects(self, user_id: str, message: dict[str, Any]) -> None:
        """Offer a project message to the user's project-reading subscriptions."""
        for subscription in list(self._subscribers.get(user_id, ())):
            if subscription.reads_projects:
                subscription.offer(message)

    def _cut_off_projects(self, user_id: str, reason: str) -> None:
        for subscription in list(self._subscribers.get(user_id, ())):
            if subscription.reads_projects:
                subscription.cut_off(reason)

    def _heard_membership_change(self, notice: dict[str, Any]) -> None:
        """A committing replica's word that a membership changed: applied to the index at once,
        then each user's projects are read again."""
        project_id = str(notice["forgetProject"])
        member_id = notice.get("memberId")
        if member_id is None:  # the project was deleted: nobody belongs to it
            changes = [(user, False) for user in self.projects.users_of(project_id)]
        else:
            changes = [(str(member_id), bool(notice.get("joined")))]
        for user_id, joined in changes:
            entry = self.projects.changed(user_id, project_id, joined)
            if entry is not None:
                self._load(user_id, entry)

    def _heard_member_event(self, project_id: str, message: dict[str, Any]) -> None:
        """A member event (possibly older than what the index knows): the users it concerns
        keep the project until their projects are read again."""
        concerned = {str(u) for u in message.get("also", ())}
        if "memberId" in message:
            concerned.add(str(message["memberId"]))
        if message.get("event") == "DELETED":
            concerned.update(self.projects.users_of(project_id))
        for user_id in concerned:
            entry = self.projects.changed(user_id, project_id, None)
            if entry is not None:
                self._load(user_id, entry)

    def _dispatch_to_project(self, message: dict[str, Any]) -> None:
        """Offer a project's message to its indexed members and the users it names; hold it
        for users whose projects are still being read."""
        project_id = str(message["projectId"])
        if message.get("kind") == "project" and message.get("event") in MEMBERSHIP_KINDS:
            self.memberships.forget(project_id)
            self._heard_member_event(project_id, message)
        audience = set(self.projects.users_of(project_id))
        audience.update(str(u) for u in message.get("also", ()))
        for user_id in audience:
            entry = self.projects.entry(user_id)
            if entry is not None and entry.pending is None:
                self._offer_projects(user_id, message)
        for user_id, entry in self.projects.loading():
            assert entry.pending is not None
            if len(entry.pending) < PENDING_MAX:
                entry.pending.append(message)
            else:
                entry.pending = []
                self._cut_off_projects(user_id, "slow")

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "live broadcast interrupted; reconnecting", extra={"backoff": backoff}
                )
            # Whatever was sent while we were away is lost to these subscribers.
            self._ready.clear()
            # Membership changes among it: their next subscriptions read their projects anew.
            self.projects.reset()
            for subscriptions in list(self._subscribers.values()):
                for subscription in list(subscriptions):
                    subscription.cut_off("interrupted")
            await asyncio.sleep(backoff)
            backoff = min(5.0, backoff * 2)

    async def _listen_once(self) -> None:
        broadcast = Broadcast(self.url)
        await broadcast.connect()
        try:
            async with broadcast.subscribe(CHANNEL) as subscriber:
                self._broadcast = broadcast
                self.epoch += 1
                # Membership changes may have been announced while we were away.
                self.memberships.clear()
                self._ready.set()
                self._unanswered_since = None
                self._last_received = asyncio.get_running_loop().time()
                beat = asyncio.create_task(self._beat())
                try:
                    while True:
                        # A heartbeat unanswered for too long means the connection is gone;
                        # after a stall its answer may already be waiting: read once more.
                        wait = 1.0 if self._silent_too_long() else HEARTBEAT_SECONDS
                        try:
                            # (asyncio.timeout, unlike wait_for on 3.11, never swallows a cancel.)
                            async with asyncio.timeout(wait):
                                event = await subscriber.get()
                        except TimeoutError:
                            if self._silent_too_long():
                                raise ConnectionError("the live broadcast went silent") from None
                            continue
                        self._dispatch(event.message)
                finally:
                    beat.cancel()
        finally:
            self._broadcast = None
            with contextlib.suppress(Exception):
                await broadcast.disconnect()

    def _silent_too_long(self) -> bool:
        """Whether a heartbeat we sent has gone unanswered for longer than the limit.

        Measured from when the heartbeat was sent, not from the last message: an event loop
        starved for a while (a busy replica) delays the sending as much as the receiving, and
        must not look like a lost connection that cuts every subscriber off.
        """
        now = asyncio.get_running_loop().time()
        sent = self._unanswered_since
        # Any message shows the connection is alive (under a backlog the heartbeat queues too).
        return (
            sent is not None
            and now - sent > SILENCE_LIMIT_SECONDS
            and now - self._last_received > SILENCE_LIMIT_SECONDS
        )

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._unanswered_since is None:
                self._unanswered_since = loop.time()
            await self._send(json.dumps({"heartbeat": self._heartbeat}))
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def _dispatch(self, raw: str) -> None:
        self._last_received = asyncio.get_running_loop().time()
        message = json.loads(raw)
        if message.get("heartbeat") == self._heartbeat:
            self._unanswered_since = None
            return
        if "revoke" in message:
            revocation = Revocation.of(message["revoke"])
            if revocation is not None:
                self._apply_revocation(revocation)
            return
        if "forgetProject" in message:
            self.memberships.forget(str(message["forgetProject"]))
            self._heard_membership_change(message)
            return
        user_id = message.get("userId")
        if user_id is None:
            if "projectId" in message:
                self._dispatch_to_project(message)
            return
        for subscription in list(self._subscribers.get(user_id, ())):
            subscription.offer(message)


# The live consumer's event types; another version of one of them is dead-lettered.
LIVE_TASK_EVENTS: tuple[type[wire_events.TaskEvent], ...] = (
    wire_events.TaskCreated,
    wire_events.TaskUpdated,
    wire_events.TaskCompleted,
    wire_events.TaskReopened,
    wire_events.TaskDeleted,
    wire_events.TaskRestored,
)
# A reminder's delivery (IN_APP only is pushed), or an in-app notice no reminder announces.
LIVE_NOTIFICATION_EVENTS: tuple[type[wire_events.Event], ...] = (
    wire_events.NotificationSent,
    wire_events.NotificationCreated,
)
# Project events and their ProjectEventKind in the GraphQL schema (created: the creator's
# member.added says it).
PROJECT_EVENT_KINDS: dict[type[wire_events.ProjectEvent], str] = {
    wire_events.ProjectUpdated: "UPDATED",
    wire_events.ProjectDeleted: "DELETED",
    wire_events.ProjectMemberAdded: "MEMBER_ADDED",
    wire_events.ProjectMemberChanged: "ROLE_CHANGED",
    wire_events.ProjectMemberRemoved: "MEMBER_REMOVED",
    wire_events.ProjectInvitationCreated: "INVITED",
    wire_events.ProjectInvitationAnswered: "INVITED",
    wire_events.ProjectInvitationRevoked: "INVITED",
    wire_events.ProjectSectionCreated: "SECTION_CHANGED",
    wire_events.ProjectSectionRenamed: "SECTION_CHANGED",
    wire_events.ProjectSectionDeleted: "SECTION_CHANGED",
}
LIVE_PROJECT_EVENTS: tuple[type[wire_events.Event], ...] = (
    *PROJECT_EVENT_KINDS,
    wire_events.ProjectMoved,
)


def _project_audience(event: wire_events.ProjectEvent) -> list[str]:
    """Users who get the event besides the project's members at delivery: whoever it is
    about and is not (or no longer) a member."""
    if isinstance(event, wire_events.ProjectDeleted):
        return [str(m) for m in event.member_ids]
    if isinstance(event, wire_events.ProjectMemberRemoved):
        return [str(event.member_id)]
    if isinstance(event, wire_events.ProjectInvitationCreated) and event.invitee_id is not None:
        return [str(event.invitee_id)]
    return []


class LiveTaskEvent(WireModel):
    """What the live path reads of a task event (`contracts.events.TaskEvent`'s fields).

    The task itself is forwarded as it came, unread: it is validated into
    `contracts.task.Task` where it is read, by each subscription that receives it
    (graphql_schema/tasks/subscriptions.py). Validating it here as well would double the
    live path's cost (measured by bench/event_decode.py).
    """

    user_id: uuid.UUID
    task_id: uuid.UUID
    version: int = Field(ge=1)
    task: dict[str, Any]


def _moved_out_of(data: dict[str, Any], project_id: object) -> str | None:
    """The project a task.updated moved the task out of, if it did (moveTask)."""
    changes = data.get("changes")
    moved = changes.get("projectId") if isinstance(changes, dict) else None
    before = moved.get("before") if isinstance(moved, dict) else None
    return before if isinstance(before, str) and before != project_id else None


def _kind(event_type: str) -> str:
    """`taskstream.task.completed.v1` -> `COMPLETED` (TaskEventKind in the GraphQL schema)."""
    return type_name(event_type)[0].rsplit(".", 1)[-1].upper()


def live_subscriptions(hub: LiveHub) -> list[Subscription]:
    """The gateway's live consumer: task and notification events, forwarded to the hub."""

    async def forward_project_event(message: Message) -> Verdict | None:
        """The verdict on a project event, or None when the message is none."""
        try:
            event = wire_events.decode_among(
                message.body, topic=message.topic, models=LIVE_PROJECT_EVENTS
            )
        except InvalidInput as error:
            return DeadLetter(error.message)
        if event is None:
            return None
        if isinstance(event.data, wire_events.ProjectMoved):
            # One member's own order: only their windows follow it.
            await hub.publish(
                str(event.data.user_id),
                {
                    "kind": "project",
                    "event": "MOVED",
                    "projectId": str(event.data.project_id),
                    "at": message.body["time"],
                    "also": [str(event.data.user_id)],
                },
            )
            return Outcome.SUCCESS
        assert isinstance(event.data, wire_events.ProjectEvent)
        payload: dict[str, Any] = {
            "kind": "project",
            "event": PROJECT_EVENT_KINDS[type(event.data)],
            "at": message.body["time"],
            "also": _project_audience(event.data),
            **_trace_context(),
        }
        if isinstance(event.data, wire_events.ProjectMemberEvent):
            # Whose membership it is: each replica's project index re-reads theirs.
            payload["memberId"] = str(event.data.member_id)
        await hub.publish_to_project(str(event.data.project_id), payload)
        return Outcome.SUCCESS

    async def forward_task_event(message: Message) -> Verdict:
        body = message.body
        project_verdict = await forward_project_event(message)
        if project_verdict is not None:
            return project_verdict
        try:
            model = wire_events.model_among(body, models=LIVE_TASK_EVENTS)
            if model is None:
                return Outcome.SUCCESS
            read = LiveTaskEvent.model_validate(body["data"])
        except InvalidInput as error:
            return DeadLetter(error.message)
        except ValidationError as error:
            return DeadLetter(f"cloudevent.data: {describe(error)}")
        payload: dict[str, Any] = {
            "kind": "task",
            "event": _kind(model.TYPE),
            "taskId": str(read.task_id),
            "version": read.version,
            "at": body["time"],
            "source": body["source"],
            **_trace_context(),
        }
        if len(json.dumps(read.task)) <= INLINE_LIMIT:
            payload["task"] = read.task
        project_id = read.task.get("projectId")
        if isinstance(project_id, str):
            # Every member of the task's project sees it, not only its creator.
            await hub.publish_to_project(project_id, payload)
        else:
            await hub.publish(str(read.user_id), payload)
        left = _moved_out_of(body["data"], project_id)
        if left is not None:
            # A task moved out of a project: its members see it go (their last event of it).
            await hub.publish_to_project(left, payload)
        return Outcome.SUCCESS

    async def forward_notification(message: Message) -> Verdict:
        try:
            event = wire_events.decode_among(
                message.body, topic=message.topic, models=LIVE_NOTIFICATION_EVENTS
            )
        except InvalidInput as error:
            return DeadLetter(error.message)
        if event is None:
            return Outcome.SUCCESS
        if isinstance(event.data, wire_events.NotificationSent) and event.data.channel != "IN_APP":
            return Outcome.SUCCESS
        data = event.data.wire()
        notification = {
            key: data[key] for key in ("notificationId", "taskId", "title", "body", "createdAt")
        }
        await hub.publish(
            str(event.data.user_id),
            {
                "kind": "notification",
                "notification": notification,
                "at": message.body["time"],
                **_trace_context(),
            },
        )
        return Outcome.SUCCESS

    return [
        Subscription(TASK_EVENTS_TOPIC, LIVE_GROUP, _traced(forward_task_event)),
        Subscription(NOTIFICATIONS_TOPIC, LIVE_GROUP, _traced(forward_notification)),
    ]
