"""A bound on how deeply selections nest, fragments included, checked before validation.

The depth limit counts fields only, so a chain of fragment spreads (`...F0` whose body is
`...F1`, and so on) or inline fragments inside inline fragments is "depth 1" to it, while the
validation rules (Strawberry's depth limiter among them) walk such a chain by recursion: 500
links ended in Python's RecursionError, answered without a code. This check walks at most
`limit` levels, so it cannot recurse deeper itself, and refuses the document before any rule
runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension


class TooDeep(Exception):
    """The selections nest deeper than the limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _depth(
    selections: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    known: dict[str, int],
    visiting: set[str],
    level: int,
    limit: int,
) -> int:
    """Levels below `selections`: every field, inline fragment and fragment spread counts one."""
    if selections is None:
        return 0
    if level > limit:
        raise TooDeep(f"selections are nested more than {limit} levels deep")
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode | InlineFragmentNode):
            below = _depth(selection.selection_set, fragments, known, visiting, level + 1, limit)
        elif isinstance(selection, FragmentSpreadNode):
            below = _fragment_depth(selection.name.value, fragments, known, visiting, level, limit)
        else:  # pragma: no cover - the three kinds of selection
            continue
        deepest = max(deepest, 1 + below)
    return deepest


def _fragment_depth(
    name: str,
    fragments: dict[str, FragmentDefinitionNode],
    known: dict[str, int],
    visiting: set[str],
    level: int,
    limit: int,
) -> int:
    """Levels a fragment adds; remembered, so a fragment spread many times is walked once."""
    if name in known:
        if level + known[name] > limit:
            raise TooDeep(f"selections are nested more than {limit} levels deep")
        return known[name]
    fragment = fragments.get(name)
    if fragment is None:
        return 0  # validation reports the unknown fragment
    if name in visiting:
        return 0  # a cycle: validation reports it (NoFragmentCycles)
    visiting.add(name)
    found = _depth(fragment.selection_set, fragments, known, visiting, level + 1, limit)
    visiting.discard(name)
    known[name] = found
    return found


def nesting_depth(document: DocumentNode, *, limit: int) -> int:
    """The deepest nesting of any operation of the document; TooDeep beyond `limit`."""
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    known: dict[str, int] = {}
    deepest = 0
    for node in document.definitions:
        if isinstance(node, OperationDefinitionNode):
            deepest = max(deepest, _depth(node.selection_set, fragments, known, set(), 1, limit))
    # Fragments no operation uses are still validated (and walked by the rules).
    for name in fragments:
        _fragment_depth(name, fragments, known, set(), 1, limit)
    return deepest


class SelectionNesting(SchemaExtension):
    """Refuses, before validation, documents whose selections nest beyond `limit` levels."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def on_validate(self) -> Iterator[None]:
        """BAD_USER_INPUT instead of validating a document nested too deeply."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            try:
                nesting_depth(document, limit=self.limit)
            except TooDeep as error:
                # Strawberry skips its validation when errors are already there.
                context.pre_execution_errors = [
                    GraphQLError(
                        f"{error.message} (a field, an inline fragment and a fragment spread "
                        "each count one level)",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                ]
        yield
