"""createTask costs a constant, small number of SQL statements, whatever it carries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.e2e.test_statement_count import StatementCounter, counter

pytestmark = pytest.mark.e2e

__all__ = ["counter"]

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"

# Measured when this test was written (issue 19) and lowered since: the statements of one
# createTask with tags, reminders and a recurrence in the account's zone, the task's outbox row
# included: the caller's account (for its time zone); the list's last position with the tags'
# stored spelling (structure.placement); the task's row, its tags (new tags, their ids and the
# links), its reminders and its outbox row with the relay's notification in one statement
# (UnitOfWork.commit_new_task). Only `id` is selected, so no read-back is counted. The rate
# limits' shared counters are left out: leased slices make them zero or two statements
# depending on when the slice lapses (bench/shared_counters.py and
# tests/integration/test_shared_limits.py measure them). A change that adds a statement to
# every mutation shows here; raise it only with the reason in the commit.
MOST = 3


def task(tags: int, reminders: int) -> dict[str, Any]:
    """A createTask input with this many tags and reminders, and a recurrence."""
    return {
        "title": "counted",
        "tags": [f"tag-{n}" for n in range(tags)],
        "dueAt": "2030-01-01T10:00:00Z",
        "recurrence": {"rule": "FREQ=DAILY"},
        "reminders": [{"beforeDue": 10 + n} for n in range(reminders)],
    }


async def statements_for_create(
    client: GraphQLClient, counter: StatementCounter, given: dict[str, Any]
) -> int:
    """Statements of one createTask request."""
    # The account check the gateway repeats every 10 s (KnownUsers) is taken outside the count.
    await client.data("{ tasks(first: 1) { edges { cursor } } }")
    counter.count = 0
    counter.statements.clear()
    await client.data(CREATE, {"i": given})
    counter.statements[:] = [s for s in counter.statements if "gateway.shared_state" not in s]
    return len(counter.statements)


async def test_create_task_statements_do_not_grow_with_its_tags_and_reminders(
    alice: GraphQLClient, counter: StatementCounter
) -> None:
    small = await statements_for_create(alice, counter, task(tags=1, reminders=1))
    small_statements = list(counter.statements)
    large = await statements_for_create(alice, counter, task(tags=10, reminders=5))
    assert small == large, (small_statements, counter.statements)
    assert large <= MOST, counter.statements


async def test_a_plain_create_task_is_no_more_statements_than_a_full_one(
    alice: GraphQLClient, counter: StatementCounter
) -> None:
    full = await statements_for_create(alice, counter, task(tags=3, reminders=2))
    plain = await statements_for_create(alice, counter, {"title": "plain"})
    assert plain <= full, counter.statements


def reads_the_account(statements: list[str]) -> bool:
    """Whether any statement reads the accounts table."""
    return any("FROM gateway.users" in statement for statement in statements)


async def test_create_task_reads_the_account_only_for_a_recurrence_in_its_zone(
    alice: GraphQLClient, counter: StatementCounter
) -> None:
    in_account_zone = await statements_for_create(alice, counter, task(tags=2, reminders=1))
    assert reads_the_account(counter.statements), counter.statements
    own_zone = task(tags=2, reminders=1)
    own_zone["recurrence"]["timezone"] = "Europe/Paris"
    # A rule with its own zone, or no rule at all, needs nothing of the account.
    zoned = await statements_for_create(alice, counter, own_zone)
    assert not reads_the_account(counter.statements), counter.statements
    assert zoned == in_account_zone - 1
    await statements_for_create(alice, counter, {"title": "plain", "tags": ["a"]})
    assert not reads_the_account(counter.statements), counter.statements
