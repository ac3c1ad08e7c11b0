"""The sliding-window limiter."""

from __future__ import annotations

import asyncio

import pytest

from taskstream.errors import RateLimited
from taskstream.ratelimit import CostBudget, RateLimiter, RateLimits, SharedBucket
from tests.unit.memory_state import SlowState


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_then_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(limit=3, window=60, clock=clock)
    for _ in range(3):
        limiter.hit("k", what="tries")
    with pytest.raises(RateLimited, match="try again in 60 s"):
        limiter.hit("k", what="tries")
    limiter.hit("other", what="tries")
    clock.now += 30
    with pytest.raises(RateLimited, match="try again in 30 s"):
        limiter.hit("k", what="tries")
    clock.now += 30.5
    limiter.hit("k", what="tries")


async def test_login_attempts_count_per_address_and_per_account_at_that_address() -> None:
    limits = RateLimits(
        logins_per_minute=2, logins_per_address_per_minute=3, mutations_per_minute=1
    )
    await limits.login_attempt(email_key="a@x", address="10.0.0.1")
    await limits.login_attempt(email_key="a@x", address="10.0.0.1")
    with pytest.raises(RateLimited, match="for this account from this address"):
        await limits.login_attempt(email_key="a@x", address="10.0.0.1")
    with pytest.raises(RateLimited, match="log-in attempts from this address"):
        await limits.login_attempt(email_key="b@x", address="10.0.0.1")
    # The same account from elsewhere is untouched: guessing never locks the owner out.
    await limits.login_attempt(email_key="a@x", address="10.0.0.2")
    await limits.login_attempt(email_key="a@x", address="10.0.0.3")


async def test_wrong_passwords_back_off_per_account_and_address_exponentially() -> None:
    clock = Clock()
    limits = RateLimits(
        logins_per_minute=1000,
        logins_per_address_per_minute=1000,
        mutations_per_minute=1,
        login_free_failures=2,
        login_backoff_seconds=1.0,
        login_backoff_max_seconds=8.0,
        clock=clock,
    )
    pair = {"email_key": "a@x", "address": "10.0.0.1"}
    for _ in range(2):
        await limits.login_attempt(**pair)
        await limits.login_failed(**pair)
    waits = []
    for _ in range(6):
        with pytest.raises(RateLimited, match=r"try again in (\d+) s") as limited:
            await limits.login_attempt(**pair)
        wait = int(limited.value.message.rsplit("in ", 1)[1].split()[0])
        waits.append(wait)
        clock.now += wait
        await limits.login_attempt(**pair)
        await limits.login_failed(**pair)
    # 1, 2, 4, 8 seconds, then capped.
    assert waits == [1, 2, 4, 8, 8, 8]
    # Another address of the same account, and the same address for another account: free.
    await limits.login_attempt(email_key="a@x", address="10.0.0.2")
    await limits.login_attempt(email_key="b@x", address="10.0.0.1")
    # The right password ends the backoff of the pair.
    clock.now += 8
    await limits.login_attempt(**pair)
    await limits.login_succeeded(**pair)
    await limits.login_failed(**pair)
    await limits.login_attempt(**pair)


async def test_sign_ups_are_limited_per_address_per_hour() -> None:
    clock = Clock()
    limits = RateLimits(
        logins_per_minute=1000,
        logins_per_address_per_minute=1000,
        mutations_per_minute=1,
        signups_per_address_per_hour=2,
        clock=clock,
    )
    await limits.sign_up(address="10.0.0.1")
    await limits.sign_up(address="10.0.0.1")
    with pytest.raises(RateLimited, match="sign-ups from this address"):
        await limits.sign_up(address="10.0.0.1")
    await limits.sign_up(address="10.0.0.2")
    clock.now += 3600
    await limits.sign_up(address="10.0.0.1")


