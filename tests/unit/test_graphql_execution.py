"""The short paths for plain leaf fields and for objects of them, and the cache of valid
documents, change no answer."""

from __future__ import annotations

import enum
import json
from typing import Any, NewType

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import AddValidationRules, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from graphql_schema.documents import (
    CachedValidation,
    LearnValidation,
    OperationSelection,
    ValidDocuments,
)
from graphql_schema.execution import PlainLeafExecution, plain_leaves
from graphql_schema.plans import PlainAttribute, PlainResolver, Shape, schema_plans


@strawberry.enum
class Colour(enum.Enum):
    """A test enum."""

    RED = "red"
    BLUE = "blue"


def _refuse(value: object) -> str:
    raise ValueError("cannot serialise this")


Refused = NewType("Refused", str)
CONFIG = StrawberryConfig(
    scalar_map={Refused: strawberry.scalar(name="Refused", serialize=_refuse, parse_value=str)}
)


@strawberry.type
class Item:
    """Plain leaves of every shape, and a few that must take the full path."""

    name: str
    nickname: str | None
    colour: Colour
    colours: list[Colour]
    broken: str  # None at run time: a non-null field that resolves to null
    refused: Refused

    @strawberry.field
    def shout(self, suffix: str = "!") -> str:
        """A field with a resolver and an argument."""
        return self.name.upper() + suffix

    @strawberry.field
    async def later(self) -> str:
        """An awaited field beside the plain ones."""
        return self.name + " later"

    @strawberry.field
    async def failing(self) -> str:
        """An awaited field that fails: its error, and null up to the nullable list."""
        raise ValueError(f"{self.name} failed")

    @strawberry.field
    async def fine_or_failing(self) -> str | None:
        """An awaited nullable field failing for one item: null there, an error beside it."""
        if self.name == "a":
            raise ValueError("a failed")
        return self.name


@strawberry.interface
class Named:
    """An interface, so that its types check what they are given (Strawberry's is_type_of)."""

    name: str


@strawberry.type
class Label(Named):
    """A type of plain leaves only: its objects may be completed in one step."""

    colour: Colour
    nickname: str | None
    broken: str


def _label(name: str, broken: str | None = "fine") -> Label:
    return Label(name=name, colour=Colour.RED, nickname=None, broken=broken)  # type: ignore[arg-type]


@strawberry.type
class Box:
    """Objects under objects, and sync resolvers without arguments (called straight)."""

    name: str
    label: Label
    labels: list[Label]

    @strawberry.field
    def sync_label(self) -> Label:
        """A label from a resolver."""
        return _label(self.name + "!")

    @strawberry.field
    def sync_labels(self) -> list[Label | None]:
        """Labels with a null among them."""
        return [_label(self.name), None]

    @strawberry.field
    def sync_none(self) -> Label:
        """Null where a label is due: the error nulls the box."""
        return None  # type: ignore[return-value]

    @strawberry.field
    def sync_wrong(self) -> Label | None:
        """Another type's object where a label is due."""
        return cast_item()  # type: ignore[no-any-return]

    @strawberry.field
    def sync_raises(self) -> str | None:
        """A resolver raising: null and an error with its path."""
        raise ValueError(f"{self.name} raised")

    @strawberry.field
    def sync_raises_required(self) -> str:
        """A non-null resolver raising: the box is nulled."""
        if self.name == "b":
            raise ValueError("b raised")
        return self.name

    @strawberry.field
    def sync_later(self, info: strawberry.Info) -> str:
        """A sync resolver answering an awaitable."""

        async def later() -> str:
            return f"{self.name} at {info.path.as_list()}"

        return later()  # type: ignore[return-value]

    @strawberry.field
    def where(self, info: strawberry.Info) -> str:
        """The field's path and parent type, from the info the resolver is given."""
        return (
            f"{info.path.as_list()} {info._raw_info.parent_type} {info.field_name} {info.context}"
        )


def _box(name: str) -> Box:
    return Box(name=name, label=_label(name), labels=[_label(name), _label(name + "2")])


