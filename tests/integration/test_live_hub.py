"""The live hub: fan-out across replicas through PostgreSQL, bounded memory per subscriber."""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_core.live import LiveHub, LiveSubscription, SubscriberCutOff

pytestmark = pytest.mark.integration


def plain_url(engine: AsyncEngine) -> str:
    """The database URL without the SQLAlchemy driver suffix (for broadcaster)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def test_every_replica_delivers_to_its_own_subscribers(engine: AsyncEngine) -> None:
    replicas = [LiveHub(plain_url(engine)) for _ in range(2)]
    for hub in replicas:
        await hub.start()
    user = str(uuid.uuid4())
    try:
        async with replicas[0].listen(user) as first, replicas[1].listen(user) as second:
            for n in range(20):
                # Whichever replica consumed the event publishes it.
                await replicas[n % 2].publish(user, {"kind": "task", "n": n})
            for subscription in (first, second):
                got = []
                async for message in subscription:
                    got.append(message["n"])
                    if len(got) == 20:
                        break
                assert got == list(range(20)), "all events, in publish order, on every replica"
    finally:
        for hub in replicas:
            await hub.stop()


async def test_other_users_messages_never_arrive(engine: AsyncEngine) -> None:
    hub = LiveHub(plain_url(engine))
    await hub.start()
    try:
        async with hub.listen("alice") as alice:
            await hub.publish("bob", {"kind": "task", "secret": True})
            await hub.publish("alice", {"kind": "task", "mine": True})
            message = await asyncio.wait_for(anext(aiter(alice)), 5)
            assert message == {"userId": "alice", "kind": "task", "mine": True}
    finally:
        await hub.stop()


async def test_a_slow_subscriber_is_cut_off_and_memory_stays_bounded() -> None:
    hub = LiveHub("memory://", queue_size=8)
    await hub.start()
    try:
        tracemalloc.start()
        async with hub.listen("slow") as slow:
            before = tracemalloc.take_snapshot()
            for n in range(5_000):
                await hub.publish("slow", {"kind": "task", "n": n, "padding": "x" * 200})
            await asyncio.sleep(0.2)
            after = tracemalloc.take_snapshot()
            grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
            assert slow.queue.qsize() <= 8
            assert grown < 512 * 1024, f"memory grew by {grown} bytes"
            with pytest.raises(SubscriberCutOff):
                async for _ in slow:
                    pass
    finally:
        tracemalloc.stop()
        await hub.stop()


async def test_a_membership_change_empties_every_replicas_cache(engine: AsyncEngine) -> None:
    replicas = [LiveHub(plain_url(engine)) for _ in range(2)]
    for hub in replicas:
        await hub.start()
    project, other, user = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    try:
        for hub in replicas:
            hub.memberships.put(user, project, True, hub.memberships.generation(project))
            hub.memberships.put(user, other, True, hub.memberships.generation(other))
        async with replicas[1].listen(user) as subscription:
            await replicas[0].publish_membership_change(project)
            # Messages arrive in publish order: once this one is in, so is the change.
            await replicas[0].publish(user, {"kind": "task", "after": True})
            assert (await asyncio.wait_for(anext(aiter(subscription)), 5))["after"] is True
        for hub in replicas:
            assert hub.memberships.get(user, project) is None
            assert hub.memberships.get(user, other) is True
    finally:
        for hub in replicas:
            await hub.stop()


async def test_a_membership_change_on_one_replica_moves_project_messages_on_another(
    engine: AsyncEngine,
) -> None:
    replicas = [LiveHub(plain_url(engine)) for _ in range(2)]
    for hub in replicas:
        await hub.start()
    project, user = str(uuid.uuid4()), str(uuid.uuid4())
    member_of: set[str] = set()

    async def projects(_: str) -> list[str]:
        return sorted(member_of)

    async def next_n(subscription: LiveSubscription) -> int:
        message = await asyncio.wait_for(anext(aiter(subscription)), 5)
        return int(message["n"])

    try:
        async with replicas[1].listen(user, projects=projects) as subscription:
            # Not a member yet: the project's message is not offered; a personal one is.
            await replicas[0].publish_to_project(project, {"kind": "task", "n": 1})
            await replicas[0].publish(user, {"kind": "task", "n": 2})
            assert await next_n(subscription) == 2
            # Joined, committed on replica 0: replica 1 offers the project's messages at once.
            member_of.add(project)
            await replicas[0].publish_membership_change(project, user, joined=True)
            await replicas[0].publish_to_project(project, {"kind": "task", "n": 3})
            assert await next_n(subscription) == 3
            # Left: nothing more of the project.
            member_of.clear()
            await replicas[0].publish_membership_change(project, user)
            await replicas[0].publish_to_project(project, {"kind": "task", "n": 4})
            await replicas[0].publish(user, {"kind": "task", "n": 5})
            assert await next_n(subscription) == 5
        assert replicas[1].projects.entry(user) is None
    finally:
        for hub in replicas:
            await hub.stop()
