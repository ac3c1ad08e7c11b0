"""The static cost model and the input list caps, on the real schema, without a database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    parse,
)

from graphql_schema.cost import (
    CONNECTIONS,
    FIXED_SIZES,
    LIST_CAPS,
    OCCURRENCE,
    SIZED_BY_ARGUMENT,
    TEXT_SEARCH,
    check_input_lists,
    operation_cost,
)
from graphql_schema.schema import build_schema
from taskstream.errors import InvalidInput
from taskstream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BUDGET = Settings().graphql_max_cost


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(Settings())._schema


def cost(schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> int:
    return operation_cost(schema, parse(query), variables).requested


def caps(schema: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> None:
    check_input_lists(schema, parse(query), variables)


# -- the model -----------------------------------------------------------------------------------


def test_scalars_are_free_and_objects_cost_one(schema: GraphQLSchema) -> None:
    assert cost(schema, "{ __typename }") == 0
    assert cost(schema, "{ me { id email timezone } }") == 1


def test_a_connection_costs_two_plus_its_page(schema: GraphQLSchema) -> None:
    # 2 (connection) + 10 edges x (edge 1 + node 1).
    assert cost(schema, "{ tasks(first: 10) { edges { node { id } } } }") == 2 + 10 * 2


def test_nested_lists_multiply(schema: GraphQLSchema) -> None:
    # Each of 10 tasks: edge, node, and up to 20 tags.
    query = "{ tasks(first: 10) { edges { node { tags { name } } } } }"
    assert cost(schema, query) == 2 + 10 * (2 + 20)


def test_the_default_page_applies_when_first_is_absent_null_or_a_missing_variable(
    schema: GraphQLSchema,
) -> None:
    expected = 2 + 50 * 2
    assert cost(schema, "{ tasks { edges { node { id } } } }") == expected
    assert cost(schema, "{ tasks(first: null) { edges { node { id } } } }") == expected
    query = "query($n: Int) { tasks(first: $n) { edges { node { id } } } }"
    assert cost(schema, query) == expected
    assert cost(schema, query, {"n": 200}) == 2 + 200 * 2
    # The operation's own default for the variable counts as given.
    with_default = "query($n: Int = 7) { tasks(first: $n) { edges { node { id } } } }"
    assert cost(schema, with_default) == 2 + 7 * 2


def test_sizes_are_clamped_to_the_documented_maximum(schema: GraphQLSchema) -> None:
    # The resolver refuses first: 10000 with BAD_USER_INPUT naming `first`; priced as 200.
    assert cost(schema, "{ tasks(first: 10000) { edges { node { id } } } }") == 2 + 200 * 2
    # 100.0 is the Int 100 to variable coercion, so it must not price as the default.
    query = 'query($l: Int!) { previewRecurrence(rule: "FREQ=DAILY", limit: $l) }'
    assert cost(schema, query, {"l": 100.0}) == OCCURRENCE * 100


def test_recurrence_expansion_is_priced_per_occurrence(schema: GraphQLSchema) -> None:
    assert cost(schema, '{ previewRecurrence(rule: "FREQ=DAILY") }') == OCCURRENCE * 5
    assert cost(schema, '{ previewRecurrence(rule: "FREQ=DAILY", limit: 100) }') == OCCURRENCE * 100
    query = "{ tasks(first: 200) { edges { node { recurrence { upcoming(limit: 100) } } } } }"
    # Per task: edge, node, recurrence and 100 occurrences.
    assert cost(schema, query) == 2 + 200 * (3 + OCCURRENCE * 100)


def test_text_search_and_tag_filters_are_priced(schema: GraphQLSchema) -> None:
    plain = cost(schema, "{ tasks(first: 1) { edges { node { id } } } }")
    searched = '{ tasks(first: 1, filter: {text: "meeting"}) { edges { node { id } } } }'
    assert cost(schema, searched) == plain + TEXT_SEARCH
    by_variable = "query($f: TaskFilter) { tasks(first: 1, filter: $f) { edges { node { id } } } }"
    assert cost(schema, by_variable, {"f": {"text": "x"}}) == plain + TEXT_SEARCH
    assert cost(schema, by_variable, {"f": {"anyTags": ["a", "b"], "allTags": ["c"]}}) > plain


def test_aliases_and_fragments_add_up(schema: GraphQLSchema) -> None:
    one = '{ previewRecurrence(rule: "FREQ=DAILY", limit: 100) }'
    spread = " ".join(f'a{i}: previewRecurrence(rule: "FREQ=DAILY", limit: 100)' for i in range(15))
    query = (
        f"{{ ...A ...A ...B }} fragment A on Query {{ {spread} }} "
        "fragment B on Query { x: me { id } }"
    )
    # The same fragment spread twice is counted twice (an upper bound: it runs once).
    assert cost(schema, query) == 2 * 15 * cost(schema, one) + 1
    inline = "{ ... on Query { me { id } } ... { me { id } } }"
    assert cost(schema, inline) == 2


def test_fragments_spreading_each_other_twice_are_priced_in_linear_time(
    schema: GraphQLSchema,
) -> None:
    # 2^40 spreads of `me`: walked naively, this document would never finish pricing.
    depth = 40
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth)
    )
    query = f"{{ ...F0 }} {fragments} fragment F{depth} on Query {{ me {{ id }} }}"
    assert cost(schema, query) == 2**depth


def test_skip_and_include_are_honoured_when_known(schema: GraphQLSchema) -> None:
    query = (
        "query($s: Boolean!) { me @skip(if: $s) { id } "
        "tasks(first: 1) @include(if: false) { totalCount } }"
    )
    assert cost(schema, query, {"s": True}) == 0
    assert cost(schema, query, {"s": False}) == 1
    # Unknown (missing) condition: priced as if the field runs.
    assert cost(schema, query) == 1


def test_mutations_cost_ten_each_and_password_hashing_more(schema: GraphQLSchema) -> None:
    assert cost(schema, 'mutation { deleteTask(id: "x") }') == 10
    assert cost(schema, 'mutation { a: deleteTask(id: "x") b: deleteTask(id: "y") }') == 20
    log_in = 'mutation { logIn(email: "a@b.c", password: "p") { token } }'
    assert cost(schema, log_in) > 1_000


def test_subscriptions_are_priced_by_their_selection(schema: GraphQLSchema) -> None:
    query = "subscription { taskEvents { task { recurrence { upcoming(limit: 100) } } } }"
    assert cost(schema, query) == 1 + 1 + 1 + OCCURRENCE * 100


def test_every_list_of_objects_has_a_known_size(schema: GraphQLSchema) -> None:
    missing = []
    for named in schema.type_map.values():
        if named.name.startswith("__") or not isinstance(
            named, GraphQLObjectType | GraphQLInterfaceType
        ):
            continue
        for name, field in named.fields.items():
            nullable = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            returned = get_named_type(field.type)
            if isinstance(nullable, GraphQLList) and isinstance(
                returned, GraphQLObjectType | GraphQLInterfaceType
            ):
                key = (named.name, name)
                known = key in SIZED_BY_ARGUMENT or key in FIXED_SIZES
                if not known and not (name == "edges" and named.name in CONNECTIONS):
                    missing.append(f"{named.name}.{name}")
    assert missing == [], "list fields without a size in graphql_schema/cost.py"


# -- the documents the project itself sends ------------------------------------------------------

# The largest sizes the web app and the examples ask for, and every priced filter at once.
WORST_VARIABLES: dict[str, Any] = {
    "first": 200,
    "limit": 100,
    "filter": {"text": "meeting", "anyTags": ["a"] * 20, "allTags": ["b"] * 20},
}


def web_documents() -> list[tuple[str, str]]:
    folder = ROOT / "web" / "src" / "graphql"
    fragments = (folder / "fragments.graphql").read_text()
    found = []
    for path in sorted(folder.glob("*.graphql")):
        if path.name == "fragments.graphql":
            continue
        text = path.read_text()
        document = parse(text + "\n" + fragments)
        for definition in document.definitions:
            name = getattr(definition, "name", None)
            if getattr(definition, "operation", None) is not None and name is not None:
                found.append((name.value, text + "\n" + fragments))
    return found


def example_documents() -> list[str]:
    text = (ROOT / "docs" / "api" / "examples.md").read_text()
    return re.findall(r"```graphql\n(.*?)```", text, flags=re.DOTALL)


def test_the_web_app_documents_are_found() -> None:
    names = {name for name, _ in web_documents()}
    assert {"Tasks", "Task", "PreviewRecurrence", "TaskEvents", "VerifyAuditLog"} <= names
    assert len(example_documents()) >= 10


@pytest.mark.parametrize(("name", "text"), web_documents())
def test_every_web_app_document_is_well_under_budget(
    schema: GraphQLSchema, name: str, text: str
) -> None:
    requested = operation_cost(schema, parse(text), WORST_VARIABLES, name).requested
    # Half the budget at most, with the largest page and every filter at once.
    assert requested * 2 <= BUDGET, (name, requested)


@pytest.mark.parametrize("text", example_documents())
def test_every_documented_example_is_well_under_budget(schema: GraphQLSchema, text: str) -> None:
    assert cost(schema, text, WORST_VARIABLES) * 2 <= BUDGET


# -- caps on input lists -------------------------------------------------------------------------


def test_every_input_list_of_the_schema_has_a_documented_cap(schema: GraphQLSchema) -> None:
    lists: set[str] = set()

    def is_list(type_: Any) -> bool:
        return isinstance(
            type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList
        )

    for named in schema.type_map.values():
        if named.name.startswith("__"):
            continue
        if isinstance(named, GraphQLInputObjectType):
            lists |= {f"{named.name}.{n}" for n, f in named.fields.items() if is_list(f.type)}
        if isinstance(named, GraphQLObjectType):
            for field_name, field in named.fields.items():
                lists |= {
                    f"{named.name}.{field_name}({a})"
                    for a, arg in field.args.items()
                    if is_list(arg.type)
                }
    assert lists - set(LIST_CAPS) == set()
    assert set(LIST_CAPS) - lists == set(), "caps of lists the schema no longer has"


def test_every_cap_is_said_in_the_schema(schema: GraphQLSchema) -> None:
    for key, capped in LIST_CAPS.items():
        owner, _, rest = key.partition(".")
        if "(" in rest:
            field_name, argument = rest.rstrip(")").split("(")
            owner_type = schema.get_type(owner)
            assert isinstance(owner_type, GraphQLObjectType)
            description = owner_type.fields[field_name].args[argument].description
        else:
            input_type = schema.get_type(owner)
            assert isinstance(input_type, GraphQLInputObjectType)
            description = input_type.fields[rest].description
        assert f"{capped.maximum}" in (description or ""), key


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        (
            "query($t: [String!]) { tasks(filter: {allTags: $t}) { totalCount } }",
            {"t": [f"t{i}" for i in range(21)]},
            "filter.allTags",
        ),
        (
            "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
            {"f": {"anyTags": ["x"] * 33_000}},
            "filter.anyTags",
        ),
        (
            "{ tasks(filter: {priorities: [" + ", ".join(["LOW"] * 21) + "]}) { totalCount } }",
            None,
            "filter.priorities",
        ),
        (
            "{ tasks(orderBy: [" + ", ".join(["{field: TITLE}"] * 7) + "]) { totalCount } }",
            None,
            "orderBy",
        ),
        (
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            {"i": {"title": "t", "reminders": [{"beforeDue": 5}] * 11}},
            "reminders",
        ),
        (
            'mutation($i: UpdateTaskInput!) { updateTask(id: "x", input: $i) { id } }',
            {"i": {"tags": [f"t{i}" for i in range(21)]}},
            "tags",
        ),
        (
            'mutation { createTask(input: {title: "t", reminders: [{beforeDue: 5, '
            "channels: [IN_APP, EMAIL, WEBHOOK, PUSH, IN_APP]}]}) { id } }",
            None,
            "reminders[0].channels",
        ),
    ],
)
def test_lists_over_their_cap_are_refused_naming_field_and_maximum(
    schema: GraphQLSchema, query: str, variables: dict[str, Any] | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        caps(schema, query, variables)
    assert refused.value.field == field
    assert "at most" in refused.value.message


def test_lists_at_their_cap_pass(schema: GraphQLSchema) -> None:
    caps(
        schema,
        "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }",
        {"f": {"anyTags": ["x"] * 20, "allTags": ["y"] * 20, "priorities": ["LOW"] * 20}},
    )


def test_tag_names_longer_than_fifty_are_refused_in_any_list(schema: GraphQLSchema) -> None:
    query = "query($f: TaskFilter) { tasks(filter: $f) { totalCount } }"
    with pytest.raises(InvalidInput) as refused:
        caps(schema, query, {"f": {"anyTags": ["ok", "x" * 51]}})
    assert refused.value.field == "filter.anyTags"
    with pytest.raises(InvalidInput):
        caps(schema, '{ tasks(filter: {allTags: ["%s"]}) { totalCount } }' % ("y" * 10_000))
    # Measured as the domain measures it: runs of whitespace count as one.
    caps(schema, query, {"f": {"anyTags": ["a" + " " * 100 + "b"]}})


def test_lists_inside_fragments_are_checked(schema: GraphQLSchema) -> None:
    query = (
        "query($t: [String!]) { ...F } "
        "fragment F on Query { tasks(filter: {anyTags: $t}) { totalCount } }"
    )
    with pytest.raises(InvalidInput):
        caps(schema, query, {"t": ["a"] * 21})


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The variables of every cost walk (graphql_schema.cost.operation_cost) while the test runs."""
    from graphql_schema import cost

    calls: list[Any] = []
    real = cost.operation_cost

    def counting(*args: Any) -> Any:
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(cost, "operation_cost", counting)
    return calls


