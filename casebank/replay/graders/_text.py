"""Text graders for extraction and classification: exact, contains, not_contains, regex, one_of.

A non-string output (a dict, a list, a number) is compared as its canonical JSON text, so that
`contains` and `regex` work on structured answers too; `exact` and `one_of` compare two
non-string values as values, so key order never matters.

`not_contains` takes the forbidden text from its `substring` option, never from the expected
output: the promote-time check grades the expected output itself, and no text is free of itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, Verdict, as_text, shorten
from casebank.replay.graders._options import REQUIRED, Choice, Flag, Text, Texts

__all__ = ["Contains", "Exact", "NotContains", "OneOf", "Regex"]

_NORMALIZE = ("none", "whitespace", "case", "both")
_NORMALIZE_HELP = "what to ignore when comparing"
_IGNORE_CASE_HELP = "ignore the difference between upper and lower case"


def _normalizer(mode: str) -> Callable[[str], str]:
    def normalize(text: str) -> str:
        if mode in ("whitespace", "both"):
            text = " ".join(text.split())
        if mode in ("case", "both"):
            text = text.casefold()
        return text

    return normalize


def _same(output: Any, expected: Any, normalize: Callable[[str], str]) -> bool:
    if isinstance(expected, str) or isinstance(output, str):
        return normalize(as_text(output)) == normalize(as_text(expected))
    return bool(output == expected)


class Exact(Grader):
    """Output equals the expected output (strings as text, anything else as JSON values)."""

    name = "exact"
    summary = "the output equals the expected output (text as text, anything else as JSON values)"
    expected_help = "the output it must equal"
    instant = True
    normalize = Choice("none", _NORMALIZE, help=_NORMALIZE_HELP)

    def prepare(self) -> None:
        self.compare_as = _normalizer(self.normalize)

    def grade(self, output: Any, expected: Any) -> Verdict:
        if _same(output, expected, self.compare_as):
            return Verdict(passed=True, score=1.0, reason="output equals expected")
        return Verdict(
            passed=False,
            score=0.0,
            reason=f"expected {shorten(as_text(expected), 60)!r}, got {shorten(as_text(output), 60)!r}",
        )


class OneOf(Grader):
    """Output equals one of the expected outputs (the expected value is a list of accepted answers)."""

    name = "one_of"
    summary = "the output equals one of the accepted answers"
    expected_help = """the accepted answers, a JSON list: `--expected-json '["yes", "y"]'`"""
    instant = True
    normalize = Choice("none", _NORMALIZE, help=_NORMALIZE_HELP)

    def prepare(self) -> None:
        self.compare_as = _normalizer(self.normalize)

    def reference(self, expected: Any) -> Any:
        return expected[0] if isinstance(expected, list) and expected else expected

    def grade(self, output: Any, expected: Any) -> Verdict:
        if not isinstance(expected, list) or not expected:
            return Verdict(
                passed=False,
                score=0.0,
                reason="grader 'one_of' needs the expected output to be a non-empty list of accepted answers - "
                'annotate with --expected-json \'["yes", "y"]\'',
            )
        if any(_same(output, accepted, self.compare_as) for accepted in expected):
            return Verdict(passed=True, score=1.0, reason="output equals one of the accepted answers")
        accepted = ", ".join(repr(shorten(as_text(a), 30)) for a in expected[:5])
        more = f" (+{len(expected) - 5} more)" if len(expected) > 5 else ""
        return Verdict(
            passed=False, score=0.0, reason=f"got {shorten(as_text(output), 60)!r}, not one of {accepted}{more}"
        )


class Contains(Grader):
    """The expected text (or option `substring`) appears in the output."""

    name = "contains"
    summary = "the output contains a text"
    expected_help = "the text it must contain (with `substring=`, an example of a good output)"
    instant = True
    substring = Text(help="the text, when `--expected` is an example of a good output instead")
    ignore_case = Flag(help=_IGNORE_CASE_HELP)

    def grade(self, output: Any, expected: Any) -> Verdict:
        needle = self.substring if self.substring is not None else as_text(expected)
        haystack = as_text(output)
        if self.ignore_case:
            needle, haystack = needle.casefold(), haystack.casefold()
        if needle in haystack:
            return Verdict(passed=True, score=1.0, reason=f"output contains {shorten(needle, 60)!r}")
        return Verdict(passed=False, score=0.0, reason=f"output does not contain {shorten(needle, 60)!r}")


class NotContains(Grader):
    """None of the forbidden texts in option `substring` (a text or a list of texts) appears in the output."""

    name = "not_contains"
    summary = "none of the forbidden texts is in the output"
    instant = True
    substring = Texts(
        REQUIRED,
        help="the forbidden text, or a JSON list of texts",
        missing="grader 'not_contains' needs --option substring=TEXT (or a JSON list of texts): "
        "the text the output must not contain",
    )
    ignore_case = Flag(help=_IGNORE_CASE_HELP)

    def prepare(self) -> None:
        assert self.substring is not None  # required
        self.needles = [n.casefold() for n in self.substring] if self.ignore_case else list(self.substring)

    def grade(self, output: Any, expected: Any) -> Verdict:
        haystack = as_text(output)
        if self.ignore_case:
            haystack = haystack.casefold()
        for needle in self.needles:
            if needle in haystack:
                return Verdict(passed=False, score=0.0, reason=f"output contains forbidden {shorten(needle, 60)!r}")
        shown = ", ".join(repr(shorten(n, 30)) for n in self.needles[:3])
        return Verdict(passed=True, score=1.0, reason=f"output does not contain {shown}")


class Regex(Grader):
    """The output matches option `pattern` (`match`: search, the default, or full)."""

    name = "regex"
    summary = "the output matches option pattern (Python's re syntax)"
    instant = True
    pattern = Text(
        REQUIRED,
        help="the pattern",
        placeholder="REGEX",
        missing="grader 'regex' needs --option pattern=REGEX (the expected output is an example it must match)",
    )
    match = Choice("search", ("search", "full"), help="search the output for it, or match the whole output")
    ignore_case = Flag(help=_IGNORE_CASE_HELP)

    def prepare(self) -> None:
        flags = re.IGNORECASE if self.ignore_case else 0
        try:
            self.regex = _compiled(self.pattern, flags)
        except re.error as exc:
            raise InvalidInput(f"grader 'regex' pattern {self.pattern!r} does not compile: {exc}") from None

    def grade(self, output: Any, expected: Any) -> Verdict:
        text = as_text(output)
        found = self.regex.fullmatch(text) if self.match == "full" else self.regex.search(text)
        how = "fully match" if self.match == "full" else "match"
        if found:
            return Verdict(passed=True, score=1.0, reason=f"output does {how} /{self.regex.pattern}/")
        return Verdict(passed=False, score=0.0, reason=f"output does not {how} /{self.regex.pattern}/")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    # Compiled once per pattern and flags, however many cases share it.
    return re.compile(pattern, flags)
