"""The live hub's per-replica project index: who is offered a project's messages."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from gateway_core.live import LiveHub, LiveSubscription, ProjectIndex


class Memberships:
    """The database's word on who belongs to which project, as the hub's loader reads it."""

    def __init__(self, **projects: set[str]) -> None:
        self.projects = projects
        self.reads = 0

    async def read(self, user_id: str) -> Collection[str]:
        """The user's projects now."""
        self.reads += 1
        await asyncio.sleep(0)
        return sorted(self.projects.get(user_id, set()))


async def nothing(_: str) -> Collection[str]:
    """A loader for index tests that settle reads by hand."""
    return []


def test_a_user_is_indexed_under_their_projects_until_their_last_subscription() -> None:
    index = ProjectIndex()
    first = index.track("u", nothing)
    assert index.loaded("u", first, ["p", "q"], first.generation)
    assert index.release("u", first) == []
    second = index.track("u", nothing)
    assert second is first
    assert (index.users_of("p"), index.projects_of("u")) == (
        frozenset({"u"}),
        frozenset({"p", "q"}),
    )
    index.untrack("u", first)
    assert index.users_of("p") == {"u"}
    index.untrack("u", second)
    assert (index.users_of("p"), index.projects_of("u"), index.entry("u")) == (
        frozenset(),
        frozenset(),
        None,
    )


def test_membership_changes_apply_in_both_directions() -> None:
    index = ProjectIndex()
    entry = index.track("u", nothing)
    index.loaded("u", entry, ["p"], entry.generation)
    assert index.changed("u", "q", True) is entry
    assert index.users_of("q") == {"u"}
    assert index.changed("u", "p", False) is entry
    assert (index.users_of("p"), index.projects_of("u")) == (frozenset(), frozenset({"q"}))
    # An event that may be stale keeps the project until the re-read settles it.
    index.changed("u", "p", None)
    assert index.projects_of("u") == {"p", "q"}
    index.loaded("u", entry, ["q"], entry.generation)
    assert index.projects_of("u") == {"q"}
    # Users not subscribed here are not indexed.
    assert index.changed("nobody", "p", True) is None
    assert index.users_of("p") == frozenset()


def test_a_read_overlapped_by_a_change_is_read_again_then_settled_as_a_superset() -> None:
    index = ProjectIndex()
    entry = index.track("u", nothing)
    before = entry.generation
    index.changed("u", "new", True)
    assert not index.loaded("u", entry, ["old"], before)
    assert index.projects_of("u") == {"new"}
    index.settle("u", entry, ["old"])
    assert index.projects_of("u") == {"new", "old"}


def test_a_reset_or_a_failed_read_starts_the_user_afresh() -> None:
    index = ProjectIndex()
    stale = index.track("u", nothing)
    index.loaded("u", stale, ["p"], stale.generation)
    index.discard("u", stale)
    assert index.entry("u") is None and index.users_of("p") == frozenset()
    fresh = index.track("u", nothing)
    assert fresh is not stale and fresh.pending == []
    index.untrack("u", stale)  # the old subscription ending leaves the new entry alone
    assert index.entry("u") is fresh
    index.reset()
    assert index.entry("u") is None and index.loading() == []


def queued(subscription: LiveSubscription) -> list[dict[str, Any]]:
    """What waits in the subscription's queue, emptied."""
    found = []
    while not subscription.queue.empty():
        message = subscription.queue.get_nowait()
        assert message is not None, subscription.cut_off_reason
        found.append(message)
    return found


def project_message(project_id: str, n: int, **extra: Any) -> str:
    """A project task message as the live consumer broadcasts it."""
    import json

    return json.dumps({"projectId": project_id, "kind": "task", "n": n, **extra})


async def settled(hub: LiveHub) -> None:
    """Let the hub's reads of users' projects finish."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_burst_in_one_project_never_reaches_a_non_member() -> None:
    hub = LiveHub("memory://", queue_size=8)
    database = Memberships(member={"a"}, outsider={"b"})
    async with (
        hub.listen("member", kinds=frozenset({"task"}), projects=database.read) as member,
        hub.listen("outsider", kinds=frozenset({"task"}), projects=database.read) as outsider,
        hub.listen("outsider", kinds=frozenset({"notification"})) as notices,
    ):
        # Offered before the reads settle: held, then handed to members only.
        hub._dispatch(project_message("a", 0))
        await settled(hub)
        for n in range(1, 1_000):
            hub._dispatch(project_message("a", n))
        assert outsider.cut_off_reason is None and queued(outsider) == []
        assert queued(notices) == []
        assert member.cut_off_reason == "slow"  # the member fell behind, as designed
        hub._dispatch(project_message("b", 1))
        assert [m["n"] for m in queued(outsider)] == [1]
    assert database.reads == 2


async def test_a_removed_member_stops_receiving_at_once_and_an_added_one_starts() -> None:
    hub = LiveHub("memory://")
    database = Memberships(bob={"a"})
    async with hub.listen("bob", kinds=frozenset({"task"}), projects=database.read) as bob:
        await settled(hub)
        hub._dispatch(project_message("a", 1))
        # The committing replica's broadcast: Bob left "a" (and the database says so).
        database.projects["bob"] = set()
        hub._dispatch('{"forgetProject": "a", "memberId": "bob", "joined": false}')
        hub._dispatch(project_message("a", 2))
        # Named in a message (his removal's own event), he still gets that one.
        hub._dispatch(project_message("a", 3, also=["bob"]))
        await settled(hub)
        assert [m["n"] for m in queued(bob)] == [1, 3]
        # Added back: at once, then confirmed by the re-read.
        database.projects["bob"] = {"a"}
        hub._dispatch('{"forgetProject": "a", "memberId": "bob", "joined": true}')
        hub._dispatch(project_message("a", 4))
        await settled(hub)
        hub._dispatch(project_message("a", 5))
        assert [m["n"] for m in queued(bob)] == [4, 5]
        # The project deleted: nobody belongs to it any more.
        database.projects["bob"] = set()
        hub._dispatch('{"forgetProject": "a"}')
        hub._dispatch(project_message("a", 6))
        assert queued(bob) == []
        assert hub.projects.users_of("a") == frozenset()


async def test_a_stale_member_event_is_settled_by_the_re_read() -> None:
    hub = LiveHub("memory://")
    database = Memberships(bob=set())
    async with hub.listen("bob", kinds=frozenset({"task"}), projects=database.read) as bob:
        await settled(hub)
        # The event of an addition since undone: kept until the re-read says otherwise.
        hub._dispatch(
            '{"projectId": "a", "kind": "project", "event": "MEMBER_ADDED", "memberId": "bob"}'
        )
        assert hub.projects.projects_of("bob") == {"a"}
        await settled(hub)
        assert hub.projects.projects_of("bob") == frozenset()
        hub._dispatch(project_message("a", 1))
        assert queued(bob) == []
    assert hub.projects.entry("bob") is None


async def test_a_failed_read_cuts_the_users_project_subscriptions_off() -> None:
    hub = LiveHub("memory://")

    async def broken(_: str) -> Collection[str]:
        raise ConnectionError("database down")

    async with hub.listen("u", projects=broken) as subscription:
        await settled(hub)
        assert subscription.cut_off_reason == "interrupted"
    assert hub.projects.entry("u") is None