def test_query_cost_comes_out_of_a_bucket_that_refills() -> None:
    clock = Clock()
    budget = CostBudget(capacity=100, per_second=10.0, clock=clock)
    budget.spend("alice", 60)
    budget.spend("alice", 40)
    with pytest.raises(RateLimited, match=r"query cost 30 is more than the 0 points .* in 3 s"):
        budget.spend("alice", 30)
    budget.spend("bob", 100)  # each account has its own bucket
    clock.now += 3.0
    budget.spend("alice", 30)
    clock.now += 1_000.0
    budget.spend("alice", 100)  # refilled to the capacity, never beyond it
    with pytest.raises(RateLimited):
        budget.spend("alice", 1)


def test_a_refused_spend_takes_nothing() -> None:
    clock = Clock()
    budget = CostBudget(capacity=100, per_second=1.0, clock=clock)
    budget.spend("alice", 90)
    with pytest.raises(RateLimited):
        budget.spend("alice", 50)
    budget.spend("alice", 10)  # the 10 left were not touched by the refusal


def test_measured_work_takes_what_is_left_and_refuses_nothing() -> None:
    clock = Clock()
    budget = CostBudget(capacity=100, per_second=10.0, clock=clock)
    budget.spend_up_to("alice", 30)
    budget.spend("alice", 70)  # 30 were taken: 70 left
    budget.spend_up_to("alice", 500)  # more than is left: the bucket is empty, nothing raised
    with pytest.raises(RateLimited, match="the 0 points"):
        budget.spend("alice", 1)
    clock.now += 1.0
    budget.spend("alice", 10)  # it refills from empty, not from a debt


@pytest.mark.parametrize("shared", [False, True], ids=["local", "shared"])
async def test_an_operation_pays_for_the_time_it_took_as_far_as_the_bucket_holds(
    shared: bool,
) -> None:
    clock = Clock()
    limits = RateLimits(
        logins_per_minute=10,
        logins_per_address_per_minute=10,
        mutations_per_minute=10,
        cost_capacity=100,
        cost_per_second=10.0,
        clock=clock,
        state=SlowState(0) if shared else None,
    )
    await limits.query_cost("alice", 10)
    await limits.query_time("alice", 60)
    await limits.query_cost("alice", 20)  # 100 - 10 - 60: 30 left, 10 after this
    await limits.query_time("alice", 50)  # more than is left: takes the 10
    with pytest.raises(RateLimited):
        await limits.query_cost("alice", 1)
    await limits.query_time("alice", 1_000)  # nothing left to take: not an error
    await limits.query_cost("bob", 100)  # another account's bucket is untouched
    clock.now += 2.0
    await limits.query_cost("alice", 20)
    with pytest.raises(RateLimited):
        await limits.query_cost("alice", 1)


async def test_a_request_cancelled_while_its_batch_is_in_the_store_leaves_the_others_answered() -> (
    None
):
    state = SlowState(0.05)
    bucket = SharedBucket(state, kind="mutations", capacity=10, per_second=1)
    first = asyncio.create_task(bucket.take("alice"))
    while state.reads < 1:  # the first is in the store, holding the key's turn
        await asyncio.sleep(0.001)
    # These queue behind it and go together in the next batch...
    second = asyncio.create_task(bucket.take("alice"))
    third = asyncio.create_task(bucket.take("alice"))
    while state.reads < 2:  # ...which is in the store now, started by the second
        await asyncio.sleep(0.001)
    second.cancel()  # its deadline: it gives up the turn with its batch still running
    taken = await asyncio.wait_for(asyncio.gather(first, third), timeout=5)
    assert [admitted for admitted, _, _ in taken] == [True, True]
    with pytest.raises(asyncio.CancelledError):
        await second
    # The cancelled request's point was spent all the same: its batch ran to its end.
    admitted, _, left = await bucket.take("alice")
    assert admitted and left == pytest.approx(6, abs=0.5)


