"""Fractional order keys: the published examples of `fractional-indexing`, and their order."""

from __future__ import annotations

import random

import pytest

from gateway_core.domain.positions import (
    POSITION_MAX,
    PositionError,
    key_between,
    keys_between,
    tiebreak,
    validate,
)

# (a, b, expected) as in the fractional-indexing package's own test suite.
EXAMPLES = [
    (None, None, "a0"),
    (None, "a0", "Zz"),
    (None, "Zz", "Zy"),
    ("a0", None, "a1"),
    ("a1", None, "a2"),
    ("a0", "a1", "a0V"),
    ("a1", "a2", "a1V"),
    ("a0V", "a1", "a0l"),
    ("Zz", "a0", "ZzV"),
    ("Zz", "a1", "a0"),
    (None, "Y00", "Xzzz"),
    ("bzz", None, "c000"),
    ("a0", "a0V", "a0G"),
    ("a0", "a0G", "a08"),
    ("b125", "b129", "b127"),
    ("a0", "a1V", "a1"),
    ("Zz", "a01", "a0"),
    (None, "a0V", "a0"),
    (None, "b999", "b99"),
    (None, "A000000000000000000000000001", "A000000000000000000000000000V"),
    ("zzzzzzzzzzzzzzzzzzzzzzzzzzy", None, "zzzzzzzzzzzzzzzzzzzzzzzzzzz"),
    ("zzzzzzzzzzzzzzzzzzzzzzzzzzz", None, "zzzzzzzzzzzzzzzzzzzzzzzzzzzV"),
]


@pytest.mark.parametrize(("a", "b", "expected"), EXAMPLES)
def test_published_examples(a: str | None, b: str | None, expected: str) -> None:
    assert key_between(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (None, "A00000000000000000000000000"),
        ("a00", None),
        ("a00", "a1"),
        ("0", "1"),
        ("a1", "a0"),
        ("a0", "a0"),
        ("a0!", None),
        ("a" + "V" * POSITION_MAX, None),
    ],
)
def test_malformed_or_misordered_keys_are_refused(a: str | None, b: str | None) -> None:
    with pytest.raises(PositionError):
        key_between(a, b)


def test_random_insertions_keep_string_order_and_never_collide() -> None:
    rng = random.Random(16)
    keys = [key_between(None, None)]
    for _ in range(2000):
        index = rng.randrange(len(keys) + 1)
        before = keys[index - 1] if index > 0 else None
        after = keys[index] if index < len(keys) else None
        new = key_between(before, after)
        assert (before is None or before < new) and (after is None or new < after)
        keys.insert(index, new)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_appending_keeps_keys_short() -> None:
    keys = keys_between(None, None, 5000)
    assert keys == sorted(keys) and len(set(keys)) == 5000
    # a0..az, b00..bzz, then c000...: 62 + 3844 keys of at most 3 characters.
    assert max(len(k) for k in keys[:3906]) <= 3 and max(len(k) for k in keys) == 4


@pytest.mark.parametrize(("a", "b"), [(None, None), ("a0", None), (None, "a0"), ("a0", "a1")])
def test_keys_between_gives_count_ascending_keys_inside_the_bounds(
    a: str | None, b: str | None
) -> None:
    keys = keys_between(a, b, 37)
    assert len(keys) == 37 and keys == sorted(set(keys))
    assert a is None or a < keys[0]
    assert b is None or keys[-1] < b
    assert keys_between(a, b, 0) == []


def test_keys_grow_slowly_when_a_gap_is_split_again_and_again() -> None:
    # Always inserting right after one key: moveTask refuses (CONFLICT) past POSITION_MAX.
    low, high = key_between(None, None), key_between(key_between(None, None), None)
    splits = 0
    while len(high) <= POSITION_MAX:
        high = key_between(low, high)
        splits += 1
    assert 1000 < splits < 2000


def test_tiebreaks_are_valid_fractions_ordered_by_their_number() -> None:
    keys = [key_between("a5", None) + tiebreak(n) for n in (0, 1, 61, 62, 10**9, 62**8 - 1)]
    for key in keys:
        validate(key)
        assert key > "a6"
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    # Past 62**8 the digits wrap: only concurrent appends need distinct ones.
    assert tiebreak(62**8 + 5) == tiebreak(5)