@strawberry.type
class Query:
    """The root."""

    @strawberry.field
    def boxes(self) -> list[Box]:
        """Two boxes."""
        return [_box("a"), _box("b")]

    @strawberry.field
    def maybe_boxes(self) -> list[Box | None]:
        """Two boxes, each nullable."""
        return [_box("a"), _box("b")]

    @strawberry.field
    def odd_boxes(self) -> list[Box | None]:
        """A box, then one whose label and labels are null though they may not be."""
        return [_box("a"), Box(name="n", label=None, labels=None)]  # type: ignore[arg-type]

    @strawberry.field
    def labels(self) -> list[Label]:
        """Three good labels."""
        return [_label("x"), _label("y"), _label("z")]

    @strawberry.field
    def label(self) -> Label | None:
        """One good label."""
        return _label("one")

    @strawberry.field
    def holes(self) -> list[Label | None]:
        """A label, a null item, a label."""
        return [_label("x"), None, _label("z")]

    @strawberry.field
    def broken_labels(self) -> list[Label] | None:
        """The second label's non-null field is null."""
        return [_label("x"), _label("y", broken=None), _label("z")]

    @strawberry.field
    def impostors(self) -> list[Label]:
        """An object of another type among labels."""
        return [_label("x"), cast_item(), _label("z")]

    @strawberry.field
    def null_item(self) -> list[Label]:
        """A null among non-null labels."""
        return [_label("x"), None]  # type: ignore[list-item]

    @strawberry.field
    def missing(self) -> list[Label]:
        """A null for a list of non-null labels."""
        return None  # type: ignore[return-value]

    @strawberry.field
    def items(self) -> list[Item]:
        """Two items."""
        return [
            Item(
                name="a",
                nickname=None,
                colour=Colour.RED,
                colours=[Colour.RED, Colour.BLUE],
                broken=None,  # type: ignore[arg-type]
                refused=Refused("x"),
            ),
            Item(
                name="b",
                nickname="bee",
                colour=Colour.BLUE,
                colours=[],
                broken="fine",
                refused=Refused("y"),
            ),
        ]


def cast_item() -> Any:
    """An Item where a Label is due (it has a name, but is no Label)."""
    return Item(
        name="i",
        nickname=None,
        colour=Colour.RED,
        colours=[],
        broken="fine",
        refused=Refused("r"),
    )


class RecordingExecution(PlainLeafExecution):
    """The short path, remembering the fields whose objects it completed in one step."""

    planned: list[str] = []

    def shape_of(self, return_type: Any, field_details_list: Any) -> Shape | None:
        """The shape, noted when there is one."""
        plan = super().shape_of(return_type, field_details_list)
        if plan is not None:
            RecordingExecution.planned.append(field_details_list[0].node.name.value)
        return plan


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    """The same schema with the short paths and with Strawberry's own execution."""
    return (
        strawberry.Schema(
            Query, types=[Label], execution_context_class=RecordingExecution, config=CONFIG
        ),
        strawberry.Schema(Query, types=[Label], config=CONFIG),
    )


async def _same_answers(query: str, variables: dict[str, Any] | None = None) -> Any:
    """The same data and the same errors (message, path, locations) both ways; the data."""
    fast, plain = _schemas()
    ours = await fast.execute(query, variable_values=variables, context_value="ctx")
    theirs = await plain.execute(query, variable_values=variables, context_value="ctx")
    assert json.dumps(ours.data) == json.dumps(theirs.data), query  # key order included
    assert [(e.message, e.path, e.locations) for e in ours.errors or []] == [
        (e.message, e.path, e.locations) for e in theirs.errors or []
    ], query
    return ours


def test_only_attribute_leaves_take_the_short_path() -> None:
    fast, _ = _schemas()
    leaves = plain_leaves(fast._schema)
    assert set(leaves["Item"]) == {"name", "nickname", "colour", "colours", "broken", "refused"}
    assert leaves["Item"]["colours"].listed
    assert "Query" not in leaves


async def test_answers_and_errors_are_those_of_the_full_path() -> None:
    fast, plain = _schemas()
    for query in (
        '{ items { name nickname colour colours shout(suffix: "?") } }',
        "{ items { name broken } }",
        "{ items { name refused } }",
        "{ items { __typename n: name } }",
        "{ items { name later colour } }",  # one awaited field among plain ones
        "{ items { later name l2: later fineOrFailing colour } }",  # several, gathered
        "{ items { name failing later } }",  # an awaited field failing beside another
        "{ items { name later broken } }",  # a plain leaf failing beside an awaited field
    ):
        ours, theirs = await fast.execute(query), await plain.execute(query)
        assert json.dumps(ours.data) == json.dumps(theirs.data), query  # key order included
        assert [(e.message, e.path) for e in ours.errors or []] == [
            (e.message, e.path) for e in theirs.errors or []
        ], query
    failed = await fast.execute("{ items { broken } }")
    assert failed.errors is not None and failed.errors[0].path == ["items", 0, "broken"]


async def test_objects_of_plain_leaves_answer_as_the_full_path() -> None:
    RecordingExecution.planned.clear()
    for query in (
        "{ labels { name colour nickname } }",
        "{ labels { n: name name c: colour } label { name } }",
        "{ labels { ...L } } fragment L on Label { name colour }",
        "{ labels { ... on Named { name } } }",
    ):
        await _same_answers(query)
    assert set(RecordingExecution.planned) == {"labels", "label"}


async def test_objects_the_short_path_cannot_answer_take_the_full_path() -> None:
    for query in (
        "{ holes { name } }",  # a null item in a list of nullable labels
        "{ brokenLabels { name broken } }",  # a non-null field is null: the list is nulled
        "{ impostors { name } }",  # another type's object: is_type_of refuses it
        "{ nullItem { name } }",  # a null item where items are non-null
        "{ missing { name } }",  # null for a non-null list: the error reaches the root
        "{ labels { name __typename } }",  # not a plain leaf: the full path
        "{ items { name refused } }",  # a scalar refusing a value
    ):
        await _same_answers(query)


