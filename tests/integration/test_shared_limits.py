"""Rate limits, log-in backoff and persisted documents counted in the shared state: two
`RateLimits` (two replicas) over one store give one budget, through each adapter."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_schema.persisted import LruDocumentStore, SharedDocumentStore, sha256_hex
from taskstream.errors import RateLimited
from taskstream.ratelimit import RateLimits
from taskstream.sharedstate import (
    BucketOutcome,
    BucketSpend,
    DaprState,
    PostgresState,
    SharedState,
)

pytestmark = pytest.mark.integration


class Clock:
    """A wall clock the test moves (GCRA's times are shared, so wall-clock based)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def replicas(state: SharedState, clock: Clock, **limits: int) -> tuple[RateLimits, RateLimits]:
    """Two gateways' limits over the same store."""
    options = {
        "logins_per_minute": 1000,
        "logins_per_address_per_minute": 1000,
        "mutations_per_minute": 1000,
        **limits,
    }
    return (
        RateLimits(**options, clock=clock, state=state),
        RateLimits(**options, clock=clock, state=state),
    )


async def admitted(attempt: asyncio.Future[None] | object) -> bool:
    """Whether an attempt was admitted (False: RATE_LIMITED)."""
    try:
        await attempt  # type: ignore[misc]
    except RateLimited:
        return False
    return True


async def test_two_replicas_share_one_mutation_budget_under_concurrency(
    state: SharedState,
) -> None:
    clock = Clock()
    one, two = replicas(state, clock, mutations_per_minute=12)
    user = str(uuid.uuid4())
    # 36 attempts at once, alternating replicas: exactly the budget gets through, not twice it.
    attempts = [(one if n % 2 else two).mutation(user) for n in range(36)]
    results = await asyncio.gather(*(admitted(a) for a in attempts))
    assert sum(results) == 12
    with pytest.raises(RateLimited, match=r"too many changes; try again in 5 s"):
        await one.mutation(user)
    # Another account has its own budget; time refills the bucket at 12 a minute.
    await two.mutation(str(uuid.uuid4()))
    clock.now += 5
    await two.mutation(user)
    with pytest.raises(RateLimited):
        await one.mutation(user)


async def test_query_cost_is_one_bucket_across_replicas(state: SharedState) -> None:
    clock = Clock()
    one_cost = RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=1,
        cost_capacity=100,
        cost_per_second=10.0,
        clock=clock,
        state=state,
    )
    other = RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=1,
        cost_capacity=100,
        cost_per_second=10.0,
        clock=clock,
        state=state,
    )
    user = str(uuid.uuid4())
    await one_cost.query_cost(user, 60)
    await other.query_cost(user, 40)
    with pytest.raises(RateLimited, match=r"query cost 30 is more than the 0 points .* in 3 s"):
        await one_cost.query_cost(user, 30)
    clock.now += 3
    await other.query_cost(user, 30)
    # A refused spend takes nothing: the 0 left after it are still 0, not negative.
    with pytest.raises(RateLimited):
        await one_cost.query_cost(user, 1)


async def test_wrong_passwords_on_one_replica_back_off_the_pair_on_the_other(
    state: SharedState,
) -> None:
    clock = Clock()
    one, two = replicas(state, clock, login_free_failures=2)
    pair = {"email_key": f"{uuid.uuid4().hex}@x", "address": "10.0.0.1"}
    await one.login_attempt(**pair)
    await one.login_failed(**pair)
    await two.login_attempt(**pair)
    await two.login_failed(**pair)
    with pytest.raises(RateLimited, match=r"wrong passwords.*try again in 1 s"):
        await one.login_attempt(**pair)
    with pytest.raises(RateLimited, match="wrong passwords"):
        await two.login_attempt(**pair)
    # Another address of the account is free; the right password (on either) clears the pair.
    await two.login_attempt(email_key=pair["email_key"], address="10.0.0.2")
    clock.now += 1
    await two.login_attempt(**pair)
    await two.login_succeeded(**pair)
    await one.login_failed(**pair)
    await one.login_attempt(**pair)


