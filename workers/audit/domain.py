"""The audit trail's hash chain: canonical JSON, entry hashes and verification.

Pure functions, so that the audit service, the compliance report and anyone holding the output
of `auditLog` compute exactly the same thing:

    hash = hex(SHA-256(UTF-8(previous_hash + canonical_json({id, at, actor, action, taskId,
                                                              changes}))))

with `previous_hash` the hash of the user's previous entry (64 zeros for the first, or the
checkpoint's hash once retention removed a prefix), each field exactly as the API returns it.

The chain alone cannot show that entries were removed from either end, so two more records
anchor it, both signed (HMAC-SHA256) with the audit key, which the database never holds:
retention checkpoints, themselves a hash chain (each names the digest of the one before and
the range of entries it removed), and each user's head (last seq and hash, and the digest of
the newest checkpoint). Someone who can write to the database but lacks the key cannot forge
either, so cutting a prefix or a suffix, or adding, editing or reordering a checkpoint, shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    # The shared project the change happened in (not hashed: the hash rule is the contract's).
    project_id: str | None = None

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
        """The entry as the internal API and the compliance report carry it (`projectId` only
        for changes in a shared project, so personal trails read as before projects)."""
        body = {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "taskId": self.task_id,
            "changes": self.changes,
            "previousHash": self.previous_hash,
            "hash": self.hash,
        }
        if self.project_id is not None:
            body["projectId"] = self.project_id
        return body

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
            project_id=None if body.get("projectId") is None else str(body["projectId"]),
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


HEAD_CONTEXT = "taskstream.audit.head.v1"
CHECKPOINT_CONTEXT = "taskstream.audit.checkpoint.v1"
SEAL_CONTEXT = "taskstream.audit.sealed.v1"


def sign(key: bytes, context: str, fields: dict[str, Any]) -> str:
    """Hex HMAC-SHA256 with the audit key of a context line and the fields' canonical JSON.

    The context keeps a head's signature from ever passing for a checkpoint's, or back.
    """
    message = (context + "\n" + canonical_json(fields)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_by(key: bytes, signature: str | None, context: str, fields: dict[str, Any]) -> bool:
    """True when `signature` is the audit key's signature of the fields (constant time)."""
    return signature is not None and hmac.compare_digest(signature, sign(key, context, fields))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What one retention run removed from a user's chain, chained to the run before it.

    `number` counts a user's checkpoints from 1; `from_seq`..`through_seq` are the entries it
    removed (`removed` of them); `hash` is the last one's hash, which the next entry follows;
    `newest_at` is the newest `at` among them (None for checkpoints made before it was kept);
    `cutoff` the time before which the run removed entries; `created_at` when it ran;
    `previous` the digest of the checkpoint before (64 zeros for the first); `digest` the hash
    of all that; `signature` the audit key's signature of the digest.
    """

    number: int
    from_seq: int
    through_seq: int
    hash: str
    removed: int
    newest_at: datetime | None
    cutoff: datetime
    created_at: datetime
    previous: str
    digest: str | None
    signature: str | None

    def fields(self, user_id: str) -> dict[str, Any]:
        """The object whose canonical JSON follows `previous` in the digest."""
        return {
            "userId": user_id,
            "number": self.number,
            "fromSeq": self.from_seq,
            "throughSeq": self.through_seq,
            "hash": self.hash,
            "removed": self.removed,
            "newestAt": None if self.newest_at is None else format_at(self.newest_at),
            "cutoff": format_at(self.cutoff),
            "createdAt": format_at(self.created_at),
        }

    def expected_digest(self, user_id: str) -> str:
        """Hex SHA-256 of the previous checkpoint's digest and this one's fields."""
        text = self.previous + canonical_json(self.fields(user_id))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """As the compliance report carries it (userId aside)."""
        body = self.fields("")
        del body["userId"]
        return {**body, "previous": self.previous, "digest": self.digest}


def checkpoint_signature(key: bytes, *, user_id: str, digest: str) -> str:
    """The audit key's signature of a checkpoint's digest."""
    return sign(key, CHECKPOINT_CONTEXT, {"userId": user_id, "digest": digest})


@dataclass(frozen=True, slots=True)
class Head:
    """Where a user's chain ends as appends left it, and the newest checkpoint's digest."""

    seq: int
    hash: str
    checkpoint: str
    signature: str | None

    def fields(self, user_id: str) -> dict[str, Any]:
        """What the head's signature covers."""
        return {
            "userId": user_id,
            "seq": self.seq,
            "hash": self.hash,
            "checkpoint": self.checkpoint,
        }

    def to_json(self) -> dict[str, Any]:
        """As the compliance report carries it."""
        return {"seq": self.seq, "hash": self.hash, "checkpoint": self.checkpoint}


def head_signature(key: bytes, *, user_id: str, seq: int, hash: str, checkpoint: str) -> str:
    """The audit key's signature of a head."""
    return sign(key, HEAD_CONTEXT, Head(seq, hash, checkpoint, None).fields(user_id))


@dataclass(frozen=True, slots=True)
class ChainStart:
    """Where the remaining entries start: after the newest checkpoint, or at the beginning."""

    seq: int = 0
    hash: str = GENESIS_HASH
    checkpoint: str = GENESIS_HASH


