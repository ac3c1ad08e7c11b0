"""The short path for plain leaf fields and the cache of valid documents change no answer."""

from __future__ import annotations

import enum
from typing import NewType

import strawberry
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from graphql_schema.documents import CachedValidation, ValidDocuments
from graphql_schema.execution import PlainLeafExecution, plain_leaves


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


@strawberry.type
class Query:
    """The root."""

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


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    """The same schema with the short path and with Strawberry's own execution."""
    return (
        strawberry.Schema(Query, execution_context_class=PlainLeafExecution, config=CONFIG),
        strawberry.Schema(Query, config=CONFIG),
    )


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
    ):
        ours, theirs = await fast.execute(query), await plain.execute(query)
        assert ours.data == theirs.data, query
        assert [(e.message, e.path) for e in ours.errors or []] == [
            (e.message, e.path) for e in theirs.errors or []
        ], query
    failed = await fast.execute("{ items { broken } }")
    assert failed.errors is not None and failed.errors[0].path == ["items", 0, "broken"]


def _cached(documents: ValidDocuments, max_depth: int) -> strawberry.Schema:
    """A schema with a depth limit whose valid documents are kept in `documents`."""
    return strawberry.Schema(
        Query,
        config=CONFIG,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: CachedValidation(documents),
        ],
    )


async def test_a_document_is_validated_once_and_limits_still_apply() -> None:
    documents = ValidDocuments(size=2)
    schema = _cached(documents, max_depth=2)
    shallow = "{ items { name } }"
    first = await schema.execute(shallow)
    assert first.errors is None and documents.get(shallow) is not None
    again = await schema.execute(shallow)
    assert again.data == first.data and again.errors is None
    # Refused documents are never kept, so they are refused every time.
    for _ in range(2):
        wrong = await schema.execute("{ items { missing } }")
        assert wrong.errors is not None and wrong.data is None
    assert documents.get("{ items { missing } }") is None
    # Bounded: the least recently used document goes first.
    for query in ("{ items { colour } }", "{ items { colours } }"):
        assert (await schema.execute(query)).errors is None
    assert documents.get(shallow) is None


async def test_a_document_past_a_limit_is_refused_every_time() -> None:
    documents = ValidDocuments()
    shallow = _cached(documents, max_depth=0)
    for _ in range(2):
        deep = await shallow.execute("{ items { name } }")
        assert deep.errors is not None and "depth" in deep.errors[0].message
    assert documents.get("{ items { name } }") is None