def test_a_shared_bucket_that_refills_within_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match=r"the cost bucket refills in 0\.1 s"):
        SharedBucket(SlowState(0), kind="cost", capacity=100, per_second=1_000)


async def test_a_replica_whose_clock_lags_is_not_refused_by_a_fast_refilling_budget() -> None:
    # A request's time is read before it waits its turn, and another replica (another
    # machine's clock) may store a later one meanwhile. With 100 points refilled at 1e9/s the
    # bucket refilled in 0.1 microseconds: a replica 10 ms behind found the stored time "over"
    # and refused a fresh account with "0 points left". The budget now holds a second's refill.
    state = SlowState(0)
    ahead, behind = Clock(), Clock()
    behind.now -= 0.010
    replicas = [
        RateLimits(
            logins_per_minute=10,
            logins_per_address_per_minute=10,
            mutations_per_minute=10,
            cost_capacity=100,
            cost_per_second=1e9,
            clock=clock,
            state=state,
        )
        for clock in (ahead, behind)
    ]
    for _ in range(3):
        for limits in replicas:
            await limits.query_cost("alice", 2)


def leased_bucket(state: SlowState, kind: str = "mutations") -> SharedBucket:
    """A bucket of 1,000 points whose replica slices are 50 points for 60 s."""
    return SharedBucket(
        state, kind=kind, capacity=1_000, per_second=10, lease_fraction=0.05, lease_seconds=60
    )


async def test_a_prefetched_slice_serves_the_first_request_without_a_store_visit() -> None:
    state = SlowState(0.01)
    bucket = leased_bucket(state)
    bucket.prefetch("alice")
    await bucket.settled()
    assert state.reads == 1 and bucket.held("alice") == 50
    admitted, _, left = await bucket.take("alice")
    assert admitted and left == 49
    assert state.reads == 1  # the request spent from the slice


async def test_a_request_arriving_during_the_prefetch_waits_for_it_and_spends_its_slice() -> None:
    state = SlowState(0.05)
    bucket = leased_bucket(state)
    bucket.prefetch("alice")
    while state.reads < 1:  # the prefetch is in the store, holding the key's turn
        await asyncio.sleep(0.001)
    admitted, _, left = await asyncio.wait_for(bucket.take("alice"), timeout=5)
    assert admitted and left == 49
    assert state.reads == 1  # one visit for both, not one each in turn


async def test_a_prefetch_takes_nothing_when_a_slice_is_live_or_the_bucket_is_half_spent() -> None:
    state = SlowState(0)
    bucket = leased_bucket(state)
    await bucket.take("alice")  # takes a slice beside the point
    bucket.prefetch("alice")
    await bucket.settled()
    assert state.reads == 1
    # Another replica spends the bucket down to less than half: this replica learns it...
    other = leased_bucket(state)
    await other.take("bob", 600)
    await bucket.take("bob", 1)
    visits = state.reads
    # ...and when its slice of bob lapses, a prefetch would be given none: it asks nothing.
    for lease in bucket._leases.values():
        lease.until = 0
    bucket.prefetch("bob")
    await bucket.settled()
    assert state.reads == visits


async def test_only_the_leased_per_request_budgets_are_prefetched() -> None:
    state = SlowState(0)
    limits = RateLimits(
        logins_per_minute=10,
        logins_per_address_per_minute=10,
        mutations_per_minute=1_000,
        cost_capacity=1_000,
        cost_per_second=100,
        state=state,
        lease_fraction=0.05,
        lease_seconds=60,
    )
    limits.prefetch("alice")
    await limits.settled()
    assert sorted(key.split(":")[1] for key in state.entries) == ["cost", "mutations"]
    visits = state.reads
    await limits.query_cost("alice", 5)
    await limits.mutation("alice")
    assert state.reads == visits
    # Without leases (the default) there is nothing to prefetch.
    exact = leased_bucket(state)
    exact.lease_max = 0
    exact.prefetch("carol")
    await exact.settled()
    assert state.reads == visits
