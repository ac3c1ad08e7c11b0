"""The audit hash chain, recomputed from the contract's words with nothing but hashlib."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from graphql_schema.scalars import serialize_datetime
from workers.audit.domain import (
    GENESIS_HASH,
    AuditRecord,
    ChainStart,
    Checkpoint,
    canonical_changes_text,
    canonical_json,
    check_checkpoints,
    checkpoint_signature,
    entry_hash,
    entry_hash_of_text,
    format_at,
    hashed_fields,
    head_signature,
    verify_chain,
)


def chain(count: int, start: str = GENESIS_HASH) -> list[AuditRecord]:
    """A sound chain of `count` entries following `start`."""
    records = []
    previous = start
    for n in range(count):
        fields = hashed_fields(
            id=f"00000000-0000-0000-0000-{n:012d}",
            at=format_at(datetime(2030, 1, 1, 9, n, tzinfo=UTC)),
            actor="7d0c4a8e-0000-0000-0000-000000000001" if n % 2 else "recurrence",
            action="task.updated",
            task_id=None if n == 0 else "5b6c1d2e-0000-0000-0000-000000000002",
            changes={"title": {"before": f"Früh {n}", "after": f"Spät {n}"}, "b": [1, 2.5]},
        )
        digest = entry_hash(previous, fields)
        records.append(
            AuditRecord(
                id=fields["id"],
                at=fields["at"],
                actor=fields["actor"],
                action=fields["action"],
                task_id=fields["taskId"],
                changes=fields["changes"],
                previous_hash=previous,
                hash=digest,
            )
        )
        previous = digest
    return records


def test_canonical_json_sorts_keys_without_spaces_or_escapes() -> None:
    value = {"b": 1, "a": {"z": "ü", "y": [True, None]}, "é": "日本"}
    assert canonical_json(value) == '{"a":{"y":[true,null],"z":"ü"},"b":1,"é":"日本"}'


def test_hash_is_sha256_of_previous_hash_then_canonical_json() -> None:
    fields = hashed_fields(
        id="e1",
        at="2030-01-01T09:00:00+00:00",
        actor="u1",
        action="task.created",
        task_id="t1",
        changes={"title": "Café"},
    )
    text = (
        "0" * 64 + '{"action":"task.created","actor":"u1","at":"2030-01-01T09:00:00+00:00",'
        '"changes":{"title":"Café"},"id":"e1","taskId":"t1"}'
    )
    assert entry_hash(GENESIS_HASH, fields) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_at_is_formatted_exactly_as_the_api_serialises_it() -> None:
    for at in (
        datetime(2030, 3, 31, 1, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2030, 3, 31, 1, 30, 0, 123456, tzinfo=UTC),
    ):
        assert format_at(at) == serialize_datetime(at)


def test_a_sound_chain_verifies_from_zeros_or_from_a_checkpoint() -> None:
    assert verify_chain(chain(5)).ok
    assert verify_chain(chain(5)).checked == 5
    assert verify_chain([]).ok
    tail = chain(6)[2:]
    assert not verify_chain(tail).ok
    result = verify_chain(tail, start=chain(6)[1].hash)
    assert result.ok and result.checked == 4


def test_every_kind_of_tampering_is_found_at_the_first_changed_entry() -> None:
    records = chain(6)
    edited = [*records[:3], replace(records[3], changes={"title": "forged"}), *records[4:]]
    assert verify_chain(edited).first_broken == records[3].id
    rehashed_fields = replace(records[3], actor="someone else").hashed_fields()
    rehashed = replace(
        records[3], actor="someone else", hash=entry_hash(records[2].hash, rehashed_fields)
    )
    # Rewriting an entry's hash too only moves the break to the entry after it.
    assert verify_chain([*records[:3], rehashed, *records[4:]]).first_broken == records[4].id
    removed = records[:2] + records[3:]
    assert verify_chain(removed).first_broken == records[3].id
    swapped = [records[0], records[2], records[1], *records[3:]]
    result = verify_chain(swapped)
    assert result.first_broken == records[2].id and result.checked == 2


def test_entries_check_alone_given_their_previous_hash() -> None:
    for record in chain(3):
        body = record.to_json()
        fields = {k: body[k] for k in ("id", "at", "actor", "action", "taskId", "changes")}
        text = body["previousHash"] + json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert hashlib.sha256(text.encode()).hexdigest() == body["hash"]
        assert AuditRecord.from_json(body) == record


def test_hashing_the_changes_text_equals_hashing_the_changes() -> None:
    cases: list[Any] = [
        {"task": {"title": "Früh ✓", "tags": ["a", "b"], "n": 1.5, "none": None, "ok": True}},
        {"status": {"before": "OPEN", "after": "DONE"}, "completedAt": "2030-01-01T00:00:00Z"},
        {},
        # Keys that are not strings: JSON makes them strings, and their order changes.
        {10: "ten", 9: "nine"},
        {"nested": [{2: "x", 10: "y"}]},
    ]
    for changes in cases:
        text = canonical_changes_text(changes)
        assert canonical_json(json.loads(text)) == text
        for task_id in (None, "5b6c1d2e-0000-0000-0000-000000000002"):
            fields = hashed_fields(
                id="e1",
                at="2030-01-01T09:00:00+00:00",
                actor="gateway",
                action="task.updated",
                task_id=task_id,
                changes=json.loads(text),
            )
            assert entry_hash_of_text(
                GENESIS_HASH,
                id="e1",
                at="2030-01-01T09:00:00+00:00",
                actor="gateway",
                action="task.updated",
                task_id=task_id,
                changes_text=text,
            ) == entry_hash(GENESIS_HASH, fields)


def test_strings_with_quotes_and_controls_hash_alike_either_way() -> None:
    odd = 'quote " backslash \\ tab \t newline \n nul \x00 emoji 🙂 ü'
    text = canonical_changes_text({"title": odd})
    fields = hashed_fields(
        id=odd, at=odd, actor=odd, action=odd, task_id=odd, changes=json.loads(text)
    )
    assert entry_hash_of_text(
        GENESIS_HASH, id=odd, at=odd, actor=odd, action=odd, task_id=odd, changes_text=text
    ) == entry_hash(GENESIS_HASH, fields)


# Checkpoints and heads: the digest and signatures from compliance.md's words.

KEY = b"unit-test-audit-key-0123456789abcdef"
USER = "7d0c4a8e-0000-0000-0000-000000000001"
DAY = timedelta(days=1)
YEAR = timedelta(days=365)


def checkpoints(ranges: list[tuple[int, int]], *, made: datetime) -> list[Checkpoint]:
    """A sound, signed checkpoint chain removing the given entry ranges, a day apart."""
    found: list[Checkpoint] = []
    previous = GENESIS_HASH
    for number, (first, last) in enumerate(ranges, start=1):
        created = made + number * DAY
        checkpoint = Checkpoint(
            number=number,
            from_seq=first,
            through_seq=last,
            hash=hashlib.sha256(str(last).encode()).hexdigest(),
            removed=last - first + 1,
            newest_at=created - YEAR - DAY,
            cutoff=created - YEAR,
            created_at=created,
            previous=previous,
            digest=None,
            signature=None,
        )
        digest = checkpoint.expected_digest(USER)
        signature = checkpoint_signature(KEY, user_id=USER, digest=digest)
        found.append(replace(checkpoint, digest=digest, signature=signature))
        previous = digest
    return found


def test_the_checkpoint_digest_and_signatures_are_as_documented() -> None:
    (checkpoint,) = checkpoints([(1, 4)], made=datetime(2030, 1, 1, tzinfo=UTC))
    fields = {
        "userId": USER,
        "number": 1,
        "fromSeq": 1,
        "throughSeq": 4,
        "hash": checkpoint.hash,
        "removed": 4,
        "newestAt": "2029-01-01T00:00:00+00:00",
        "cutoff": "2029-01-02T00:00:00+00:00",
        "createdAt": "2030-01-02T00:00:00+00:00",
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    assert checkpoint.digest == hashlib.sha256((GENESIS_HASH + text).encode()).hexdigest()
    signed = "taskstream.audit.checkpoint.v1\n" + json.dumps(
        {"digest": checkpoint.digest, "userId": USER}, separators=(",", ":")
    )
    assert checkpoint.signature == hmac.new(KEY, signed.encode(), "sha256").hexdigest()
    head = head_signature(KEY, user_id=USER, seq=9, hash="ab", checkpoint=str(checkpoint.digest))
    body = {"checkpoint": checkpoint.digest, "hash": "ab", "seq": 9, "userId": USER}
    message = "taskstream.audit.head.v1\n" + json.dumps(body, separators=(",", ":"))
    assert head == hmac.new(KEY, message.encode(), "sha256").hexdigest()


def test_a_sound_checkpoint_chain_gives_where_the_entries_start() -> None:
    found = checkpoints([(1, 4), (5, 5), (6, 9)], made=datetime(2030, 1, 1, tzinfo=UTC))
    start = check_checkpoints(USER, found, key=KEY, retention=YEAR)
    assert start == ChainStart(seq=9, hash=found[-1].hash, checkpoint=str(found[-1].digest))
    assert check_checkpoints(USER, [], key=KEY, retention=YEAR) == ChainStart()


def test_every_checkpoint_problem_has_its_reason() -> None:
    found = checkpoints([(1, 4), (5, 5)], made=datetime(2030, 1, 1, tzinfo=UTC))
    first, second = found

    def reason(*chain: Checkpoint, retention: timedelta = YEAR, key: bytes = KEY) -> str:
        result = check_checkpoints(USER, list(chain), key=key, retention=retention)
        assert isinstance(result, str)
        return result

    assert reason(second).startswith("checkpoint 2 (entries 5 to 5) is out of sequence")
    assert reason(second, first).startswith("checkpoint 2 (entries 5 to 5) is out of sequence")
    assert reason(first, replace(second, from_seq=6, through_seq=6)).startswith(
        "checkpoint 2 (entries 6 to 6) is out of sequence"
    )
    early = replace(second, created_at=first.created_at - DAY)
    early = replace(early, digest=early.expected_digest(USER))
    assert reason(first, early).startswith("checkpoint 2 (entries 5 to 5) is out of sequence")
    assert (
        reason(replace(first, removed=3))
        == "checkpoint 1 (entries 1 to 4) claims 3 entries removed"
    )
    assert reason(replace(first, hash="0" * 64)) == (
        "checkpoint 1 (entries 1 to 4) was altered: its digest does not match its fields"
    )
    assert reason(first, key=b"another key") == (
        "checkpoint 1 (entries 1 to 4) is not signed with the audit key (forged or altered)"
    )
    assert reason(replace(first, signature=None)) == reason(first, key=b"another key")
    assert reason(first, retention=YEAR + 2 * DAY).startswith(
        "checkpoint 1 (entries 1 to 4) removed entries younger than the retention period of "
        "367 days: the newest was at 2029-01-01T00:00:00+00:00, after 2028-12-31T00:00:00+00:00"
    )
    # Checkpoints kept before newest_at existed are judged by their cutoff.
    legacy = replace(first, newest_at=None)
    legacy = replace(
        legacy,
        digest=legacy.expected_digest(USER),
        signature=checkpoint_signature(KEY, user_id=USER, digest=legacy.expected_digest(USER)),
    )
    assert isinstance(check_checkpoints(USER, [legacy], key=KEY, retention=YEAR), ChainStart)
    assert "younger than the retention period" in reason(legacy, retention=YEAR + DAY)
