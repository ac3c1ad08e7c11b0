"""A page of tasks with tags and reminders costs a constant number of SQL statements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

PAGE = """
query($first: Int) {
  tasks(first: $first) {
    totalCount
    edges { node { id title tags { id name openTaskCount } reminders { id remindAt state }
                   recurrence { rule upcoming(limit: 2) } } }
  }
}
"""


class StatementCounter:
    """Counts statements sent to PostgreSQL while active."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        self.statements.append(statement)


@pytest.fixture
def counter(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """A statement counter on the test engine."""
    counting = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counting)
    yield counting
    event.remove(engine.sync_engine, "before_cursor_execute", counting)


async def fill(client: GraphQLClient, count: int) -> None:
    """Tasks that each carry three tags and two reminders."""
    for i in range(count):
        await client.data(
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            {
                "i": {
                    "title": f"task {i}",
                    "tags": [f"tag{i % 7}", f"tag{i % 5 + 10}", "common"],
                    "dueAt": "2030-01-01T10:00:00Z",
                    "recurrence": {"rule": "FREQ=DAILY"} if i % 2 else None,
                    "reminders": [{"beforeDue": 10}, {"remindAt": "2030-01-01T08:00:00Z"}],
                }
            },
        )


async def statements_for_page(
    client: GraphQLClient, counter: StatementCounter, first: int
) -> tuple[int, int]:
    """Statements of one page request and the number of tasks it returned."""
    # The gateway re-checks that a token's account exists when it last saw it over 10 s
    # ago (KnownUsers); filling the other account can take that long on a busy machine, so
    # refresh that check outside the measured request.
    await client.data("{ tasks(first: 1) { edges { cursor } } }")
    counter.count = 0
    counter.statements.clear()
    data = await client.data(PAGE, {"first": first})
    # The query-cost counter is left out: a leased slice makes it zero or two statements
    # depending on when the slice lapses (tests/integration/test_shared_limits.py counts it).
    counter.statements[:] = [s for s in counter.statements if "gateway.shared_state" not in s]
    return len(counter.statements), len(data["tasks"]["edges"])


async def test_statement_count_does_not_grow_with_the_page(
    alice: GraphQLClient, bob: GraphQLClient, counter: StatementCounter
) -> None:
    await fill(alice, 10)
    # 120, not the 200 maximum: a page of 200 with these nested lists is over the cost budget.
    await fill(bob, 120)
    small, small_rows = await statements_for_page(alice, counter, 10)
    large, large_rows = await statements_for_page(bob, counter, 120)
    assert (small_rows, large_rows) == (10, 120)
    assert small == large, counter.statements
    # page, count, tags, reminders, open counts — plus a transaction's BEGIN/ROLLBACK aside.
    assert large <= 6, counter.statements
