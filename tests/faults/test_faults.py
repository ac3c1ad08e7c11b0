"""Faults on the `stack up` topology under load; after each, every invariant holds again.

The stack's processes are real (Kafka KRaft brokers, a daprd beside every service, embedded
PostgreSQL); the undo of each fault is only restarting what was stopped, never a repair. The
faults themselves are in `harness.py` (the soak command runs the same ones).

Most faults run on the topology of `taskstream stack up` (one broker). The broker faults also
run on `stack up --brokers 3` (replication factor 3, min.insync.replicas 2): with one broker
down writes still reach two in-sync replicas; with two down no write can be acknowledged, the
outboxes keep the events until the brokers return, and nothing is lost or duplicated.
"""

from __future__ import annotations

import json

import pytest

from devstack.stack import Stack
from tests.faults.harness import (
    FAKED_CLOCK,
    FAKED_CLOCK_FAULTS,
    SINGLE_BROKER_FAULTS,
    SMALL_DISK,
    SMALL_DISK_FAULTS,
    THREE_BROKER_FAULTS,
    Fault,
    Ledger,
    Tally,
    User,
    inject_under_load,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(900)]

RATE = 4.0  # scenarios a second: about six mutations a second
CASES = [
    pytest.param(brokers, name, fault, seconds, id=name)
    for brokers, faults in (
        (1, SINGLE_BROKER_FAULTS),
        (3, THREE_BROKER_FAULTS),
        (SMALL_DISK, SMALL_DISK_FAULTS),
        (FAKED_CLOCK, FAKED_CLOCK_FAULTS),
    )
    for name, fault, seconds in faults
]


def assert_held(tally: Tally) -> None:
    """Nothing lost, nothing duplicated, nothing stuck, and the load was really served."""
    assert tally.acked > 0, tally
    assert tally.ok, "\n".join(tally.problems[:20])


@pytest.mark.parametrize(
    ("stack", "name", "fault", "seconds"), CASES, indirect=["stack"], scope="module"
)
async def test_the_invariants_hold_after_the_fault(
    stack: Stack, ledger: Ledger, users: list[User], name: str, fault: Fault, seconds: float
) -> None:
    tally = await inject_under_load(stack, ledger, users, name, fault, seconds=seconds, rate=RATE)
    if name.startswith("supervised:"):
        # The operator's view of the repair: the stack's status counts each restart.
        restarts = json.loads((stack.run_dir / "stack.json").read_text())["restarts"]
        assert restarts["audit"] >= 1 and restarts["daprd-notifications"] >= 1, restarts
    if "PostgreSQL" in name:
        # The database could not serve: clients are told so with a retryable code, never
        # INTERNAL (and "nothing was changed" was true: Ledger.check holds it to that).
        assert "INTERNAL" not in tally.client_codes, tally.client_errors
    if name == "PostgreSQL's disk full 15 s":
        assert tally.client_codes.get("UNAVAILABLE", 0) > 0, tally.client_codes
    if name == "kill -9 outbox leader":
        # The point of this fault: rows were committed and not yet published when it struck.
        assert tally.window, "the leader died with nothing left to publish"
    assert_held(tally)
