"""Counted nouns and articles, as every message uses them (casebank._words)."""

from __future__ import annotations

import pytest

from casebank._words import a, count


@pytest.mark.parametrize(
    ("n", "noun", "plural", "said"),
    [
        pytest.param(0, "case", None, "0 cases", id="none"),
        pytest.param(1, "case", None, "1 case", id="one"),
        pytest.param(2, "case", None, "2 cases", id="two"),
        pytest.param(1, "fix", "fixes", "1 fix", id="irregular-one"),
        pytest.param(3, "fix", "fixes", "3 fixes", id="irregular-many"),
    ],
)
def test_count_says_the_noun_in_the_number_it_counts(n: int, noun: str, plural: str | None, said: str) -> None:
    assert count(n, noun, plural) == said


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("ATTACH", "an ATTACH"),
        ("UPDATE", "an UPDATE"),
        ("SELECT", "a SELECT"),
        ("int", "an int"),
        ("list", "a list"),
        ("NoneType", "a NoneType"),
        ("UNION", "a UNION"),
        ("object", "an object"),
    ],
)
def test_a_picks_the_article_by_the_sound(word: str, said: str) -> None:
    assert a(word) == said
