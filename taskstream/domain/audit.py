"""The audit trail's hash chain: canonical JSON, entry hashes and verification.

Pure functions, so that the audit service, the compliance report and anyone holding the output
of `auditLog` compute exactly the same thing:

    hash = hex(SHA-256(UTF-8(previous_hash + canonical_json({id, at, actor, action, taskId,
                                                              changes}))))

with `previous_hash` the hash of the user's previous entry (64 zeros for the first, or the
checkpoint's hash once retention removed a prefix), each field exactly as the API returns it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

GENESIS_HASH = "0" * 64


def format_at(at: datetime) -> str:
    """The RFC 3339 text of an instant as the API returns it (UTC, `+00:00`)."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat()


def canonical_json(value: Any) -> str:
    """Keys sorted, `,` and `:` with no spaces, non-ASCII characters as themselves."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of a user's trail, its fields as the API returns them."""

    id: str
    at: str
    actor: str
    action: str
    task_id: str | None
    changes: Any
    previous_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """The object whose canonical JSON is hashed."""
        return hashed_fields(
            id=self.id,
            at=self.at,
            actor=self.actor,
            action=self.action,
            task_id=self.task_id,
            changes=self.changes,
        )

    def to_json(self) -> dict[str, Any]:
        """The entry as the internal API and the compliance report carry it."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "taskId": self.task_id,
            "changes": self.changes,
            "previousHash": self.previous_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AuditRecord:
        """The inverse of to_json."""
        return cls(
            id=str(body["id"]),
            at=str(body["at"]),
            actor=str(body["actor"]),
            action=str(body["action"]),
            task_id=None if body.get("taskId") is None else str(body["taskId"]),
            changes=body["changes"],
            previous_hash=str(body["previousHash"]),
            hash=str(body["hash"]),
        )


def hashed_fields(
    *, id: str, at: str, actor: str, action: str, task_id: str | None, changes: Any
) -> dict[str, Any]:
    """The object whose canonical JSON follows the previous hash."""
    return {
        "id": id,
        "at": at,
        "actor": actor,
        "action": action,
        "taskId": task_id,
        "changes": changes,
    }


def entry_hash(previous_hash: str, fields: dict[str, Any]) -> str:
    """Hex SHA-256 of the previous hash followed by the canonical JSON of the fields."""
    return hashlib.sha256((previous_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def canonical_changes_text(changes: Any) -> str:
    """The canonical JSON of `changes` exactly as a reader recomputes it from that text.

    Re-reading canonical JSON gives the same text back when every object key is a string; a
    key that is not (JSON turns it into one, which may sort differently) makes the value read
    back unequal, and only then is the text made again from what it reads back as.
    """
    text = canonical_json(changes)
    # json.loads and == run in C: far cheaper than walking the value in Python.
    read_back = json.loads(text)
    return text if read_back == changes else canonical_json(read_back)


def entry_hash_of_text(
    previous_hash: str,
    *,
    id: str,
    at: str,
    actor: str,
    action: str,
    task_id: str | None,
    changes_text: str,
) -> str:
    """`entry_hash` for changes given as their `canonical_changes_text`, without re-encoding them.

    The canonical JSON of the hashed object is assembled around the changes' text: keys in
    sorted order (action, actor, at, changes, id, taskId), each other value encoded as
    `canonical_json` would.
    """
    # encode_basestring is what json.dumps(ensure_ascii=False) applies to a string.
    task_text = "null" if task_id is None else encode_basestring(task_id)
    text = (
        f'{{"action":{encode_basestring(action)},"actor":{encode_basestring(actor)},'
        f'"at":{encode_basestring(at)},"changes":{changes_text},"id":{encode_basestring(id)},'
        f'"taskId":{task_text}}}'
    )
    return hashlib.sha256((previous_hash + text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of recomputing a chain."""

    ok: bool
    checked: int
    first_broken: str | None = None
    # Why a chain whose every remaining entry matches is still broken: it does not end where
    # its stored head says (its newest entries were removed, or the head was altered).
    head_mismatch: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the internal API carries it."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "firstBroken": self.first_broken,
            "headMismatch": self.head_mismatch,
        }

    def describe(self) -> str:
        """One line for people: ok, or where and how the chain is broken."""
        if self.ok:
            return f"ok; checked {self.checked}"
        if self.first_broken is not None:
            return f"BROKEN at entry {self.first_broken}; checked {self.checked}"
        return f"BROKEN: {self.head_mismatch}; checked {self.checked}"


class ChainCheck:
    """Recomputes a chain one entry at a time, so a long trail need not fit in memory.

    An entry is broken when it does not name the previous hash it should follow or when its
    own hash is not the hash of that previous hash and its fields: editing, removing,
    inserting or reordering entries all break the chain at (or right after) the change.
    Removing the newest entries leaves a sound but shorter chain, which only `end_at` (a
    comparison with the head the audit service keeps) can tell.
    """

    def __init__(self, start: str = GENESIS_HASH) -> None:
        self._previous = start
        self._checked = 0
        self._broken: str | None = None
        self._head_mismatch: str | None = None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next entry; False once the chain is broken (stop feeding then)."""
        if self._broken is not None:
            return False
        self._checked += 1
        expected = entry_hash(self._previous, record.hashed_fields())
        if record.previous_hash != self._previous or record.hash != expected:
            self._broken = record.id
            return False
        self._previous = record.hash
        return True

    def end_at(self, head_hash: str, *, head_seq: int, start_seq: int) -> None:
        """Compare where the recomputed chain ends with the head stored for it.

        `start_seq` is the position the chain starts after (the checkpoint's, or 0), so the
        chain fed in ends at `start_seq + checked`; retention moves the start, never the end.
        """
        if self._broken is not None:
            return
        end_seq = start_seq + self._checked
        if end_seq < head_seq:
            self._head_mismatch = (
                f"the chain ends at entry {end_seq} but its head is at entry {head_seq} "
                "(newest entries removed)"
            )
        elif end_seq != head_seq or self._previous != head_hash:
            self._head_mismatch = "the chain does not end at the hash and entry of its head"

    @property
    def result(self) -> Verification:
        """The verification so far."""
        return Verification(
            ok=self._broken is None and self._head_mismatch is None,
            checked=self._checked,
            first_broken=self._broken,
            head_mismatch=self._head_mismatch,
        )


def verify_chain(records: Iterable[AuditRecord], *, start: str = GENESIS_HASH) -> Verification:
    """Recompute each link from `start`, stopping at the first entry that does not match."""
    check = ChainCheck(start)
    for record in records:
        if not check.feed(record):
            break
    return check.result
