"""Text graders for extraction and classification: exact, contains, regex."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, Verdict, as_text, register, shorten

_NORMALIZE = ("none", "whitespace", "case", "both")


def _normalizer(mode: str) -> Any:
    def normalize(text: str) -> str:
        if mode in ("whitespace", "both"):
            text = " ".join(text.split())
        if mode in ("case", "both"):
            text = text.casefold()
        return text

    return normalize


@register
class Exact(Grader):
    """Output equals the expected output (strings as text, anything else as JSON values)."""

    name = "exact"
    known_options = frozenset({"normalize"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.mode = str(self.options.get("normalize", "none"))
        if self.mode not in _NORMALIZE:
            raise InvalidInput(f"grader 'exact' option normalize='{self.mode}' - use one of: {', '.join(_NORMALIZE)}")
        self.normalize = _normalizer(self.mode)

    def grade(self, output: Any, expected: Any) -> Verdict:
        if isinstance(expected, str) or isinstance(output, str):
            same = self.normalize(as_text(output)) == self.normalize(as_text(expected))
        else:
            same = output == expected
        if same:
            return Verdict(passed=True, score=1.0, reason="output equals expected")
        return Verdict(
            passed=False,
            score=0.0,
            reason=f"expected {shorten(as_text(expected), 60)!r}, got {shorten(as_text(output), 60)!r}",
        )


@register
class Contains(Grader):
    """The expected text (or option `substring`) appears in the output."""

    name = "contains"
    known_options = frozenset({"substring", "ignore_case"})

    def grade(self, output: Any, expected: Any) -> Verdict:
        needle = as_text(self.options.get("substring", expected))
        haystack = as_text(output)
        if _truthy(self.options.get("ignore_case")):
            needle, haystack = needle.casefold(), haystack.casefold()
        if needle in haystack:
            return Verdict(passed=True, score=1.0, reason=f"output contains {shorten(needle, 60)!r}")
        return Verdict(passed=False, score=0.0, reason=f"output does not contain {shorten(needle, 60)!r}")


@register
class Regex(Grader):
    """The output matches option `pattern` (`match`: search, the default, or full)."""

    name = "regex"
    known_options = frozenset({"pattern", "match", "ignore_case"})

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        pattern = self.options.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise InvalidInput(
                "grader 'regex' needs --option pattern=REGEX (the expected output is an example it must match)"
            )
        self.match = str(self.options.get("match", "search"))
        if self.match not in ("search", "full"):
            raise InvalidInput(f"grader 'regex' option match='{self.match}' - use search or full")
        flags = re.IGNORECASE if _truthy(self.options.get("ignore_case")) else 0
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


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