def test_a_document_is_priced_once_per_operation_and_variables(
    schema: GraphQLSchema, walked: list[Any]
) -> None:
    from graphql_schema import cost

    document = parse("query($n: Int) { tasks(first: $n) { edges { node { id tags { id } } } } }")
    small, large = {"n": 10}, {"n": 100}
    assert cost.priced(schema, document, small, None) == operation_cost(schema, document, small)
    for _ in range(3):
        cheap, dear = (cost.priced(schema, document, v, None) for v in (small, large))
        assert isinstance(cheap, cost.Cost) and isinstance(dear, cost.Cost)
        assert cheap.requested < dear.requested
    assert walked == [small, large]
    # 10 and 10.0 and True are different variables in GraphQL: priced apart.
    cost.priced(schema, document, {"n": 10.0}, None)
    assert len(walked) == 3
    # A list over its cap is refused every time, by the same answer.
    tags = ", ".join(f'"t{n}"' for n in range(200))
    over = parse(f'mutation {{ createTask(input: {{title: "x", tags: [{tags}]}}) {{ id }} }}')
    first, again = (cost.priced(schema, over, {}, None) for _ in range(2))
    assert isinstance(first, cost.Refused) and first == again and first.code == "BAD_USER_INPUT"
    # What is kept goes with its document.
    prices = cost._PRICES[schema]
    assert id(document) in prices._by_document
    address = id(document)
    del document
    assert address not in prices._by_document


def test_variables_too_big_to_keep_are_priced_afresh(
    schema: GraphQLSchema, walked: list[Any]
) -> None:
    from graphql_schema import cost
    from graphql_schema.documents import FROZEN_MAX, frozen_variables

    document = parse("query($t: String) { tasks(filter: {text: $t}) { edges { node { id } } } }")
    small, big = {"t": "x" * 100}, {"t": "x" * FROZEN_MAX}
    assert frozen_variables(small) is not None
    assert frozen_variables(big) is None
    assert frozen_variables({"t": ["x"] * FROZEN_MAX}) is None
    for _ in range(2):
        cost.priced(schema, document, small, None)
        cost.priced(schema, document, big, None)
    # The small set walked once and kept; the big one walked every time and never kept.
    assert walked == [small, big, big]
    assert len(cost._PRICES[schema]._by_document[id(document)]) == 1
