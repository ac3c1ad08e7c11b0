"""Issue 13's probes of list sizes and aliases: refused before any resolver, or priced and served.

Each refusal is checked to have sent no SQL statement but the account lookup of authentication,
and refused mutations to have changed nothing, even when an earlier field of the same document
was harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from graphql_schema.schema import build_schema
from taskstream.bootstrap import bootstrap
from taskstream.messaging.memory import MemoryTransport
from taskstream.settings import Settings
from tests.conftest import GraphQLClient
from tests.e2e.test_live_updates import account, connect, receive, send, server
from tests.security.conftest import of_authentication

__all__ = ["server"]  # the fixture, imported for the WebSocket test

pytestmark = pytest.mark.e2e

COUNT = "{ tasks { totalCount } }"
# The issue's rule: its occurrences are rare (a Monday, February 29th, at 09:00).
RARE_RULE = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=9"


async def refused(
    client: GraphQLClient,
    statements: list[str],
    query: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The only error of a request that ran no resolver and sent no statement of its own."""
    statements.clear()
    body = await client.execute(query, variables)
    assert "data" not in body, body  # a request error: nothing ran
    assert len(body["errors"]) == 1, body
    assert all(of_authentication(s) for s in statements), statements
    error: dict[str, Any] = body["errors"][0]
    return error


def cost_limited(error: dict[str, Any]) -> None:
    assert error["extensions"]["code"] == "COST_LIMIT", error
    assert "exceeds the budget of 20,000" in error["message"], error


# -- lists in inputs -----------------------------------------------------------------------------


async def test_500_all_tags_are_refused_before_any_sql(
    alice: GraphQLClient, statements: list[str]
) -> None:
    names = ", ".join(f'"tag{i}"' for i in range(500))
    error = await refused(
        alice, statements, f"{{ tasks(filter: {{allTags: [{names}]}}, first: 5) {{ totalCount }} }}"
    )
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == "filter.allTags: at most 20 entries are allowed"


async def test_33000_any_tags_are_bad_user_input_not_internal(
    alice: GraphQLClient, statements: list[str]
) -> None:
    # Past asyncpg's 32,767 parameters: this was INTERNAL.
    query = "query($t: [String!]) { tasks(filter: {anyTags: $t}) { totalCount } }"
    error = await refused(alice, statements, query, {"t": [f"t{i}" for i in range(33_000)]})
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == "filter.anyTags: at most 20 entries are allowed"


