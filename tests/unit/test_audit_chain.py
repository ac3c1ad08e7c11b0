"""The audit hash chain, recomputed from the contract's words with nothing but hashlib."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from graphql_schema.scalars import serialize_datetime
from taskstream.domain.audit import (
    GENESIS_HASH,
    AuditRecord,
    canonical_changes_text,
    canonical_json,
    entry_hash,
    entry_hash_of_text,
    format_at,
    hashed_fields,
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
