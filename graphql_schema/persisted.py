"""Persisted documents: automatic persisted queries (Apollo's protocol) and trusted documents.

A client may send `extensions.persistedQuery = {"version": 1, "sha256Hash": H}` instead of (or
beside) the document. With the text, H must be its SHA-256 and the document is stored under H;
without it, H is looked up, first among the trusted documents (the web app's operations,
registered at build time in a manifest), then in the store. A hash nobody stored answers
PERSISTED_QUERY_NOT_FOUND, on which clients resend the text.

The store is a narrow interface (get, put): SharedDocumentStore keeps documents in the shared
state (taskstream/sharedstate.py), so a hash registered on one replica runs on every other,
with an in-process LRU in front (a hash names one text forever, so a cached copy is never
stale); LruDocumentStore alone serves a single process. Stored documents are ordinary
text to the schema: the same limits, validation and cost budget apply on every request, and
parsing and validation are done once per document text (graphql_schema/documents.py).

Trusted documents: with `TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS_ONLY` the gateway runs only the
manifest's documents for anonymous callers and ordinary accounts; accounts listed in
`TASKSTREAM_GRAPHQL_OPEN_DOCUMENT_ACCOUNTS` may send any document within the cost budget.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from taskstream.errors import TaskstreamError
from taskstream.settings import Settings
from taskstream.sharedstate import SharedState, StateUnavailable

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
# Refused by the trusted-documents policy (403 under application/graphql-response+json).
FORBIDDEN = "FORBIDDEN"
SHA256 = re.compile(r"[0-9a-f]{64}")
# The manifest `npm run codegen` writes from web/src/gql (web/scripts/trusted-documents.mjs).
DEFAULT_MANIFEST = (
    Path(__file__).resolve().parents[1] / "web" / "src" / "gql" / "trusted-documents.json"
)


def sha256_hex(text: str) -> str:
    """The lowercase hex SHA-256 of a document's UTF-8 text, as clients compute it."""
    return hashlib.sha256(text.encode()).hexdigest()


class DocumentStore(Protocol):
    """Where automatically persisted documents are kept, by the SHA-256 of their text."""

    async def get(self, sha256: str) -> str | None:
        """The document stored under this hash, if any."""

    async def put(self, sha256: str, document: str) -> None:
        """Keep a document (already checked to hash to `sha256` and to be valid)."""