async def test_log_in_attempts_per_address_count_on_every_replica(state: SharedState) -> None:
    clock = Clock()
    one, two = replicas(state, clock, logins_per_address_per_minute=3)
    address = f"10.{uuid.uuid4().int % 250}.0.{uuid.uuid4().int % 250}"
    await one.login_attempt(email_key="a@x", address=address)
    await two.login_attempt(email_key="b@x", address=address)
    await one.sign_up(address=address)
    with pytest.raises(RateLimited, match="log-in attempts from this address"):
        await two.login_attempt(email_key="c@x", address=address)


class CountingState(PostgresState):
    """The PostgreSQL adapter, counting its visits for a bucket (a fake that subclasses the
    real port): each is one statement. `requests` are the visits requests wait on (a spend),
    `top_ups` those made in the background (only a slice)."""

    reads = 0
    requests = 0
    top_ups = 0

    async def spend_bucket(self, key: str, spend: BucketSpend, *, ttl: float) -> BucketOutcome:
        """Count, then spend."""
        self.reads += 1
        if spend.costs:
            self.requests += 1
        else:
            self.top_ups += 1
        return await super().spend_bucket(key, spend, ttl=ttl)


async def test_a_refused_key_is_refused_locally_without_reading_the_store(
    engine: AsyncEngine,
) -> None:
    state = CountingState(engine)
    clock = Clock()
    limits = RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=2,
        clock=clock,
        state=state,
    )
    user = str(uuid.uuid4())
    await limits.mutation(user)
    await limits.mutation(user)
    reads = state.reads
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limits.mutation(user)
    assert state.reads == reads
    # Once the time the replica knew of has passed, it asks the store again.
    clock.now += 30
    await limits.mutation(user)
    assert state.reads == reads + 1


async def test_a_document_registered_on_one_replica_is_found_on_the_other(
    state: SharedState,
) -> None:
    def store() -> SharedDocumentStore:
        return SharedDocumentStore(
            state, ttl=60, local=LruDocumentStore(max_entries=10, max_chars=10_000)
        )

    one, two = store(), store()
    document = f"query Q{uuid.uuid4().hex} {{ me {{ id }} }}"
    digest = sha256_hex(document)
    assert await two.get(digest) is None
    await one.put(digest, document)
    assert await two.get(digest) == document
    # A text that does not hash to its key (written by anything else) is not run.
    forged = sha256_hex(document + " ")
    await state.set(SharedDocumentStore.key(forged), document, ttl=60)
    assert await two.get(forged) is None


async def test_a_persisted_document_expires_after_its_ttl_on_every_replica(
    state: SharedState, engine: AsyncEngine
) -> None:
    def replica() -> SharedDocumentStore:
        # A fresh replica each time: an empty local cache, so only the store can answer.
        return SharedDocumentStore(
            state, ttl=1, local=LruDocumentStore(max_entries=10, max_chars=10_000)
        )

    document = f"query Q{uuid.uuid4().hex} {{ me {{ id }} }}"
    digest = sha256_hex(document)
    await replica().put(digest, document)
    assert await replica().get(digest) == document
    # Wait for the store's clock, not ours: PostgreSQL decides expiry in both adapters.
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_sleep(2.1)"))
    assert await replica().get(digest) is None


def unreachable() -> DaprState:
    """The Dapr adapter aimed at a port nothing listens on (a sidecar that is down)."""
    return DaprState("http://127.0.0.1:9", timeout=2.0)


async def test_when_the_store_is_down_budgets_let_requests_through_and_log_ins_wait() -> None:
    state = unreachable()
    limits = RateLimits(
        logins_per_minute=1, logins_per_address_per_minute=1, mutations_per_minute=1, state=state
    )
    try:
        user = str(uuid.uuid4())
        # Reads and writes keep working through an outage of the store...
        for _ in range(3):
            await limits.mutation(user)
            await limits.query_cost(user, 100)
        # ...while password guessing and sign-ups get a retryable refusal, not a free pass.
        with pytest.raises(RateLimited, match="cannot be checked at the moment"):
            await limits.login_attempt(email_key="a@x", address="10.0.0.1")
        with pytest.raises(RateLimited, match="cannot be checked at the moment"):
            await limits.sign_up(address="10.0.0.1")
        # Recording an outcome does not fail the log-in it belongs to.
        await limits.login_failed(email_key="a@x", address="10.0.0.1")
        await limits.login_succeeded(email_key="a@x", address="10.0.0.1")
    finally:
        await state.close()


