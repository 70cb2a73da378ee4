"""Text graders for extraction and classification: exact, contains, not_contains, regex, one_of.

A non-string output (a dict, a list, a number) is compared as its canonical JSON text, so that
`contains` and `regex` work on structured answers too; `exact` and `one_of` compare two
non-string values as values, so key order never matters.

What the expected output is differs, and each takes what a user types first (as promptfoo's
`contains`, `not-contains` and `regex` asserts take their value):
    contains      the text the output must contain; with `substring`, an example good output
    not_contains  the text (or JSON list of texts) the output must not contain; with
                  `substring`, an example good output
    regex         the pattern the output must match; with `pattern`, an example good output
A forbidden text or a pattern is no example of a good output, so then `reference()` says there is
none, and the promote-time check grades only the flagged bad output. A pattern is refused at
annotate time (`check_expected`) when it does not compile or matches an empty output - such a
pattern cannot tell a bad answer from none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, NoReference, Verdict, as_text, shorten
from casebank.replay.graders._options import Choice, Flag, Text, Texts

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


_FORBIDDEN_EXAMPLE = "--expected '14 days' (or --expected-json '[\"14 days\", \"60 days\"]')"


class NotContains(Grader):
    """None of the forbidden texts appears in the output: the expected text(s), or option `substring`."""

    name = "not_contains"
    summary = "none of the forbidden texts is in the output"
    expected_help = (
        "the text the output must not contain, or a JSON list of such texts "
        "(with `substring=`, an example of a good output)"
    )
    instant = True
    substring = Texts(
        help="the forbidden text or JSON list of texts, when `--expected` is an example of a good output",
        fix="give the text the output must not contain, or a JSON list of texts, e.g. --option substring='14 days'",
    )
    ignore_case = Flag(help=_IGNORE_CASE_HELP)

    def _needles(self, expected: Any) -> list[str] | None:
        """The forbidden texts, folded when case is ignored; None when `expected` holds none."""
        needles = self.substring if self.substring is not None else _texts(expected)
        if needles is None:
            return None
        return [n.casefold() for n in needles] if self.ignore_case else needles

    def check_expected(self, expected: Any) -> None:
        if self._needles(expected) is None:
            raise InvalidInput(_no_forbidden_text(expected))

    def reference(self, expected: Any) -> Any:
        if self.substring is None:
            return NoReference(why="the expected value is the text an output must not contain, not an example of one")
        return expected

    def grade(self, output: Any, expected: Any) -> Verdict:
        needles = self._needles(expected)
        if needles is None:
            return Verdict(passed=False, score=0.0, reason=_no_forbidden_text(expected))
        haystack = as_text(output)
        if self.ignore_case:
            haystack = haystack.casefold()
        for needle in needles:
            if needle in haystack:
                return Verdict(passed=False, score=0.0, reason=f"output contains forbidden {shorten(needle, 60)!r}")
        shown = ", ".join(repr(shorten(n, 30)) for n in needles[:3])
        return Verdict(passed=True, score=1.0, reason=f"output does not contain {shown}")


def _texts(value: Any) -> list[str] | None:
    texts = [value] if isinstance(value, str) else value
    if isinstance(texts, list) and texts and all(isinstance(t, str) and t for t in texts):
        return list(texts)
    return None


def _no_forbidden_text(expected: Any) -> str:
    return (
        f"grader 'not_contains' needs the text the output must not contain, not {shorten(as_text(expected), 40)!r} - "
        f"annotate with {_FORBIDDEN_EXAMPLE}"
    )


_PATTERN_EXAMPLE = r"'\d+ days'"


class Regex(Grader):
    """The output matches a pattern: the expected value, or option `pattern` (`match`: search or full)."""

    name = "regex"
    summary = "the output matches a regular expression (Python's re syntax)"
    expected_help = r"the pattern it must match, e.g. `'\d+ days'` (with `pattern=`, an example of a good output)"
    instant = True
    pattern = Text(
        help="the pattern, when `--expected` is an example of a good output instead",
        placeholder="REGEX",
        fix=f"give the pattern, e.g. --option pattern={_PATTERN_EXAMPLE}, or put it in --expected",
    )
    match = Choice("search", ("search", "full"), help="search the output for it, or match the whole output")
    ignore_case = Flag(help=_IGNORE_CASE_HELP)

    def prepare(self) -> None:
        self.flags = re.IGNORECASE if self.ignore_case else 0
        # A pattern in the options is compiled now, so that a broken one stops a run before it starts.
        self.regex = self._compile(self.pattern) if self.pattern is not None else None

    def _compile(self, pattern: str) -> re.Pattern[str]:
        try:
            return _compiled(pattern, self.flags)
        except re.error as exc:
            raise InvalidInput(
                f"grader 'regex' pattern '{shorten(pattern, 60)}' does not compile: {exc} - fix it, e.g. "
                f"{self._example()}"
            ) from None

    def _example(self) -> str:
        if self.pattern is not None:
            return f"--option pattern={_PATTERN_EXAMPLE}"
        return f"--expected {_PATTERN_EXAMPLE}"

    def _regex_for(self, expected: Any) -> re.Pattern[str]:
        if self.regex is not None:
            return self.regex
        if not isinstance(expected, str) or not expected:
            raise InvalidInput(
                f"grader 'regex' needs a pattern as the expected output, not {shorten(as_text(expected), 40)!r} - "
                f"annotate with {self._example()} (or give --option pattern=REGEX and an example output)"
            )
        return self._compile(expected)

    def check_expected(self, expected: Any) -> None:
        regex = self._regex_for(expected)
        if self._finds(regex, ""):
            raise InvalidInput(
                f"grader 'regex' pattern '{shorten(regex.pattern, 60)}' matches an empty output, so it cannot tell "
                f"a bad answer from none - make it require some text, e.g. {self._example()}"
            )

    def reference(self, expected: Any) -> Any:
        if self.pattern is None:
            return NoReference(why="the expected value is the pattern an output must match, not an example of one")
        return expected

    def _finds(self, regex: re.Pattern[str], text: str) -> bool:
        return (regex.fullmatch(text) if self.match == "full" else regex.search(text)) is not None

    def grade(self, output: Any, expected: Any) -> Verdict:
        try:
            regex = self._regex_for(expected)
        except InvalidInput as exc:
            return Verdict(passed=False, score=0.0, reason=str(exc))
        how = "fully match" if self.match == "full" else "match"
        if self._finds(regex, as_text(output)):
            return Verdict(passed=True, score=1.0, reason=f"output does {how} /{regex.pattern}/")
        return Verdict(passed=False, score=0.0, reason=f"output does not {how} /{regex.pattern}/")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str, flags: int) -> re.Pattern[str]:
    # A pattern taken from the expected output is compiled per grade: cached, as re's own cache is small.
    return re.compile(pattern, flags)
