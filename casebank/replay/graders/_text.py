"""Text graders for extraction and classification: exact, contains, not_contains, regex, one_of.

A non-string output (a dict, a list, a number) is compared as its canonical JSON text, so that
`contains` and `regex` work on structured answers too; `exact` and `one_of` compare two
non-string values as values, so key order never matters.

`not_contains` takes the forbidden text from its `substring` option, never from the expected
output: the promote-time check grades the expected output itself, and no text is free of itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, Verdict, as_text, register, shorten, truthy

__all__ = ["Contains", "Exact", "NotContains", "OneOf", "Regex"]

_NORMALIZE = ("none", "whitespace", "case", "both")


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


@register
class Exact(Grader):
    """Output equals the expected output (strings as text, anything else as JSON values)."""

    name = "exact"
    instant = True
    known_options = frozenset({"normalize"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        self.mode = self.choice_option("normalize", _NORMALIZE, "none")
        self.normalize = _normalizer(self.mode)

    def grade(self, output: Any, expected: Any) -> Verdict:
        if _same(output, expected, self.normalize):
            return Verdict(passed=True, score=1.0, reason="output equals expected")
        return Verdict(
            passed=False,
            score=0.0,
            reason=f"expected {shorten(as_text(expected), 60)!r}, got {shorten(as_text(output), 60)!r}",
        )


@register
class OneOf(Grader):
    """Output equals one of the expected outputs (the expected value is a list of accepted answers)."""

    name = "one_of"
    instant = True
    known_options = frozenset({"normalize"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        self.mode = self.choice_option("normalize", _NORMALIZE, "none")
        self.normalize = _normalizer(self.mode)

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
        if any(_same(output, accepted, self.normalize) for accepted in expected):
            return Verdict(passed=True, score=1.0, reason="output equals one of the accepted answers")
        accepted = ", ".join(repr(shorten(as_text(a), 30)) for a in expected[:5])
        more = f" (+{len(expected) - 5} more)" if len(expected) > 5 else ""
        return Verdict(
            passed=False, score=0.0, reason=f"got {shorten(as_text(output), 60)!r}, not one of {accepted}{more}"
        )


@register
class Contains(Grader):
    """The expected text (or option `substring`) appears in the output."""

    name = "contains"
    instant = True
    known_options = frozenset({"substring", "ignore_case"})

    def grade(self, output: Any, expected: Any) -> Verdict:
        needle = as_text(self.options.get("substring", expected))
        haystack = as_text(output)
        if truthy(self.options.get("ignore_case")):
            needle, haystack = needle.casefold(), haystack.casefold()
        if needle in haystack:
            return Verdict(passed=True, score=1.0, reason=f"output contains {shorten(needle, 60)!r}")
        return Verdict(passed=False, score=0.0, reason=f"output does not contain {shorten(needle, 60)!r}")


@register
class NotContains(Grader):
    """None of the forbidden texts in option `substring` (a text or a list of texts) appears in the output."""

    name = "not_contains"
    instant = True
    known_options = frozenset({"substring", "ignore_case"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        raw = self.options.get("substring")
        needles = [raw] if isinstance(raw, str) else raw
        if not isinstance(needles, list) or not needles or not all(isinstance(n, str) and n for n in needles):
            raise InvalidInput(
                "grader 'not_contains' needs --option substring=TEXT (or a JSON list of texts): "
                "the text the output must not contain"
            )
        self.ignore_case = truthy(self.options.get("ignore_case"))
        self.needles = [n.casefold() for n in needles] if self.ignore_case else list(needles)

    def grade(self, output: Any, expected: Any) -> Verdict:
        haystack = as_text(output)
        if self.ignore_case:
            haystack = haystack.casefold()
        for needle in self.needles:
            if needle in haystack:
                return Verdict(passed=False, score=0.0, reason=f"output contains forbidden {shorten(needle, 60)!r}")
        shown = ", ".join(repr(shorten(n, 30)) for n in self.needles[:3])
        return Verdict(passed=True, score=1.0, reason=f"output does not contain {shown}")


@register
class Regex(Grader):
    """The output matches option `pattern` (`match`: search, the default, or full)."""

    name = "regex"
    instant = True
    known_options = frozenset({"pattern", "match", "ignore_case"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        pattern = self.options.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise InvalidInput(
                "grader 'regex' needs --option pattern=REGEX (the expected output is an example it must match)"
            )
        self.match = self.choice_option("match", ("search", "full"), "search")
        flags = re.IGNORECASE if truthy(self.options.get("ignore_case")) else 0
        try:
            self.regex = re.compile(pattern, flags)
        except re.error as exc:
            raise InvalidInput(f"grader 'regex' pattern {pattern!r} does not compile: {exc}") from None

    def grade(self, output: Any, expected: Any) -> Verdict:
        text = as_text(output)
        found = self.regex.fullmatch(text) if self.match == "full" else self.regex.search(text)
        how = "fully match" if self.match == "full" else "match"
        if found:
            return Verdict(passed=True, score=1.0, reason=f"output does {how} /{self.regex.pattern}/")
        return Verdict(passed=False, score=0.0, reason=f"output does not {how} /{self.regex.pattern}/")
