"""Saved filters over HTTP: checked against TaskFilter/TaskOrder, saved over by name, limited,
personal, and replayable as the `tasks` query's variables."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway_core.domain.saved_filters import SAVED_FILTERS_MAX
from tests.conftest import GraphQLClient
from tests.e2e.test_projects import new_user

pytestmark = pytest.mark.e2e

SAVE = (
    "mutation($n: String!, $f: JSON!, $o: JSON) { saveFilter(name: $n, filter: $f, orderBy: $o) "
    "{ id name filter orderBy } }"
)
LIST = "{ savedFilters { id name filter orderBy } }"
DELETE = "mutation($id: ID!) { deleteSavedFilter(id: $id) }"
TASKS = (
    "query($f: TaskFilter, $o: [TaskOrder!]) { tasks(filter: $f, orderBy: $o) "
    "{ edges { node { title } } } }"
)


async def saved(client: GraphQLClient) -> list[dict[str, Any]]:
    """The client's saved filters."""
    found: list[dict[str, Any]] = (await client.data(LIST))["savedFilters"]
    return found


async def test_a_saved_filter_replays_as_the_tasks_query(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    for title, priority in (("low one", "LOW"), ("high one", "HIGH"), ("urgent", "URGENT")):
        await alice.data(
            "mutation($t: String!, $p: Priority) { createTask(input: {title: $t, priority: $p}) "
            "{ id } }",
            {"t": title, "p": priority},
        )
    filter = {"priorities": ["HIGH", "URGENT"], "status": "OPEN"}
    order = [{"field": "PRIORITY", "direction": "DESC"}]
    made = (await alice.data(SAVE, {"n": "Important", "f": filter, "o": order}))["saveFilter"]
    assert (made["name"], made["filter"], made["orderBy"]) == ("Important", filter, order)
    [listed] = await saved(alice)
    assert listed == made
    page = await alice.data(TASKS, {"f": listed["filter"], "o": listed["orderBy"]})
    assert [e["node"]["title"] for e in page["tasks"]["edges"]] == ["urgent", "high one"]


async def test_the_same_name_saves_over_keeping_the_id(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    first = (await alice.data(SAVE, {"n": "Mine", "f": {"inbox": True}}))["saveFilter"]
    second = (await alice.data(SAVE, {"n": "  MINE ", "f": {"assignedToMe": True}}))["saveFilter"]
    assert second == {
        "id": first["id"],
        "name": "MINE",
        "filter": {"assignedToMe": True},
        "orderBy": None,
    }
    assert await saved(alice) == [second]


@pytest.mark.parametrize(
    ("filter", "order", "where"),
    [
        ({"bogus": 1}, None, "filter.bogus"),
        ({"priorities": ["SOMEDAY"]}, None, "filter.priorities[0]"),
        ({"overdue": "yes"}, None, "filter.overdue"),
        ({"dueFrom": "tomorrow"}, None, "filter.dueFrom"),
        ({"text": "x" * 201}, None, "filter.text"),
        ({"anyTags": ["t"] * 21}, None, "filter.anyTags"),
        ({"anyTags": [""]}, None, "filter.anyTags"),
        (
            {"dueFrom": "2030-01-02T00:00:00Z", "dueTo": "2030-01-01T00:00:00Z"},
            None,
            "filter.dueFrom",
        ),
        ({"projectId": "not-an-id"}, None, "filter.projectId"),
        (["not", "an", "object"], None, "filter"),
        ({"text": "x" * 5000}, None, "filter"),
        ({}, [{"field": "SIZE"}], "orderBy[0].field"),
        ({}, [{"field": "TITLE", "sideways": True}], "orderBy[0].sideways"),
        ({}, {"field": "TITLE"}, "orderBy"),
        ({}, [{"field": "TITLE"}] * 7, "orderBy"),
    ],
)
async def test_bad_filters_name_the_key_and_save_nothing(
    http: httpx.AsyncClient, filter: Any, order: Any, where: str
) -> None:
    alice, _ = await new_user(http)
    error = await alice.error(SAVE, {"n": "Bad", "f": filter, "o": order})
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"].startswith(f"{where}:"), error
    assert await saved(alice) == []


@pytest.mark.parametrize("name", ["", "   ", "n" * 101])
async def test_bad_names_are_refused(http: httpx.AsyncClient, name: str) -> None:
    alice, _ = await new_user(http)
    error = await alice.error(SAVE, {"n": name, "f": {}})
    assert (error["extensions"]["code"], error["message"][:5]) == ("BAD_USER_INPUT", "name:")
    assert await saved(alice) == []


async def test_a_user_keeps_at_most_the_limit(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    for index in range(SAVED_FILTERS_MAX):
        await alice.data(SAVE, {"n": f"filter {index}", "f": {"recurring": True}})
    error = await alice.error(SAVE, {"n": "one more", "f": {}})
    assert error["extensions"]["code"] == "CONFLICT", error
    assert error["message"].startswith("name:")
    # Saving over an existing name is not one more.
    again = await alice.data(SAVE, {"n": "filter 0", "f": {"recurring": False}})
    assert again["saveFilter"]["filter"] == {"recurring": False}
    assert len(await saved(alice)) == SAVED_FILTERS_MAX


async def test_saved_filters_are_personal(http: httpx.AsyncClient) -> None:
    alice, _ = await new_user(http)
    bob, _ = await new_user(http)
    mine = (await alice.data(SAVE, {"n": "Mine", "f": {}}))["saveFilter"]
    assert await saved(bob) == []
    for id in (mine["id"], "00000000-0000-0000-0000-000000000000", "nope"):
        error = await bob.error(DELETE, {"id": id})
        assert error["extensions"]["code"] == "NOT_FOUND", error
    assert await saved(alice) == [mine]
    assert (await alice.data(DELETE, {"id": mine["id"]}))["deleteSavedFilter"] == mine["id"]
    assert await saved(alice) == []
