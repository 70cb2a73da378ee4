"""What every grader shares: the verdict it returns and the registry that finds it by name.

A grader is a small class with one job (`grade`), built once per case from the options in the
case file, which it checks in `__init__` so that a bad option is reported at annotate time
rather than in the middle of a run. `grade_safely` turns a crashing grader into a failed
verdict: a broken grader is a recorded failure, never a crashed run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from casebank.errors import InvalidInput

__all__ = ["GRADERS", "Grader", "Verdict", "as_text", "grade_safely", "make_grader", "register", "shorten"]


@dataclass(kw_only=True, frozen=True)
class Verdict:
    passed: bool
    score: float | None = None
    reason: str = ""


class Grader:
    name: ClassVar[str]
    # Options this grader understands; anything else is a typo worth reporting.
    known_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        unknown = sorted(set(self.options) - self.known_options)
        if unknown:
            known = ", ".join(sorted(self.known_options)) or "none"
            raise InvalidInput(f"grader '{self.name}' has no option '{unknown[0]}' (it takes: {known})")

    def grade(self, output: Any, expected: Any) -> Verdict:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options}


GRADERS: dict[str, type[Grader]] = {}


def register(cls: type[Grader]) -> type[Grader]:
    GRADERS[cls.name] = cls
    return cls


def make_grader(spec: Mapping[str, Any]) -> Grader:
    name = spec.get("name")
    cls = GRADERS.get(str(name))
    if cls is None:
        raise InvalidInput(f"unknown grader '{name}' - choose one of: {', '.join(sorted(GRADERS))}")
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput(f"grader '{name}' options must be an object, not {type(options).__name__}")
    return cls(options)


def grade_safely(grader: Grader, output: Any, expected: Any) -> Verdict:
    try:
        return grader.grade(output, expected)
    except Exception as exc:  # a grader bug fails this case, not the run
        return Verdict(passed=False, reason=f"grader '{grader.name}' crashed: {type(exc).__name__}: {exc}")


def as_text(value: Any) -> str:
    """How a non-string output is compared as text: its canonical JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def shorten(text: str, limit: int = 80) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