def check_checkpoints(
    user_id: str,
    checkpoints: Sequence[Checkpoint],
    *,
    key: bytes,
    retention: timedelta,
) -> ChainStart | str:
    """The start of the remaining chain, or why the user's checkpoints cannot be trusted.

    In number order each checkpoint must follow the one before (its number, the entry after
    the last one removed before, the previous digest, a time not before it), match its own
    digest, carry the audit key's signature (anyone able to write rows can make a consistent
    forgery but this) and have removed only entries older than the retention period at its
    own time.
    """
    start = ChainStart()
    made: datetime | None = None
    for position, checkpoint in enumerate(checkpoints, start=1):
        name = f"checkpoint {checkpoint.number} (entries {checkpoint.from_seq} to "
        name += f"{checkpoint.through_seq})"
        if (
            checkpoint.number != position
            or checkpoint.from_seq != start.seq + 1
            or checkpoint.through_seq < checkpoint.from_seq
            or checkpoint.previous != start.checkpoint
            or (made is not None and checkpoint.created_at < made)
        ):
            return (
                f"{name} is out of sequence: expected checkpoint {position} from entry "
                f"{start.seq + 1} after digest {start.checkpoint[:12]}…"
            )
        if checkpoint.removed != checkpoint.through_seq - checkpoint.from_seq + 1:
            return f"{name} claims {checkpoint.removed} entries removed"
        unsigned = f"{name} is not signed with the audit key (forged or altered)"
        if checkpoint.digest is None or checkpoint.signature is None:
            return unsigned
        digest = checkpoint.expected_digest(user_id)
        if not hmac.compare_digest(checkpoint.digest, digest):
            return f"{name} was altered: its digest does not match its fields"
        if not signed_by(
            key,
            checkpoint.signature,
            CHECKPOINT_CONTEXT,
            {"userId": user_id, "digest": digest},
        ):
            return unsigned
        # The newest removed entry must have been older than the period at the checkpoint's
        # own time; checkpoints kept before newest_at existed only have their cutoff.
        limit = checkpoint.created_at - retention
        newest = checkpoint.newest_at if checkpoint.newest_at is not None else checkpoint.cutoff
        if newest > limit:
            return (
                f"{name} removed entries younger than the retention period of "
                f"{_days(retention)}: the newest was at {format_at(newest)}, after "
                f"{format_at(limit)} ({format_at(checkpoint.created_at)}, the checkpoint's "
                "time, minus the period)"
            )
        start = ChainStart(checkpoint.through_seq, checkpoint.hash, digest)
        made = checkpoint.created_at
    return start


def _days(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g} days"


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of recomputing a chain."""

    ok: bool
    checked: int
    first_broken: str | None = None
    # Why a chain whose every remaining entry matches is still broken: it does not end where
    # its stored head says (its newest entries were removed, or the head was altered).
    head_mismatch: str | None = None
    # Why the chain is broken, for people, whatever the kind of break; None when ok.
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the internal API carries it."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "firstBroken": self.first_broken,
            "headMismatch": self.head_mismatch,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Verification:
        """The inverse of to_json."""
        return cls(
            ok=bool(body["ok"]),
            checked=int(body["checked"]),
            first_broken=body.get("firstBroken"),
            head_mismatch=body.get("headMismatch"),
            reason=body.get("reason"),
        )

    def describe(self) -> str:
        """One line for people: ok, or where and how the chain is broken."""
        if self.ok:
            return f"ok; checked {self.checked}"
        if self.first_broken is not None:
            return f"BROKEN at entry {self.first_broken}: {self.reason}; checked {self.checked}"
        return f"BROKEN: {self.reason or self.head_mismatch}; checked {self.checked}"


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
        self._reason: str | None = None

    def feed(self, record: AuditRecord) -> bool:
        """Check the next entry; False once the chain is broken (stop feeding then)."""
        if self._broken is not None or self._reason is not None:
            return False
        self._checked += 1
        expected = entry_hash(self._previous, record.hashed_fields())
        if record.previous_hash != self._previous:
            self._broken = record.id
            self._reason = (
                "the entry does not follow the one before it (entries removed, inserted or "
                "reordered, or the chain's start was changed)"
            )
            return False
        if record.hash != expected:
            self._broken = record.id
            self._reason = "the entry's hash does not match its content (the entry was altered)"
            return False
        self._previous = record.hash
        return True

    @property
    def last_hash(self) -> str:
        """The hash of the last entry that matched (the start before any)."""
        return self._previous

    def fail(self, reason: str) -> None:
        """Record a break that is not any one entry's (checkpoints, head)."""
        if self._reason is None:
            self._reason = reason

    def end_at(self, head_hash: str, *, head_seq: int, start_seq: int) -> None:
        """Compare where the recomputed chain ends with the head stored for it.

        `start_seq` is the position the chain starts after (the checkpoint's, or 0), so the
        chain fed in ends at `start_seq + checked`; retention moves the start, never the end.
        """
        if self._reason is not None:
            return
        end_seq = start_seq + self._checked
        if end_seq < head_seq:
            self._head_mismatch = (
                f"the chain ends at entry {end_seq} but its head is at entry {head_seq} "
                "(newest entries removed)"
            )
        elif end_seq != head_seq or self._previous != head_hash:
            self._head_mismatch = "the chain does not end at the hash and entry of its head"
        self._reason = self._head_mismatch

    @property
    def result(self) -> Verification:
        """The verification so far."""
        return Verification(
            ok=self._reason is None,
            checked=self._checked,
            first_broken=self._broken,
            head_mismatch=self._head_mismatch,
            reason=self._reason,
        )


def verify_chain(records: Iterable[AuditRecord], *, start: str = GENESIS_HASH) -> Verification:
    """Recompute each link from `start`, stopping at the first entry that does not match."""
    check = ChainCheck(start)
    for record in records:
        if not check.feed(record):
            break
    return check.result
