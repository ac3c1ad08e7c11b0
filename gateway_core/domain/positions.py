"""Fractional indexing: order keys that sort as strings, with a key between any two.

The scheme of David Greenspan's "Implementing Fractional Indexing" as the `fractional-indexing`
package spells it (base 62, digits 0-9A-Za-z in ASCII order): a key is an integer part (its
first character says how many digits follow: a-z for 1-26 digits, A-Z for 26-1 digits below
zero) and an optional fraction without trailing zeros. Appending after the last key increments
the integer part, so a list built by appending keeps short keys: 2-3 characters, and 9 more for
an append that does not hold its list's lock, which adds a tiebreak after them
(persistence/structure.placement). Inserting between two neighbours takes their
midpoint, which never rewrites another key.

Keys compare by code point: the database column is COLLATE "C" (gateway_0006) so that SQL's
order is Python's.
"""

from __future__ import annotations

from contracts.task import POSITION_MAX

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ZERO = DIGITS[0]
# The smallest integer part: no key can sort before it, so it is refused as a key.
_SMALLEST_INTEGER = "A" + _ZERO * 26
# A move whose new key would be longer than this rebalances the keys around it (about 400
# moves into one and the same gap); the new keys are at most half as long.
REBALANCE_AT = 64
# Siblings on each side of the gap a rebalance may rewrite (one event each).
REBALANCE_SIDE_MAX = 64
# Digits of a tiebreak: a number modulo 62**8, so that the concurrent appends to one list (far
# fewer than that apart) never share one, in the order they drew their numbers.
TIEBREAK_DIGITS = 8
__all__ = [
    "POSITION_MAX",
    "REBALANCE_AT",
    "REBALANCE_SIDE_MAX",
    "PositionError",
    "key_between",
    "keys_between",
    "tiebreak",
    "validate",
]


class PositionError(ValueError):
    """A malformed key, or keys given in the wrong order."""


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise PositionError(f"invalid order key head {head!r}")


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise PositionError(f"invalid order key {key!r}")
    return key[:length]


def validate(key: str) -> None:
    """PositionError unless `key` is a well-formed order key."""
    if not key or len(key) > POSITION_MAX or any(c not in DIGITS for c in key):
        raise PositionError(f"invalid order key {key!r}")
    if key == _SMALLEST_INTEGER:
        raise PositionError(f"invalid order key {key!r}")
    integer = _integer_part(key)
    if key[len(integer) :].endswith(_ZERO):
        raise PositionError(f"invalid order key {key!r}")


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions `a` and `b` (None: 1); neither ends in zero."""
    if b is not None and a >= b:
        raise PositionError(f"{a!r} is not below {b!r}")
    if a.endswith(_ZERO) or (b is not None and b.endswith(_ZERO)):
        raise PositionError("a fraction may not end in zero")
    if b is not None:
        # The common prefix (a padded with zeros) stays; the midpoint is of what follows.
        n = 0
        while (a[n] if n < len(a) else _ZERO) == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = DIGITS.index(a[0]) if a else 0
    digit_b = DIGITS.index(b[0]) if b is not None else len(DIGITS)
    if digit_b - digit_a > 1:
        return DIGITS[(digit_a + digit_b + 1) // 2]
    # Consecutive digits: keep a's digit and go one place further.
    if b is not None and len(b) > 1:
        return b[:1]
    return DIGITS[digit_a] + _midpoint(a[1:], None)


def _increment(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for index in reversed(range(len(digits))):
        value = DIGITS.index(digits[index]) + 1
        if value < len(DIGITS):
            digits[index] = DIGITS[value]
            return head + "".join(digits)
        digits[index] = _ZERO
    if head == "Z":
        return "a" + _ZERO
    if head == "z":
        return None
    following = chr(ord(head) + 1)
    if following > "a":
        digits.append(_ZERO)
    else:
        digits.pop()
    return following + "".join(digits)


def _decrement(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for index in reversed(range(len(digits))):
        value = DIGITS.index(digits[index]) - 1
        if value >= 0:
            digits[index] = DIGITS[value]
            return head + "".join(digits)
        digits[index] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    preceding = chr(ord(head) - 1)
    if preceding < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return preceding + "".join(digits)


def key_between(a: str | None, b: str | None) -> str:
    """A key strictly between `a` and `b` (None: the start or the end of the list)."""
    if a is not None:
        validate(a)
    if b is not None:
        validate(b)
    if a is not None and b is not None and a >= b:
        raise PositionError(f"{a!r} is not below {b!r}")
    if a is None:
        if b is None:
            return "a" + _ZERO
        integer_b = _integer_part(b)
        fraction_b = b[len(integer_b) :]
        if integer_b == _SMALLEST_INTEGER:
            return integer_b + _midpoint("", fraction_b)
        if integer_b < b:
            return integer_b
        lower = _decrement(integer_b)
        if lower is None:
            raise PositionError("cannot go below the smallest key")
        return lower
    integer_a = _integer_part(a)
    fraction_a = a[len(integer_a) :]
    if b is None:
        higher = _increment(integer_a)
        return integer_a + _midpoint(fraction_a, None) if higher is None else higher
    integer_b = _integer_part(b)
    if integer_a == integer_b:
        return integer_a + _midpoint(fraction_a, b[len(integer_b) :])
    higher = _increment(integer_a)
    if higher is None:
        raise PositionError("cannot go above the largest key")
    if higher < b:
        return higher
    return integer_a + _midpoint(fraction_a, None)


def keys_between(a: str | None, b: str | None, count: int) -> list[str]:
    """`count` ascending keys strictly between `a` and `b`, short ones (by bisection)."""
    if count <= 0:
        return []
    if count == 1:
        return [key_between(a, b)]
    if b is None:
        keys, last = [], a
        for _ in range(count):
            last = key_between(last, None)
            keys.append(last)
        return keys
    if a is None:
        keys, first = [], b
        for _ in range(count):
            first = key_between(None, first)
            keys.append(first)
        return keys[::-1]
    middle = count // 2
    pivot = key_between(a, b)
    return [*keys_between(a, pivot, middle), pivot, *keys_between(pivot, b, count - middle - 1)]


def tiebreak(number: int) -> str:
    """Fraction digits to append to a key, telling apart keys computed from the same last key:
    `number` (modulo 62**8) in TIEBREAK_DIGITS base-62 digits, then "V" (a fraction never ends
    in zero)."""
    digits = []
    for _ in range(TIEBREAK_DIGITS):
        number, digit = divmod(number, len(DIGITS))
        digits.append(DIGITS[digit])
    return "".join(reversed(digits)) + "V"