async def test_when_the_store_is_down_documents_are_kept_by_this_replica() -> None:
    state = unreachable()
    store = SharedDocumentStore(
        state, ttl=60, local=LruDocumentStore(max_entries=10, max_chars=10_000)
    )
    try:
        document = "query Down { me { id } }"
        digest = sha256_hex(document)
        assert await store.get(digest) is None  # PERSISTED_QUERY_NOT_FOUND: the client resends
        await store.put(digest, document)
        assert await store.get(digest) == document
    finally:
        await state.close()


async def test_a_burst_on_one_replica_goes_to_the_store_in_batches(engine: AsyncEngine) -> None:
    state = CountingState(engine)
    limits = RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=5,
        clock=Clock(),
        state=state,
    )
    user = str(uuid.uuid4())
    results = await asyncio.gather(*(admitted(limits.mutation(user)) for _ in range(20)))
    # The first request alone, then the 19 that queued behind it in one compare-and-set;
    # admitted in arrival order, exactly the budget.
    assert state.reads == 2
    assert results == [True] * 5 + [False] * 15


def leasing(state: SharedState, clock: Clock, *, mutations: int, fraction: float) -> RateLimits:
    """A replica's limits whose per-request buckets lease slices of `fraction` of a budget."""
    return RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=mutations,
        clock=clock,
        state=state,
        lease_fraction=fraction,
        lease_seconds=1.0,
    )


async def test_far_from_the_limit_a_leased_slice_is_spent_without_the_store(
    engine: AsyncEngine,
) -> None:
    state = CountingState(engine)
    clock = Clock()
    limits = leasing(state, clock, mutations=1000, fraction=0.05)
    user = str(uuid.uuid4())
    # The first request reserves itself and a slice of 50 beside it; the next 50 spend the
    # slice in this process; the 52nd goes to the store for the next slice.
    for _ in range(51):
        await limits.mutation(user)
    assert state.reads == 1
    await limits.mutation(user)
    assert state.reads == 2
    # A slice lapses after its second: the next request asks the store again.
    clock.now += 1
    await limits.mutation(user)
    assert state.reads == 3
    # Paced, 20 a second for 10 s (more than the 16.7 a second the bucket gets back, far above
    # half full throughout): each time three quarters of the slice or half its second is gone,
    # the request that notices starts a top-up, which lands long before the slice runs out (a
    # millisecond here, against 0.6 s to spend the last quarter of a slice of 50). No request
    # waits for the store again; the slice is renewed about every half second.
    for _ in range(200):
        clock.now += 0.05
        await limits.mutation(user)
        await limits.settled()
    assert state.requests == 3
    assert 10 <= state.top_ups <= 20


async def test_leasing_replicas_together_admit_exactly_the_budget(state: SharedState) -> None:
    clock = Clock()
    one = leasing(state, clock, mutations=100, fraction=0.1)
    two = leasing(state, clock, mutations=100, fraction=0.1)
    user = str(uuid.uuid4())
    # Three times the budget at once, alternating replicas: the slices are taken from the one
    # shared bucket, so leases add nothing to what gets through, and each replica spends its
    # slice before it is refused, so nothing is lost either.
    attempts = [(one if n % 2 else two).mutation(user) for n in range(300)]
    results = await asyncio.gather(*(admitted(a) for a in attempts))
    assert sum(results) == 100
    with pytest.raises(RateLimited):
        await one.mutation(user)
    with pytest.raises(RateLimited):
        await two.mutation(user)


async def test_at_most_half_full_every_request_is_counted_in_the_store(
    engine: AsyncEngine,
) -> None:
    state = CountingState(engine)
    clock = Clock()
    limits = leasing(state, clock, mutations=20, fraction=0.25)
    user = str(uuid.uuid4())
    # 20 in the bucket, slices of up to 5 but never below half (10): the first request leases
    # 5 (19 - 5 = 14 left), the next 5 spend it, then 14 → 13 leases 3 (13 - 3 = 10 left), ...
    for _ in range(10):
        await limits.mutation(user)
    reads = state.reads
    assert reads < 10
    # ...and from half full on, each request asks the store: one read per request.
    for _ in range(10):
        await limits.mutation(user)
    assert state.reads == reads + 10
    with pytest.raises(RateLimited, match="too many changes"):
        await limits.mutation(user)


