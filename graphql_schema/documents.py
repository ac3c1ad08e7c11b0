"""Parsing and validation done once per distinct document, not once per request.

Clients send the same few documents over and over; parsing one and running every validation
rule over it (the contract's depth, alias and token limits included) cost about a third of a
page request. A document that parsed and validated cleanly is kept by its exact text, so a
repeat skips both steps; documents that fail are never kept and fail the same way every time.
"""

from __future__ import annotations

import enum
import uuid
from collections import OrderedDict
from collections.abc import Collection, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

# Longer documents are rare and would let a few requests pin much memory in the cache.
CACHEABLE_CHARS = 16_384

_V = TypeVar("_V")


class ValidDocuments:
    """Bounded LRUs of the documents that passed every validation rule of one schema, and of
    those the rules refused (with their errors).

    The rules and the parser's token limit are fixed when the schema is built, so the text of a
    document decides the outcome: one cache per schema, never shared between schemas.
    """

    def __init__(self, size: int = 256, *, pinned: Collection[str] = ()) -> None:
        self.size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._refused: OrderedDict[str, Refusal] = OrderedDict()
        # Registered (trusted) documents: parsed and validated once, never evicted.
        self.pinned = frozenset(pinned)
        self._pinned: dict[str, DocumentNode] = {}

    def get(self, text: str) -> DocumentNode | None:
        """The valid document of this text, or None when it has not been seen valid."""
        document = self._pinned.get(text)
        if document is not None:
            return document
        document = self._documents.get(text)
        if document is not None:
            self._documents.move_to_end(text)
        return document

    def put(self, text: str, document: DocumentNode) -> None:
        """Remember a document that has just passed validation."""
        if text in self.pinned:
            self._pinned[text] = document
            return
        if len(text) > CACHEABLE_CHARS:
            return
        _remember(self._documents, text, document, self.size)

    def refusal(self, text: str) -> Refusal | None:
        """The document of this text and the rules' errors, when the rules refused it before."""
        refusal = self._refused.get(text)
        if refusal is not None:
            self._refused.move_to_end(text)
        return refusal

    def refuse(self, text: str, document: DocumentNode, errors: Sequence[GraphQLError]) -> None:
        """Remember a document the validation rules have just refused, and why."""
        if len(text) <= CACHEABLE_CHARS:
            _remember(self._refused, text, Refusal(document, tuple(errors)), self.size)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A document the validation rules refused, and their errors (the same for its text)."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]


def _remember(cache: OrderedDict[str, _V], text: str, value: _V, size: int) -> None:
    cache[text] = value
    cache.move_to_end(text)
    if len(cache) > size:
        cache.popitem(last=False)


class CachedValidation(SchemaExtension):
    """Reuses the parsed document and the rules' verdict for text seen before.

    It looks documents up; LearnValidation, after every extension that may answer before the
    rules run, records what the rules said.
    """

    def __init__(self, documents: ValidDocuments) -> None:
        self.documents = documents
        self.known = False
        self.refusal: Refusal | None = None

    def on_parse(self) -> Iterator[None]:
        """Hand Strawberry the parsed document when the text is known (it then skips parsing)."""
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            document = self.documents.get(context.query)
            if document is not None:
                context.graphql_document = document
                self.known = True
            else:
                self.refusal = self.documents.refusal(context.query)
                if self.refusal is not None:
                    context.graphql_document = self.refusal.document
        yield

    def on_validate(self) -> Iterator[None]:
        """The rules' verdict on a known document (Strawberry then skips validation)."""
        context = self.execution_context
        if self.known:
            context.pre_execution_errors = []
        elif self.refusal is not None:
            context.pre_execution_errors = list(self.refusal.errors)
        yield


class LearnValidation(SchemaExtension):
    """Records the validation rules' verdict on a document they have just run over.

    It comes after every extension that may refuse before the rules (the operation's name,
    trusted documents, nesting): those refusals depend on the request or are cheap, and are
    not kept. When errors are already set as this runs, the rules do not run.
    """

    def __init__(self, documents: ValidDocuments) -> None:
        self.documents = documents

    def on_validate(self) -> Iterator[None]:
        """Keep the document, valid or refused with the rules' errors."""
        context = self.execution_context
        rules_run = context.pre_execution_errors is None
        yield
        text, document = context.query, context.graphql_document
        errors = context.pre_execution_errors
        if not rules_run or text is None or document is None or errors is None:
            return
        if errors:
            self.documents.refuse(text, document, errors)
        else:
            self.documents.put(text, document)


class OperationSelection(SchemaExtension):
    """A document with several operations must name the one to run (a request error).

    Strawberry's `operation_name` falls back to the first operation's name, so graphql-core
    never sees the name missing and runs that first operation (a mutation, say). The error is
    set as the validation's result (after CachedValidation in the extension list, which would
    otherwise clear it): every transport (HTTP, SSE, WebSocket) then answers it as a request
    error and runs nothing.
    """

    def on_validate(self) -> Iterator[None]:
        """Refuse a document of several operations sent without operationName."""
        context = self.execution_context
        document = context.graphql_document
        # The name the client gave, not Strawberry's fallback (no public accessor).
        given = getattr(context, "_provided_operation_name", None)
        if document is not None and given is None:
            names = [
                definition.name.value if definition.name else "(anonymous)"
                for definition in document.definitions
                if isinstance(definition, OperationDefinitionNode)
            ]
            if len(names) > 1:
                context.pre_execution_errors = [
                    GraphQLError(
                        f"operationName: required, the document has {len(names)} operations "
                        f"({', '.join(names[:10])}); name the one to run",
                        extensions={"code": "BAD_USER_INPUT"},
                    )
                ]
        yield


# The largest variable values kept as a key (characters of their strings, plus one per value):
# the caches keyed by variables hold many keys, and one request's body may be a megabyte.
FROZEN_MAX = 1_024


def frozen_variables(value: Any) -> Hashable | None:
    """Variable values (as sent, or coerced) as a key, each scalar with its type (1, 1.0 and
    True are equal in Python, not in GraphQL); None when a value is of no known kind or they
    are bigger than FROZEN_MAX (not kept: computed afresh)."""
    return _frozen(value, [FROZEN_MAX])


def _frozen(value: Any, budget: list[int]) -> Hashable | None:
    budget[0] -= 1 + (len(value) if isinstance(value, str) else 0)
    if budget[0] < 0:
        return None
    if isinstance(value, dict):
        items = []
        for name, item in value.items():
            frozen = _frozen(item, budget)
            if frozen is None:
                return None
            items.append((name, frozen))
        return ("dict", tuple(sorted(items)))
    if isinstance(value, list):
        frozen_items = []
        for item in value:
            frozen = _frozen(item, budget)
            if frozen is None:
                return None
            frozen_items.append(frozen)
        return ("list", tuple(frozen_items))
    if value is None or isinstance(value, str | int | float | enum.Enum | date | uuid.UUID):
        # Immutable values only (a datetime keeps its zone: equal instants in other zones
        # are different keys, never one key for different values).
        return (type(value), value.isoformat() if isinstance(value, date) else value)
    return None