class LruDocumentStore:
    """An in-process store bounded in entries and characters; least recently used go first."""

    def __init__(self, *, max_entries: int, max_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    def __len__(self) -> int:
        return len(self._documents)

    async def get(self, sha256: str) -> str | None:
        """The document stored under this hash, if any."""
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        """Keep a document, evicting the least recently used beyond the bounds."""
        if self.max_entries <= 0 or len(document) > self.max_chars:
            return
        old = self._documents.pop(sha256, None)
        if old is not None:
            self._chars -= len(old)
        self._documents[sha256] = document
        self._chars += len(document)
        while len(self._documents) > self.max_entries or self._chars > self.max_chars:
            _, evicted = self._documents.popitem(last=False)
            self._chars -= len(evicted)


class SharedDocumentStore:
    """Documents in the shared state, each kept `ttl` seconds after its last registration."""

    def __init__(self, state: SharedState, *, ttl: float, local: LruDocumentStore) -> None:
        self.state = state
        self.ttl = ttl
        self.local = local

    @staticmethod
    def key(sha256: str) -> str:
        """The store key of a document's hash."""
        return f"persisted-query:{sha256}"

    async def get(self, sha256: str) -> str | None:
        """The document stored under this hash on any replica, if any."""
        document = await self.local.get(sha256)
        if document is not None:
            return document
        try:
            entry = await self.state.get(self.key(sha256))
        except StateUnavailable:
            # Answered PERSISTED_QUERY_NOT_FOUND: the client sends the text, which runs.
            return None
        if entry is None or not isinstance(entry.value, str):
            return None
        # The hash was checked on registration; checked again, a store written by anything
        # else cannot make this replica run a text other than the one the hash names.
        if sha256_hex(entry.value) != sha256:
            return None
        await self.local.put(sha256, entry.value)
        return entry.value

    async def put(self, sha256: str, document: str) -> None:
        """Keep a document for every replica (and this one's cache)."""
        if len(document) > self.local.max_chars:
            return
        await self.local.put(sha256, document)
        # Not kept for the other replicas this time; the next registration tries again.
        with contextlib.suppress(StateUnavailable):
            await self.state.set(self.key(sha256), document, ttl=self.ttl)


class PersistedQueryError(TaskstreamError):
    """A persisted-query request that cannot run; `code` says why."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrustedDocuments:
    """The first-party app's documents by SHA-256, and who may send anything else."""

    documents: Mapping[str, str]
    # Only these documents for anonymous callers and accounts not in open_accounts.
    only: bool = False
    open_accounts: frozenset[uuid.UUID] = frozenset()

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.documents.get(sha256_hex(text)) == text

    def allows(self, text: str | None, user_id: uuid.UUID | None) -> bool:
        """Whether this caller may run this document text."""
        if not self.only or text is None:
            return True
        return (user_id is not None and user_id in self.open_accounts) or text in self


def load_manifest(path: Path) -> dict[str, str]:
    """A manifest's documents: a JSON object of SHA-256 to text, each hash checked."""
    raw: Any = json.loads(path.read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a trusted-documents manifest is a JSON object")
    documents: dict[str, str] = {}
    for key, text in raw.items():
        if not isinstance(text, str) or sha256_hex(text) != key:
            raise ValueError(f"{path}: the document under {key} does not hash to it")
        documents[key] = text
    return documents


@cache
def trusted_documents(
    manifest: Path | None, *, only: bool, open_accounts: frozenset[uuid.UUID]
) -> TrustedDocuments:
    """The trusted documents of a manifest (read once per process and path)."""
    path = manifest if manifest is not None else DEFAULT_MANIFEST
    if manifest is None and not path.exists():
        documents: dict[str, str] = {}
    else:
        documents = load_manifest(path)
    if only and not documents:
        raise ValueError(
            f"TASKSTREAM_GRAPHQL_TRUSTED_DOCUMENTS_ONLY is set but {path} has no documents"
        )
    return TrustedDocuments(documents, only=only, open_accounts=open_accounts)


def trusted_documents_of(settings: Settings) -> TrustedDocuments:
    """The trusted documents and policy these settings configure."""
    return trusted_documents(
        settings.graphql_trusted_documents,
        only=settings.graphql_trusted_documents_only,
        open_accounts=parse_accounts(settings.graphql_open_document_accounts),
    )


def parse_accounts(text: str) -> frozenset[uuid.UUID]:
    """Comma-separated account ids; ValueError naming the entry that is not one."""
    accounts = set()
    for part in text.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            accounts.add(uuid.UUID(entry))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not an account id (a UUID)") from error
    return frozenset(accounts)


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The SHA-256 of `extensions.persistedQuery`, checked; None when there is none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    field = "extensions.persistedQuery"
    if not isinstance(persisted, dict):
        raise PersistedQueryError(f"{field}: must be an object with version 1 and sha256Hash")
    if persisted.get("version") != 1:
        raise PersistedQueryError(f"{field}.version: only version 1 is supported")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or SHA256.fullmatch(digest) is None:
        raise PersistedQueryError(
            f"{field}.sha256Hash: must be the 64 lowercase hex digits of the query's SHA-256"
        )
    return digest


@dataclass(frozen=True)
class Resolved:
    """The document text to run, and the hash to store it under once it proved valid."""

    query: str | None
    store_as: str | None = None


class PersistedQueries:
    """Resolves `extensions.persistedQuery` to a document text; stores new valid ones."""

    def __init__(self, store: DocumentStore, trusted: TrustedDocuments, *, enabled: bool) -> None:
        self.store = store
        self.trusted = trusted
        self.enabled = enabled

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The text to run for a request's query and extensions."""
        digest = requested_hash(extensions)
        if digest is None:
            return Resolved(query)
        if query is not None:
            if sha256_hex(query) != digest:
                raise PersistedQueryError(
                    "extensions.persistedQuery.sha256Hash: is not the SHA-256 of the query sent "
                    "with it; hash the exact query text"
                )
            known = digest in self.trusted.documents
            return Resolved(query, None if known or not self.enabled else digest)
        registered = self.trusted.documents.get(digest)
        if registered is not None:
            return Resolved(registered)
        stored = await self.store.get(digest) if self.enabled else None
        if stored is None:
            raise PersistedQueryError(
                "PersistedQueryNotFound: no document is stored under this hash; "
                "send it again with the query",
                code=PERSISTED_QUERY_NOT_FOUND,
            )
        return Resolved(stored)

    async def remember(self, resolved: Resolved) -> None:
        """Store a document that has just parsed and validated."""
        if resolved.store_as is not None and resolved.query is not None:
            await self.store.put(resolved.store_as, resolved.query)


class TrustedDocumentsOnly(SchemaExtension):
    """With the policy on, anonymous and ordinary callers run registered documents only.

    An extension, so HTTP, SSE and WebSocket operations are held to the same rule; the refusal
    is set as the validation's result (the rules then do not run), which every transport
    answers as a request error. It must come after CachedValidation, which clears the result
    of documents it knows.
    """

    def __init__(self, trusted: TrustedDocuments) -> None:
        self.trusted = trusted

    def on_validate(self) -> Iterator[None]:
        """Refuse a document that is not registered, before any validation rule runs."""
        context = self.execution_context
        user_id = getattr(context.context, "user_id", None)
        if not self.trusted.allows(context.query, user_id):
            context.pre_execution_errors = [
                GraphQLError(
                    "this gateway runs only the registered documents of the Taskstream app; "
                    "send one of those (or its persisted-query hash), or use an account "
                    "allowed arbitrary documents (TASKSTREAM_GRAPHQL_OPEN_DOCUMENT_ACCOUNTS)",
                    extensions={"code": FORBIDDEN},
                )
            ]
        yield
