"""Which taskEvents documents members of a project may share one execution of, and the
replica's shared results (single flight, bounded, failing over to an own execution)."""

from __future__ import annotations

import asyncio

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, parse

from gateway_core.live import SharedResults
from graphql_schema.live_sharing import DEPTH_MAX, VIEWER_INDEPENDENT, reads_viewer
from graphql_schema.schema import build_schema
from taskstream.settings import Settings

BENCH = "subscription { taskEvents { kind taskId version task { title } } }"


def _reads_viewer(document: str, operation_name: str | None = None) -> bool:
    return reads_viewer(parse(document), operation_name)


@pytest.mark.parametrize(
    "document",
    [
        BENCH,
        "subscription { taskEvents { __typename kind at source task { id notes status priority "
        "dueAt completedAt seriesId createdAt updatedAt version position } } }",
        "subscription { taskEvents { task { tags { id name } reminders { id remindAt state } "
        "assignee { id email } createdBy { email } section { name position } "
        "recurrence { rule upcoming(limit: 3) } subtasks { id subtasks { title } } } } }",
        "subscription S { taskEvents { task { ...Fields } } } fragment Fields on Task { title }",
        "subscription { taskEvents { ... on TaskEvent { kind } task { ... { title } } } }",
        "subscription($full: Boolean!) { taskEvents { task @include(if: $full) { notes } } }",
        # A query beside it is never selected: the subscription is what runs.
        "query Q { me { id } } subscription S { taskEvents { kind } }",
    ],
)
def test_documents_reading_nothing_of_the_viewer_are_shared(document: str) -> None:
    assert not _reads_viewer(document, "S" if "subscription S" in document else None)


@pytest.mark.parametrize(
    "document",
    [
        # The project as the caller sees it (their role), what parent the caller may see, the
        # caller's open tasks of a tag, a tag's project.
        "subscription { taskEvents { task { project { id } } } }",
        "subscription { taskEvents { task { parent { id } } } }",
        "subscription { taskEvents { task { tags { openTaskCount } } } }",
        "subscription { taskEvents { task { tags { project { id } } } } }",
        "subscription { taskEvents { task { subtasks { parent { title } } } } }",
        # Deep in a fragment, behind a spread of a spread.
        "subscription { taskEvents { task { ...A } } } fragment A on Task { ...B } "
        "fragment B on Task { project { name } }",
        # Not taskEvents at all.
        "subscription { notifications { id } }",
        "subscription { projectEvents { kind } }",
        "subscription { taskEvents { kind } notifications { id } }",
        # Unknown to the check: fields, types, fragments, directives.
        "subscription { taskEvents { task { noSuchField } } }",
        "subscription { taskEvents { task { ... on Node { id } } } }",
        "subscription { taskEvents { task { ...Missing } } }",
        "subscription { taskEvents { task { ...A } } } fragment A on Tag { name }",
        "subscription { taskEvents { task { ...A } } } fragment A on Task { ...A }",
        "subscription { taskEvents { task { title } } } fragment A on Task { title } "
        "fragment A on Task { project { id } }",
        "subscription { taskEvents { task { title @deprecated } } }",
        "subscription { taskEvents { task { __schema { types { name } } } } }",
        # Malformed for the schema: a leaf with a selection, an object without.
        "subscription { taskEvents { kind { x } } }",
        "subscription { taskEvents { task } }",
        # Not a subscription, or no such operation.
        "query { me { id } }",
        "subscription A { taskEvents { kind } } subscription B { taskEvents { kind } }",
    ],
)
def test_documents_that_read_or_may_read_the_viewer_run_per_account(document: str) -> None:
    assert _reads_viewer(document)


def test_an_unknown_operation_name_runs_per_account() -> None:
    assert _reads_viewer(BENCH, "Other")


def test_selections_deeper_than_the_limit_run_per_account() -> None:
    nested = "title"
    for _ in range(DEPTH_MAX + 1):
        nested = f"subtasks {{ {nested} }}"
    assert _reads_viewer(f"subscription {{ taskEvents {{ task {{ {nested} }} }} }}")