async def test_a_huge_tag_name_in_a_filter_is_refused_before_any_sql(
    alice: GraphQLClient, statements: list[str]
) -> None:
    query = "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }"
    error = await refused(alice, statements, query, {"f": {"anyTags": ["x" * 1_000_000]}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("filter.anyTags: tag names must be 1 to 50")


async def test_lists_at_their_caps_are_served(alice: GraphQLClient) -> None:
    query = "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }"
    filters = {"anyTags": ["a"] * 20, "allTags": ["b"] * 20, "priorities": ["LOW"] * 20}
    assert (await alice.data(query, {"f": filters}))["tasks"]["totalCount"] == 0


async def test_a_refused_list_refuses_the_whole_mutation_document(
    alice: GraphQLClient, statements: list[str]
) -> None:
    # Mutations run in order: without the check, the first task was created before the second
    # field failed.
    tags = ", ".join(f'"t{i}"' for i in range(21))
    document = (
        'mutation { first: createTask(input: {title: "harmless"}) { id } '
        f'second: createTask(input: {{title: "tagged", tags: [{tags}]}}) {{ id }} }}'
    )
    error = await refused(alice, statements, document)
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == "tags: at most 20 entries are allowed"
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


# -- the cost budget -----------------------------------------------------------------------------


async def test_30_aliases_of_preview_recurrence_are_refused(
    alice: GraphQLClient, statements: list[str]
) -> None:
    fields = " ".join(
        f'a{i}: previewRecurrence(rule: "{RARE_RULE}", start: "2044-02-29T09:00:00Z", limit: 100)'
        for i in range(30)
    )
    error = await refused(alice, statements, f"{{ {fields} }}")
    cost_limited(error)
    assert error["message"].startswith("query cost 150,000 exceeds")


async def test_30_aliases_of_pages_of_upcoming_occurrences_are_refused(
    alice: GraphQLClient, statements: list[str]
) -> None:
    page = "tasks(first: 200) { edges { node { recurrence { upcoming(limit: 100) } } } }"
    fields = " ".join(f"a{i}: {page}" for i in range(30))
    cost_limited(await refused(alice, statements, f"{{ {fields} }}"))


async def test_one_page_of_200_tasks_with_100_occurrences_each_is_refused(
    alice: GraphQLClient, statements: list[str]
) -> None:
    query = "{ tasks(first: 200) { edges { node { recurrence { upcoming(limit: 100) } } } } }"
    cost_limited(await refused(alice, statements, query))


async def test_fragments_spreading_the_same_expensive_field_are_counted(
    alice: GraphQLClient, statements: list[str]
) -> None:
    query = (
        "{ tasks(first: 200) { edges { node { recurrence { ...Next ...Next } } } } } "
        "fragment Next on Recurrence { upcoming(limit: 5) }"
    )
    # Each spread is 50 per task, 200 tasks: over the budget only when both are counted.
    cost_limited(await refused(alice, statements, query))


async def test_variables_carry_the_sizes(alice: GraphQLClient, statements: list[str]) -> None:
    fields = " ".join(
        f'a{i}: previewRecurrence(rule: "FREQ=DAILY", start: "2030-01-01T09:00:00Z", limit: $limit)'
        for i in range(30)
    )
    query = f"query($limit: Int!) {{ {fields} }}"
    cost_limited(await refused(alice, statements, query, {"limit": 100}))
    served = await alice.execute(query, {"limit": 2})
    assert "errors" not in served, served
    assert len(served["data"]["a29"]) == 2
    assert served["extensions"]["cost"] == {"requested": 30 * 2 * 50, "budget": 20_000}


async def test_a_mutation_over_the_budget_changes_nothing(
    alice: GraphQLClient, statements: list[str]
) -> None:
    fields = " ".join(
        f'a{i}: createTask(input: {{title: "t{i}", recurrence: {{rule: "FREQ=DAILY"}}}}) '
        "{ id recurrence { upcoming(limit: 100) } }"
        for i in range(30)
    )
    cost_limited(await refused(alice, statements, f"mutation {{ {fields} }}"))
    assert (await alice.data(COUNT))["tasks"]["totalCount"] == 0


async def test_an_accepted_query_reports_its_cost(alice: GraphQLClient) -> None:
    body = await alice.execute(
        "{ me { id } tasks(first: 10) { totalCount edges { node { id } } } }"
    )
    assert "errors" not in body, body
    # me 1; tasks: connection 2, totalCount 10, 10 x (edge + node).
    assert body["extensions"] == {"cost": {"requested": 1 + 2 + 10 + 10 * 2, "budget": 20_000}}


async def test_the_budget_is_a_setting(settings: Settings) -> None:
    schema = build_schema(settings.model_copy(update={"graphql_max_cost": 5}))
    result = await schema.execute('{ previewRecurrence(rule: "FREQ=DAILY", limit: 1) }')
    assert result.data is None and result.errors
    assert result.errors[0].extensions == {"code": "COST_LIMIT"}
    assert result.errors[0].message.startswith("query cost 50 exceeds the budget of 5")


async def test_subscriptions_are_priced_before_they_subscribe(settings: Settings) -> None:
    schema = build_schema(settings.model_copy(update={"graphql_max_cost": 100}))
    # No context at all: a subscription that got as far as its resolver would fail otherwise.
    stream = await schema.subscribe(
        "subscription { taskEvents { task { recurrence { upcoming(limit: 100) } } } }"
    )
    results = [result async for result in stream]
    assert len(results) == 1
    errors = results[0].errors
    assert errors and errors[0].extensions == {"code": "COST_LIMIT"}
    assert "5,003 exceeds the budget of 100" in errors[0].message


async def test_a_subscription_over_the_budget_gets_cost_limit_on_its_socket(server: str) -> None:
    token, _, http = await account(server)
    ws = await connect(server)
    await send(ws, {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert (await receive(ws))["type"] == "connection_ack"
    occurrences = " ".join(f"r{i}: recurrence {{ upcoming(limit: 100) }}" for i in range(30))
    query = f"subscription {{ taskEvents {{ task {{ {occurrences} }} }} }}"
    await send(ws, {"id": "1", "type": "subscribe", "payload": {"query": query}})
    message = await receive(ws)
    assert (message["id"], message["type"]) == ("1", "next"), message
    error = message["payload"]["errors"][0]
    assert error["extensions"] == {"code": "COST_LIMIT"}
    assert error["message"].startswith("query cost 150,032 exceeds the budget of 20,000")
    assert (await receive(ws))["type"] == "complete"
    # The socket stays usable: an ordinary subscription on it is accepted.
    await send(
        ws,
        {
            "id": "2",
            "type": "subscribe",
            "payload": {"query": "subscription { taskEvents { kind } }"},
        },
    )
    with pytest.raises(TimeoutError):
        await receive(ws, seconds=0.5)
    await ws.close()
    await http.aclose()


@contextlib.asynccontextmanager
async def two_accounts(
    settings: Settings, engine: AsyncEngine, **changes: Any
) -> AsyncIterator[tuple[GraphQLClient, GraphQLClient]]:
    """Two signed-up accounts of a gateway whose accounts get a bucket of 5 x 10,000 points
    refilled one point a second (with these further settings)."""
    strict = settings.model_copy(
        update={"graphql_cost_per_second": 1.0, "graphql_max_cost": 10_000, **changes}
    )
    app = create_app(
        bootstrap(strict, app_id="gateway", engine=engine, transport=MemoryTransport())
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://taskstream.test"
    ) as http:
        accounts = GraphQLClient(http), GraphQLClient(http)
        for account in accounts:
            await account.sign_up()
        yield accounts


async def test_an_account_spends_its_cost_points_and_waits_for_more(
    settings: Settings, engine: AsyncEngine
) -> None:
    # A bucket of five times the budget (here 5 x 10,000 points) that refills one point a
    # second: one account sending its most expensive accepted request back to back is held
    # to that rate.
    two = " ".join(
        f'a{i}: previewRecurrence(rule: "FREQ=DAILY", start: "2030-01-01T09:00:00Z", limit: 90)'
        for i in range(2)
    )
    async with two_accounts(settings, engine) as (heavy, other):
        for _ in range(5):
            served = await heavy.execute(f"{{ {two} }}")
            assert served["extensions"]["cost"]["requested"] == 9_000, served
        refused = await heavy.execute(f"{{ {two} }}")
        assert "data" not in refused
        [error] = refused["errors"]
        assert error["extensions"] == {"code": "RATE_LIMITED"}
        assert error["message"].startswith("query cost 9,000 is more than the 5,0")
        # Cheap requests still fit; another account has its own bucket.
        assert "errors" not in await heavy.execute("{ me { id } }")
        assert "errors" not in await other.execute(f"{{ {two} }}")


@pytest.mark.parametrize("points_per_ms", [0.0, 1e6], ids=["static-only", "measured"])
async def test_an_account_pays_for_the_time_its_requests_took(
    settings: Settings, engine: AsyncEngine, points_per_ms: float
) -> None:
    # The static model prices `{ tasks(first: 1) { totalCount } }` at a few points whatever it
    # counts; what its execution took is charged after it ran. At a million points a
    # millisecond, one such request empties the bucket (5 x 10,000 points): the account's next
    # request waits, another account's does not. With measured charging off, it never waits.
    count = "{ tasks(first: 1) { totalCount } }"
    async with two_accounts(settings, engine, graphql_cost_points_per_ms=points_per_ms) as (
        heavy,
        other,
    ):
        first = await heavy.execute(count)
        assert first["data"] == {"tasks": {"totalCount": 0}}, first
        assert first["extensions"]["cost"]["requested"] < 100
        second = await heavy.execute(count)
        if points_per_ms == 0:
            assert second["data"] == first["data"], second
        else:
            assert "data" not in second
            [error] = second["errors"]
            assert error["extensions"] == {"code": "RATE_LIMITED"}
            assert "points this account has left" in error["message"]
        assert (await other.execute(count))["data"] == first["data"]