async def test_a_slice_held_by_one_replica_refuses_the_other_early_within_the_tolerance(
    state: SharedState,
) -> None:
    clock = Clock()
    one = leasing(state, clock, mutations=40, fraction=0.25)
    two = leasing(state, clock, mutations=40, fraction=0.25)
    user = str(uuid.uuid4())
    # One request on replica one reserves a slice of 10 (40 - 1 - 10 = 29 left in the store).
    await one.mutation(user)
    admitted_on_two = 0
    while await admitted(two.mutation(user)):
        admitted_on_two += 1
    # Replica two got what the store held after replica one's slice (and its own slices, all
    # spent): the budget less replica one's request and its unspent slice (the documented
    # tolerance, lease_fraction * capacity per replica), never more than the budget.
    assert admitted_on_two == 40 - 1 - 10
    # Replica one still spends its slice until it lapses: the budget is reached, not exceeded.
    for _ in range(10):
        await one.mutation(user)
    with pytest.raises(RateLimited):
        await one.mutation(user)


async def test_a_request_bigger_than_the_slice_gets_the_slice_back_and_the_rest(
    state: SharedState,
) -> None:
    clock = Clock()
    limits = RateLimits(
        logins_per_minute=1,
        logins_per_address_per_minute=1,
        mutations_per_minute=1,
        cost_capacity=100,
        cost_per_second=1.0,
        clock=clock,
        state=state,
        lease_fraction=0.25,
    )
    user = str(uuid.uuid4())
    # 10 spent and a slice of 25 held: 65 left in the store, 90 for the account.
    await limits.query_cost(user, 10)
    # 70 is more than the slice and than the store's 65: the slice goes back with the request.
    await limits.query_cost(user, 70)
    with pytest.raises(RateLimited, match=r"query cost 30 is more than the 20 points"):
        await limits.query_cost(user, 30)
    await limits.query_cost(user, 20)


async def test_two_leasing_replicas_never_overdraw_and_hold_at_most_a_slice_each(
    engine: AsyncEngine,
) -> None:
    # The bound of taskstream/ratelimit.py: over any span of t seconds both replicas together
    # admit at most capacity + t * rate (overdraw 0), and each holds at most a slice
    # (lease_fraction * capacity) taken but unspent, which is all it can refuse early.
    # 480 a minute (8/s: times exact in binary), slices of 10 % (48): two replicas with bursts
    # and lulls, top-ups in the background, on one PostgreSQL.
    clock = Clock()
    state = CountingState(engine)
    one = leasing(state, clock, mutations=480, fraction=0.1)
    two = leasing(state, clock, mutations=480, fraction=0.1)
    user = str(uuid.uuid4())
    capacity, rate, slice_ = 480, 8.0, 48
    rng = random.Random(16)
    admitted_at: list[float] = []
    start = clock.now
    for step in range(320):
        # Phases of 4 s: a burst (four times the rate), then a lull (about the rate).
        burst = (step // 32) % 2 == 0
        for replica in (one, two):
            for _ in range(rng.randrange(5) if burst else rng.randrange(2)):
                if await admitted(replica.mutation(user)):
                    admitted_at.append(clock.now)
        if rng.random() < 0.7:  # most top-ups land before the next step, some later
            await one.settled()
            await two.settled()
        for replica in (one, two):
            assert replica.shared["mutations"].held(user) <= slice_
        clock.now += 0.125
    await one.settled()
    await two.settled()
    assert state.top_ups > 0 and state.requests > 0
    # Overdraw 0: every window [a, b] of the admissions holds at most capacity + rate * (b - a).
    for first in range(len(admitted_at)):
        for last in range(first, len(admitted_at), 5):
            span = admitted_at[last] - admitted_at[first]
            assert last - first + 1 <= capacity + rate * span
    # Nothing lost either: with the clock stopped, each replica spends until refused (its
    # slice, then what the store holds). What a slice held, spent or not (some lapsed while
    # their top-up was late), went back with the next visit: every point the bucket gave over
    # the run was admitted (the bursts kept it from ever being full again).
    for replica in (one, two):
        while await admitted(replica.mutation(user)):
            admitted_at.append(clock.now)
    assert len(admitted_at) == capacity + rate * (clock.now - start)
