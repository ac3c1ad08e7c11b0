"""The typo branch's cheap pre-check must never reject a word the edit distance accepts.

`reads._word_matches` checks that the text contains one of `typo_pieces(word)` before the costly
trigram and edit-distance checks; that keeps results identical only if every word within the
typo budget of the search word contains at least one piece.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway_core.persistence.reads import _typo_budget, typo_pieces

LETTERS = "abcdeklmnoprst"


def levenshtein(a: str, b: str) -> int:
    """Plain edit distance (insert, delete, substitute), the one fuzzystrmatch computes."""
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        for j, right in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            )
        previous = current
    return previous[-1]


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, str]:
    """A search word and a word at most its typo budget of random edits away from it."""
    word = draw(st.text(LETTERS, min_size=5, max_size=12))
    other = word
    for _ in range(draw(st.integers(0, _typo_budget(word)))):
        position = draw(st.integers(0, len(other)))
        letter = draw(st.sampled_from(LETTERS))
        kind = draw(st.sampled_from(["insert", "delete", "substitute"]))
        if kind == "insert":
            other = other[:position] + letter + other[position:]
        elif position < len(other):
            rest = other[position + 1 :]
            other = other[:position] + (letter if kind == "substitute" else "") + rest
    return word, other


def test_pieces_split_the_word_into_budget_plus_one_parts() -> None:
    assert typo_pieces("report") == ["rep", "ort"]
    assert typo_pieces("insurance") == ["ins", "ura", "nce"]
    assert typo_pieces("management") == ["mana", "gem", "ent"]
    assert typo_pieces("meet") == ["meet"]


@given(edited())
def test_every_close_word_keeps_a_piece(pair: tuple[str, str]) -> None:
    word, other = pair
    assert levenshtein(word, other) <= _typo_budget(word)
    assert any(piece in other for piece in typo_pieces(word)), (word, other)