def _named(graphql_type: object) -> object:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def test_every_listed_field_is_in_the_schema_and_leads_where_it_says() -> None:
    schema: GraphQLSchema = build_schema(Settings())._schema
    for type_name, fields in VIEWER_INDEPENDENT.items():
        graphql_type = schema.get_type(type_name)
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        for field_name, leads_to in fields.items():
            field = graphql_type.fields.get(field_name)
            assert field is not None, f"{type_name}.{field_name}"
            named = _named(field.type)
            if leads_to is None:
                assert not isinstance(named, GraphQLObjectType), f"{type_name}.{field_name}"
            else:
                assert getattr(named, "name", None) == leads_to, f"{type_name}.{field_name}"


class Sent:
    """What one execution's sockets were sent."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> None:
        self.texts.append(text)


async def test_the_first_execution_runs_an_event_and_the_others_send_its_text() -> None:
    results = SharedResults()
    leader_sent, follower_sent = Sent(), Sent()
    leader = results.share("doc", leader_sent, wait_seconds=5)
    follower = results.share("doc", follower_sent, wait_seconds=5)
    assert not await leader.reuse("event 1")
    waiting = asyncio.create_task(follower.reuse("event 1"))
    await asyncio.sleep(0)
    assert not waiting.done()  # single flight: it waits for the leader's text
    leader.settle('{"data":1}')
    assert await waiting
    assert follower_sent.texts == ['{"data":1}']
    assert leader_sent.texts == []
    # A later member reuses it at once; another document does not.
    assert await results.share("doc", Sent(), wait_seconds=5).reuse("event 1")
    assert not await results.share("other doc", Sent(), wait_seconds=5).reuse("event 1")


@pytest.mark.parametrize("how", ["error", "abandoned", "timeout"])
async def test_waiters_execute_themselves_when_no_text_is_published(how: str) -> None:
    results = SharedResults()
    leader = results.share("doc", Sent(), wait_seconds=5)
    follower_sent = Sent()
    follower = results.share("doc", follower_sent, wait_seconds=0.05 if how == "timeout" else 5)
    assert not await leader.reuse("event")
    waiting = asyncio.create_task(follower.reuse("event"))
    await asyncio.sleep(0)
    if how == "error":
        leader.settle(None)
    elif how == "abandoned":
        leader.abandon()
    assert not await waiting
    assert follower_sent.texts == []
    if how != "timeout":
        # Nothing stays remembered for it: the next one executes it and may publish.
        assert len(results) == 0


async def test_moving_on_to_another_event_abandons_the_unsettled_claim() -> None:
    results = SharedResults()
    leader = results.share("doc", Sent(), wait_seconds=5)
    assert not await leader.reuse("event 1")
    assert not await leader.reuse("event 2")
    assert not await results.share("doc", Sent(), wait_seconds=5).reuse("event 1")


async def test_at_most_size_events_are_remembered_and_evicted_waiters_execute() -> None:
    results = SharedResults(size=3)
    first = results.share("doc", Sent(), wait_seconds=5)
    assert not await first.reuse(0)
    waiting = asyncio.create_task(results.share("doc", Sent(), wait_seconds=5).reuse(0))
    await asyncio.sleep(0)
    for event in range(1, 4):
        share = results.share("doc", Sent(), wait_seconds=5)
        assert not await share.reuse(event)
        share.settle(f"text {event}")
    assert len(results) == 3
    assert not await waiting  # event 0 was forgotten while pending: its waiter runs it
    first.settle("too late")  # nothing to publish to any more, and nothing breaks
    assert len(results) == 3


async def test_a_late_settle_of_an_evicted_claim_leaves_the_new_claim_alone() -> None:
    results = SharedResults(size=1)
    evicted = results.share("doc", Sent(), wait_seconds=5)
    assert not await evicted.reuse("event")
    assert not await results.share("doc", Sent(), wait_seconds=5).reuse("other")  # evicts it
    claimant = results.share("doc", Sent(), wait_seconds=5)
    assert not await claimant.reuse("event")  # claimed anew
    waiter_sent = Sent()
    waiting = asyncio.create_task(results.share("doc", waiter_sent, wait_seconds=5).reuse("event"))
    await asyncio.sleep(0)
    evicted.settle(None)  # the first claim's failure is not the new claim's
    await asyncio.sleep(0)
    assert not waiting.done()
    claimant.settle("text")
    assert await waiting
    assert waiter_sent.texts == ["text"]