async def test_trees_of_objects_and_plain_resolvers_answer_as_the_full_path() -> None:
    RecordingExecution.planned.clear()
    answer = await _same_answers("{ boxes { where syncLater } }")
    assert answer.errors is None
    assert answer.data["boxes"][1] == {
        "where": "['boxes', 1, 'where'] Box where ctx",
        "syncLater": "b at ['boxes', 1, 'syncLater']",
    }
    for query in (
        "{ boxes { name label { name colour } labels { name } syncLabel { name } where } }",
        "{ boxes { syncLabels { name } } }",
        "{ boxes { name syncNone { name } } }",  # null for non-null: reaches the root list
        "{ maybeBoxes { name syncNone { name } } }",  # ... nulls the nullable box only
        "{ boxes { name syncWrong { name } } }",  # is_type_of refuses: null and an error
        "{ boxes { name syncRaises } }",
        "{ maybeBoxes { name syncRaisesRequired } }",
        "{ boxes { name syncLater l: syncLater where } }",
        "{ boxes { ... on Box { where label { ... on Named { name } } } } }",
        "{ oddBoxes { name label { name } } }",  # null attribute for a non-null object
        "{ oddBoxes { name labels { name } } }",  # ... for a non-null list
    ):
        await _same_answers(query)
    assert {"boxes", "maybeBoxes", "label", "labels", "syncLabel"} <= set(
        RecordingExecution.planned
    )
    # A box's label and labels are read as attributes; its resolvers called straight.
    resolvers = schema_plans(_schemas()[0]._schema).resolvers["Box"]
    assert isinstance(resolvers["label"], PlainAttribute)
    assert isinstance(resolvers["syncLabel"], PlainResolver)


async def test_skipped_and_included_fields_follow_the_variables() -> None:
    query = "query($s: Boolean!) { labels { name colour @skip(if: $s) nickname @include(if: $s) } }"
    for skip in (True, False):
        await _same_answers(query, {"s": skip})


class CountedRuns(ASTValidationRule):
    """Counts how many times the validation rules ran over a document."""

    runs = 0

    def enter_document(self, *_: object) -> None:
        """One more run."""
        CountedRuns.runs += 1


def _cached(documents: ValidDocuments, max_depth: int) -> strawberry.Schema:
    """A schema with a depth limit whose documents' verdicts are kept in `documents`."""
    return strawberry.Schema(
        Query,
        config=CONFIG,
        extensions=[
            lambda: AddValidationRules([CountedRuns]),
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: CachedValidation(documents),
            OperationSelection,
            lambda: LearnValidation(documents),
        ],
    )


async def test_a_document_is_validated_once_and_limits_still_apply() -> None:
    documents = ValidDocuments(size=2)
    schema = _cached(documents, max_depth=2)
    shallow = "{ items { name } }"
    CountedRuns.runs = 0
    first = await schema.execute(shallow)
    assert first.errors is None and documents.get(shallow) is not None
    again = await schema.execute(shallow)
    assert again.data == first.data and again.errors is None
    assert CountedRuns.runs == 1
    # Bounded: the least recently used document goes first.
    for query in ("{ items { colour } }", "{ items { colours } }"):
        assert (await schema.execute(query)).errors is None
    assert documents.get(shallow) is None


async def test_a_refused_document_is_refused_again_without_running_the_rules() -> None:
    documents = ValidDocuments(size=2)
    schema = _cached(documents, max_depth=2)
    CountedRuns.runs = 0
    answers = [await schema.execute("{ items { missing } }") for _ in range(3)]
    assert CountedRuns.runs == 1
    messages = [[error.message for error in answer.errors or []] for answer in answers]
    assert messages[0] and "missing" in messages[0][0] and messages == [messages[0]] * 3
    assert all(answer.data is None for answer in answers)
    assert documents.get("{ items { missing } }") is None
    # Refusals have their own room: they never push out a document that passes.
    assert (await schema.execute("{ items { name } }")).errors is None
    for n in range(5):
        assert (await schema.execute(f"{{ items {{ missing{n} }} }}")).errors
    assert documents.get("{ items { name } }") is not None


async def test_a_document_past_a_limit_is_refused_every_time() -> None:
    documents = ValidDocuments()
    shallow = _cached(documents, max_depth=0)
    for _ in range(2):
        deep = await shallow.execute("{ items { name } }")
        assert deep.errors is not None and "depth" in deep.errors[0].message
    assert documents.get("{ items { name } }") is None


async def test_a_refusal_that_depends_on_the_request_is_not_kept() -> None:
    documents = ValidDocuments()
    schema = _cached(documents, max_depth=2)
    two = "query A { items { name } } query B { labels { name } }"
    CountedRuns.runs = 0
    unnamed = await schema.execute(two)
    assert unnamed.errors and "operationName" in unnamed.errors[0].message
    assert CountedRuns.runs == 0 and documents.refusal(two) is None
    named = await schema.execute(two, operation_name="B")
    assert named.errors is None and named.data is not None
    assert documents.get(two) is not None
