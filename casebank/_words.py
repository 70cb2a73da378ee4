"""Counted nouns and articles in messages: "1 case", "2 cases", "an ATTACH statement".

Messages are built from templates around numbers and names; these two helpers keep them
grammatical wherever the count is 1 or the name starts with a vowel. A leaf: it imports nothing,
so the capture path may use it too.
"""

from __future__ import annotations

__all__ = ["a", "count"]

# Words whose first letter is a vowel but whose sound is not, and the reverse (SQL keywords, the
# few English words a message puts after an article).
_CONSONANT_SOUND = ("one", "uni", "use", "usu", "eu")
_VOWEL_SOUND = ("hour", "honest")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "case")` -> "1 case"; `count(3, "case")` -> "3 cases"; `plural` for irregular nouns."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def a(word: str) -> str:
    """`word` with its indefinite article: "a SELECT statement", "an ATTACH statement", "an int"."""
    lower = word.lower()
    vowel = lower[:1] in ("a", "e", "i", "o", "u")
    if lower.startswith(_CONSONANT_SOUND):
        vowel = False
    elif lower.startswith(_VOWEL_SOUND):
        vowel = True
    return f"{'an' if vowel else 'a'} {word}"
