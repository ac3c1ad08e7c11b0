"""Search, filters, ordering and keyset paging over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import GraphQLClient

pytestmark = pytest.mark.e2e

CREATE = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }"
LIST = """
query($f: TaskFilter, $o: [TaskOrder!], $first: Int, $after: String) {
  tasks(filter: $f, orderBy: $o, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id title } }
  }
}
"""


async def create(client: GraphQLClient, **fields: Any) -> str:
    """Create a task and return its id."""
    task_id: str = (await client.data(CREATE, {"i": fields}))["createTask"]["id"]
    return task_id


async def titles(client: GraphQLClient, **variables: Any) -> list[str]:
    """Titles of the first page for these variables."""
    data = await client.data(LIST, variables)
    return [e["node"]["title"] for e in data["tasks"]["edges"]]


async def test_text_search_by_prefix_case_and_typo(alice: GraphQLClient) -> None:
    await create(alice, title="Team meeting", notes="Agenda: budget")
    await create(alice, title="Dentist", notes="bring the INSURANCE card")
    await create(alice, title="Groceries", notes="milk, eggs")
    await create(alice, title="Quarterly management review")
    assert await titles(alice, f={"text": "meetng"}) == ["Team meeting"]
    assert await titles(alice, f={"text": "MEET"}) == ["Team meeting"]
    assert await titles(alice, f={"text": "insurance"}) == ["Dentist"]
    assert await titles(alice, f={"text": "insurnce card"}) == ["Dentist"]
    # Two letters off in a long word.
    assert await titles(alice, f={"text": "manegment"}) == ["Quarterly management review"]
    assert await titles(alice, f={"text": "budget meeting"}) == ["Team meeting"]
    assert await titles(alice, f={"text": "zebra"}) == []
    # Short words get no typo tolerance: "eg" must not match "egg" by edit distance, only prefix.
    assert await titles(alice, f={"text": "eg"}) == ["Groceries"]
    assert await titles(alice, f={"text": "mil"}) == ["Groceries"]
    assert await titles(alice, f={"text": "nilk"}) == []


async def test_relevance_ordering_needs_text(alice: GraphQLClient) -> None:
    await create(alice, title="report", notes="")
    await create(alice, title="report report draft", notes="report")
    ranked = await titles(
        alice, f={"text": "report"}, o=[{"field": "RELEVANCE", "direction": "DESC"}]
    )
    assert ranked == ["report report draft", "report"]
    error = await alice.error(LIST, {"o": [{"field": "RELEVANCE"}]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith(
        "orderBy"
    )


async def test_every_filter(alice: GraphQLClient) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await create(alice, title="overdue", dueAt=past, priority="HIGH", tags=["work"])
    await create(
        alice, title="future", dueAt="2031-06-01T00:00:00Z", priority="LOW", tags=["work", "home"]
    )
    await create(alice, title="undated", tags=["home"])
    await create(
        alice, title="repeating", dueAt="2031-01-01T09:00:00Z", recurrence={"rule": "FREQ=WEEKLY"}
    )
    done = await create(alice, title="done", dueAt=past)
    await alice.data(f'mutation {{ completeTask(id: "{done}") {{ id }} }}')

    async def match(**f: Any) -> set[str]:
        return set(await titles(alice, f=f))

    assert await match(status="DONE") == {"done"}
    assert await match(status="OPEN") == {"overdue", "future", "undated", "repeating"}
    assert await match(priorities=["HIGH", "LOW"]) == {"overdue", "future"}
    assert await match(anyTags=["HOME"]) == {"future", "undated"}
    assert await match(allTags=["home", "work"]) == {"future"}
    # Names repeat or differ in case: still the same two tags; one unknown name: nothing.
    assert await match(allTags=["HOME", "work", "home"]) == {"future"}
    assert await match(allTags=["home"]) == {"future", "undated"}
    assert await match(allTags=["home", "nothing"]) == set()
    assert await match(allTags=[]) == {"overdue", "future", "undated", "repeating", "done"}
    assert await match(anyTags=["nothing"]) == set()
    assert await match(dueFrom="2031-01-01T00:00:00Z") == {"future", "repeating"}
    assert await match(dueTo="2031-01-01T09:00:00Z") == {"overdue", "repeating", "done"}
    assert await match(dueFrom="2031-01-01T00:00:00Z", dueTo="2031-02-01T00:00:00Z") == {
        "repeating"
    }
    assert await match(overdue=True) == {"overdue"}
    assert await match(overdue=False) == {"future", "undated", "repeating", "done"}
    assert await match(recurring=True) == {"repeating"}
    assert await match(recurring=False, status="OPEN", anyTags=["work"]) == {"overdue", "future"}
    error = await alice.error(
        LIST, {"f": {"dueFrom": "2031-02-01T00:00:00Z", "dueTo": "2031-01-01T00:00:00Z"}}
    )
    assert error["message"].startswith("filter.dueFrom")


async def test_orderings(alice: GraphQLClient) -> None:
    await create(alice, title="b-late", dueAt="2031-03-01T00:00:00Z", priority="LOW")
    await create(alice, title="c-none", priority="URGENT")
    await create(alice, title="A-early", dueAt="2031-01-01T00:00:00Z", priority="MEDIUM")
    await create(alice, title="d-none", priority="NONE")
    assert await titles(alice) == ["A-early", "b-late", "c-none", "d-none"]
    assert await titles(
        alice, o=[{"field": "DUE_AT", "direction": "DESC"}, {"field": "CREATED_AT"}]
    ) == [
        "b-late",
        "A-early",
        "c-none",
        "d-none",
    ]
    assert await titles(alice, o=[{"field": "PRIORITY", "direction": "DESC"}]) == [
        "c-none",
        "A-early",
        "b-late",
        "d-none",
    ]
    assert await titles(alice, o=[{"field": "TITLE"}]) == ["A-early", "b-late", "c-none", "d-none"]
    assert await titles(alice, o=[{"field": "CREATED_AT", "direction": "DESC"}]) == [
        "d-none",
        "A-early",
        "c-none",
        "b-late",
    ]
    assert await titles(alice, o=[{"field": "UPDATED_AT"}]) == [
        "b-late",
        "c-none",
        "A-early",
        "d-none",
    ]


@pytest.mark.parametrize(
    "order",
    [
        None,
        [{"field": "PRIORITY", "direction": "DESC"}, {"field": "TITLE", "direction": "ASC"}],
        [{"field": "TITLE", "direction": "DESC"}],
        [{"field": "DUE_AT", "direction": "DESC"}],
    ],
)
async def test_keyset_paging_neither_repeats_nor_skips_while_rows_are_inserted(
    alice: GraphQLClient, order: list[dict[str, str]] | None
) -> None:
    priorities = ["NONE", "LOW", "MEDIUM", "HIGH", "URGENT"]
    original = set()
    for i in range(23):
        due = None if i % 4 == 0 else f"2031-01-{1 + i % 9:02d}T10:00:00Z"
        original.add(
            await create(alice, title=f"task {i % 7}", dueAt=due, priority=priorities[i % 5])
        )
    seen: list[str] = []
    after = None
    inserted = 0
    while True:
        page = (await alice.data(LIST, {"o": order, "first": 5, "after": after}))["tasks"]
        seen.extend(e["node"]["id"] for e in page["edges"])
        assert page["pageInfo"]["endCursor"] == (
            page["edges"][-1]["cursor"] if page["edges"] else None
        )
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        # Rows that sort before and after the cursor arrive between pages.
        for due, priority in (("2031-01-01T00:00:00Z", "URGENT"), (None, "NONE")):
            await create(alice, title=f"late {inserted}", dueAt=due, priority=priority)
            inserted += 1
    assert len(seen) == len(set(seen)), "a task was repeated"
    assert original <= set(seen), "a task that existed at the start was skipped"
    total = (await alice.data(LIST, {"first": 1}))["tasks"]["totalCount"]
    assert total == 23 + inserted


async def test_cursor_of_another_ordering_is_refused(alice: GraphQLClient) -> None:
    for i in range(3):
        await create(alice, title=f"t{i}")
    page = (await alice.data(LIST, {"first": 1}))["tasks"]
    cursor = page["pageInfo"]["endCursor"]
    error = await alice.error(LIST, {"first": 1, "after": cursor, "o": [{"field": "TITLE"}]})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith("after")
    garbage = await alice.error(LIST, {"first": 1, "after": "not-a-cursor"})
    assert garbage["extensions"]["code"] == "BAD_USER_INPUT"


async def test_total_count_is_exact_with_filters(alice: GraphQLClient) -> None:
    for i in range(12):
        await create(alice, title=f"count {i}", priority="HIGH" if i % 3 == 0 else "LOW")
    data = await alice.data(LIST, {"f": {"priorities": ["HIGH"]}, "first": 2})
    assert data["tasks"]["totalCount"] == 4 and len(data["tasks"]["edges"]) == 2
