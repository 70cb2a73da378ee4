"""What every grader shares: the verdict it returns and the registry that finds it by name.

A grader is a small class with one job (`grade`), built once per case from the options in the
case file, which it checks in `__init__` so that a bad option is reported at annotate time
rather than in the middle of a run. `grade_safely` turns a crashing grader into a failed
verdict: a broken grader is a recorded failure, never a crashed run.

Some options name files (a JSON schema, a fixture database). They are relative to the suite
folder, so that a suite moves as one piece: `make_grader(spec, base_dir=suite_folder)` says where
that is. Without it the default suite folder (`evals/` in the current folder) is assumed, which is
what `cases annotate` (which has no --suite) and the default `cases run` use. A subclass that
overrides `__init__` takes `base_dir` as a keyword and passes it on to `Grader.__init__`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from casebank.errors import InvalidInput

__all__ = [
    "DEFAULT_BASE_DIR",
    "GRADERS",
    "Grader",
    "Verdict",
    "as_text",
    "grade_safely",
    "make_grader",
    "register",
    "shorten",
    "truthy",
]

# Where file options are looked up when no suite folder is given: the default suite folder.
DEFAULT_BASE_DIR = Path("evals")


@dataclass(kw_only=True, frozen=True)
class Verdict:
    passed: bool
    score: float | None = None
    reason: str = ""


class Grader:
    name: ClassVar[str]
    # Options this grader understands; anything else is a typo worth reporting.
    known_options: ClassVar[frozenset[str]] = frozenset()
    # True for a grader that only compares the values in hand (no I/O, microseconds of work): the
    # runner grades it on its event loop, where the hop to a thread would cost more than the grade.
    instant: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        self.options = dict(options or {})
        self.base_dir = Path(base_dir) if base_dir is not None else DEFAULT_BASE_DIR
        unknown = sorted(set(self.options) - self.known_options)
        if unknown:
            known = ", ".join(sorted(self.known_options)) or "none"
            raise InvalidInput(f"grader '{self.name}' has no option '{unknown[0]}' (it takes: {known})")

    def grades_instantly(self) -> bool:
        """Whether grading never waits (see `instant`); a composite asks its children."""
        return self.instant

    # -- option helpers: each raises InvalidInput naming the grader, the option and the fix --

    def invalid(self, option: str, value: Any, fix: str) -> InvalidInput:
        shown = value if isinstance(value, str) else as_text(value)
        return InvalidInput(f"grader '{self.name}' option {option}={shorten(str(shown), 60)!r} - {fix}")

    def number_option(self, option: str, default: float | None = None, *, minimum: float = 0.0) -> float | None:
        """A finite number >= `minimum` (numbers given as text, as `--option K=V` may, are accepted)."""
        value = self.options.get(option, default)
        if value is None:
            return None
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < minimum:
            raise self.invalid(option, value, f"use a number >= {minimum:g}")
        return number

    def choice_option(self, option: str, choices: tuple[str, ...], default: str) -> str:
        value = self.options.get(option, default)
        if value not in choices:
            raise self.invalid(option, value, f"use one of: {', '.join(choices)}")
        return str(value)

    def path_option(self, option: str) -> Path:
        """An existing file named relative to the suite folder (or absolute)."""
        value = self.options.get(option)
        if not isinstance(value, str) or not value.strip():
            raise self.invalid(option, value, "give a file path relative to the suite folder")
        path = Path(value).expanduser()
        full = path if path.is_absolute() else self.base_dir / path
        if not full.is_file():
            raise self.invalid(
                option, value, f"no file at '{full}' (paths are relative to the suite folder '{self.base_dir}')"
            )
        return full

    def grade(self, output: Any, expected: Any) -> Verdict:
        raise NotImplementedError

    def reference(self, expected: Any) -> Any:
        """An output this grader must pass for `expected`: what the promote-time check grades.

        For most graders the expected output is itself such an output. Where it is a description
        instead (paths to values, a list of accepted answers, tests with a reference solution),
        the grader says which output it describes.
        """
        return expected

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options}


GRADERS: dict[str, type[Grader]] = {}


def register(cls: type[Grader]) -> type[Grader]:
    GRADERS[cls.name] = cls
    return cls


def make_grader(spec: Mapping[str, Any], *, base_dir: Path | None = None) -> Grader:
    """Build the grader a spec (`{"name": ..., "options": {...}}`) names; file options resolve under `base_dir`."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(f"a grader spec must be an object with a name, not {type(spec).__name__}")
    name = spec.get("name")
    cls = GRADERS.get(str(name))
    if cls is None:
        raise InvalidInput(f"unknown grader '{name}' - choose one of: {', '.join(sorted(GRADERS))}")
    options = spec.get("options") or {}
    if not isinstance(options, Mapping):
        raise InvalidInput(f"grader '{name}' options must be an object, not {type(options).__name__}")
    return cls(options, base_dir=base_dir)


def grade_safely(grader: Grader, output: Any, expected: Any) -> Verdict:
    try:
        return grader.grade(output, expected)
    except Exception as exc:  # a grader bug fails this case, not the run
        return Verdict(passed=False, reason=f"grader '{grader.name}' crashed: {type(exc).__name__}: {exc}")


def batches(grader: Grader) -> bool:
    """Whether `grader`'s class grades many outputs in one `grade_batch` call (the embedding grader)."""
    return callable(getattr(type(grader), "grade_batch", None))


def grade_batch_safely(kind: type[Grader], items: Sequence[tuple[Grader, Any, Any]]) -> list[Verdict] | None:
    """`kind.grade_batch(items)`, or None when that raised or did not give one verdict an item:
    the caller then grades one by one, where a crash is that item's alone."""
    try:
        verdicts = list(getattr(kind, "grade_batch")(items))  # noqa: B009
    except Exception:
        return None
    return verdicts if len(verdicts) == len(items) else None


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


def truthy(value: Any) -> bool:
    """An option's truth as `--option K=V` gives it: true/false, yes/no, 1/0, on/off as text too."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def fenced_source(output: Any, languages: str = r"[\w+-]*", *, whole: bool = False) -> str | None:
    """The code in a text output: its first fenced block tagged with one of `languages` (a regex
    alternation such as `python3?|py`; by default any tag) or untagged, else the whole text; None
    when not text. With `whole` a block is taken only when it is the whole output (blank space
    aside) - a JSON reply wrapped in a fence, not JSON quoted inside prose."""
    if not isinstance(output, str):
        return None
    opens = output.lstrip().startswith("```") if whole else "```" in output
    if opens:
        found = _fence(languages, whole).search(output)
        if found:
            return found.group(1)
    return output


@functools.lru_cache(maxsize=32)
def _fence(languages: str, whole: bool) -> re.Pattern[str]:
    if whole:  # the closing fence ends the text, even on the code's last line
        return re.compile(rf"\A\s*```(?:{languages})[ \t]*\n(.*?)\n?```\s*\Z", re.DOTALL | re.IGNORECASE)
    # The first closing fence on a line of its own ends the block; an unclosed block runs to the end.
    return re.compile(rf"```[ \t]*(?:{languages})?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL | re.IGNORECASE)
