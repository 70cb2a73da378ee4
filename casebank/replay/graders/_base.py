"""What every grader shares: the verdict it returns, its declared options, and the safe ways to call it.

A grader is a small class with one job (`grade`), built once per case from the options in the
case file. Its options are declared on the class (`_options.py`: `normalize = Choice(...)`), and
`Grader.__init__` reads them all, so that a bad option is reported at annotate time rather than
in the middle of a run; `prepare()` then checks what ties several options together and does the
once-per-grader work (compiling, importing). `grade_safely` turns a crashing grader into a failed
verdict: a broken grader is a recorded failure, never a crashed run. Which grader a name means
is the registry's job (`_registry.py`).

Some options name files (a JSON schema, a fixture database). They are relative to the suite
folder, so that a suite moves as one piece: `make_grader(spec, base_dir=suite_folder)` says where
that is. Without it the default suite folder (`evals/` in the current folder) is assumed, which is
what the default `cases annotate` and `cases run` use. A subclass that overrides `__init__` takes
`base_dir` as a keyword and passes it on to `Grader.__init__`.

The expected output is usually an example of a good output, and the promote-time check grades it
(`reference()`). For some graders it is not: a pattern, a forbidden text, test code. Such a
grader's `reference()` returns a `NoReference` saying why, and `check_expected()` refuses, at
annotate time, an expected value it could never grade with.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from casebank.capture._redact import redact
from casebank.errors import InvalidInput
from casebank.replay.graders._options import Option, truthy

if TYPE_CHECKING:
    from casebank.replay.graders._replay import Replay

__all__ = [
    "DEFAULT_BASE_DIR",
    "Grader",
    "NoReference",
    "Verdict",
    "as_text",
    "batches",
    "fenced_source",
    "grade_batch_safely",
    "grade_safely",
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


@dataclass(kw_only=True, frozen=True)
class NoReference:
    """What `Grader.reference()` returns when no good output follows from the expected value.

    `why` says so ("the expected value is the pattern ..."): then the promote-time check can only
    grade the flagged bad output. With `fix`, a good output was possible but is missing (tests
    without a reference solution): `fix` is the command that adds one, `{id}` standing for the
    incident, and promote refuses until it is given."""

    why: str
    fix: str = ""


class Grader:
    name: ClassVar[str]
    # One line each, for `cases annotate --help` and the README: when it passes, and what the
    # expected output (--expected) is to it. A plug-in's summary defaults to its docstring's first line.
    summary: ClassVar[str] = ""
    expected_help: ClassVar[str] = "an example of a good output"
    # The options it understands, derived from its declared options (anything else is a typo).
    known_options: ClassVar[frozenset[str]] = frozenset()
    declared_options: ClassVar[tuple[Option[Any], ...]] = ()
    # Pairs of options of which exactly one must be given (an inline value or the file that holds it).
    exactly_one: ClassVar[tuple[tuple[str, str], ...]] = ()
    # True for a grader that only compares the values in hand (no I/O, microseconds of work): the
    # runner grades it on its event loop, where the hop to a thread would cost more than the grade.
    instant: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, Option[Any]] = {}
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Option):
                    declared[value.option] = value
        cls.declared_options = tuple(declared.values())
        # A grader written before options were declared may still list them by hand.
        cls.known_options = frozenset(declared) | frozenset(getattr(cls, "known_options", ()))
        doc = cls.__dict__.get("__doc__")
        if "summary" not in cls.__dict__ and doc:
            cls.summary = doc.strip().splitlines()[0].strip()

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        self.options = dict(options or {})
        self.base_dir = Path(base_dir) if base_dir is not None else DEFAULT_BASE_DIR
        unknown = sorted(set(self.options) - self.known_options)
        if unknown:
            known = ", ".join(sorted(self.known_options)) or "none"
            raise InvalidInput(f"grader '{self.name}' has no option '{unknown[0]}' (it takes: {known})")
        for pair in self.exactly_one:
            if sum(option in self.options for option in pair) != 1:
                raise InvalidInput(f"grader '{self.name}' needs {self.exactly_one_text(pair)}")
        for declared in type(self).declared_options:
            # The parsed value shadows the (non-data) descriptor: `self.<attribute>` is typed and plain.
            self.__dict__[declared.attribute] = declared.read(self)
        self.prepare()

    @classmethod
    def exactly_one_text(cls, pair: tuple[str, str]) -> str:
        """`exactly one of --option a=X or --option b=PATH (relative to the suite folder)`."""
        declared = {option.option: option for option in cls.declared_options}
        usages = " or ".join(f"--option {declared[name].usage()}" for name in pair)
        files = any(declared[name].kind == "file" for name in pair)
        return f"exactly one of {usages}" + (" (relative to the suite folder)" if files else "")

    def prepare(self) -> None:
        """Check what ties options together, and do once-per-grader work; raise InvalidInput naming the fix."""

    def grades_instantly(self) -> bool:
        """Whether grading never waits (see `instant`); a composite asks its children."""
        return self.instant

    # -- option helpers: each raises InvalidInput naming the grader, the option and the fix --

    def invalid(self, option: str, value: Any, fix: str) -> InvalidInput:
        shown = value if isinstance(value, str) else as_text(value)
        return InvalidInput(f"grader '{self.name}' option {option}={shorten(str(shown), 60)!r} - {fix}")

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

    def grade_replay(self, output: Any, expected: Any, replay: Replay) -> Verdict:
        """Grade with what the replay did (its spans) at hand; a grader that reads no spans just grades."""
        return self.grade(output, expected)

    def reads_replay(self) -> bool:
        """Whether this grader reads the replay's spans (a span grader, or a composite holding one)."""
        return False

    def check_expected(self, expected: Any) -> None:
        """Refuse (InvalidInput, naming the form that works) an expected value this grader cannot grade with.

        Called by `cases annotate` before anything is stored, and by the promote-time check."""

    def reference(self, expected: Any) -> Any:
        """An output this grader must pass for `expected`: what the promote-time check grades.

        For most graders the expected output is itself such an output. Where it is a description
        instead (paths to values, a list of accepted answers, tests with a reference solution),
        the grader says which output it describes; where none follows from it (a pattern, a
        forbidden text), a `NoReference` says why.
        """
        return expected

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "options": self.options}


def grade_safely(
    grader: Grader, output: Any, expected: Any, replay: Replay | None = None, quote: Callable[[str], str] | None = None
) -> Verdict:
    """The grader's verdict, given what the replay did when known; a crash is a failed verdict.

    `quote`: how its reason quotes text (`shorten`), a run's redactors; by default the secret nets."""
    token = _QUOTE.set(quote) if quote is not None else None
    try:
        if replay is not None:
            return grader.grade_replay(output, expected, replay)
        return grader.grade(output, expected)
    except Exception as exc:  # a grader bug fails this case, not the run
        return Verdict(passed=False, reason=f"grader '{grader.name}' crashed: {type(exc).__name__}: {exc}")
    finally:
        if token is not None:
            _QUOTE.reset(token)


def batches(grader: Grader) -> bool:
    """Whether `grader`'s class grades many outputs in one `grade_batch` call (the embedding grader)."""
    return callable(getattr(type(grader), "grade_batch", None))


def grade_batch_safely(
    kind: type[Grader], items: Sequence[tuple[Grader, Any, Any]], quote: Callable[[str], str] | None = None
) -> list[Verdict] | None:
    """`kind.grade_batch(items)`, or None when that raised or did not give one verdict an item:
    the caller then grades one by one, where a crash is that item's alone. `quote`: as `grade_safely`'s."""
    token = _QUOTE.set(quote) if quote is not None else None
    try:
        verdicts = list(getattr(kind, "grade_batch")(items))  # noqa: B009
    except Exception:
        return None
    finally:
        if token is not None:
            _QUOTE.reset(token)
    return verdicts if len(verdicts) == len(items) else None


def as_text(value: Any) -> str:
    """How a non-string output is compared as text: its canonical JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


# A reason quotes the output cut short (`shorten`), and a secret cut in half has lost its shape:
# no redaction of the reason afterwards would find it. So the text is redacted before it is cut,
# with the run's redactors while a run grades (`grade_safely(quote=...)`), else the secret nets.
_QUOTE: ContextVar[Callable[[str], str]] = ContextVar("casebank_grader_quote", default=redact)


def shorten(text: str, limit: int = 80) -> str:
    """`text` on one line, redacted, cut to `limit` characters."""
    text = _QUOTE.get()(text).replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fenced_source(output: Any, languages: str = r"[\w+-]*", *, whole: bool = False) -> str | None:
    """The code in a text output: its first fenced block tagged with one of `languages` (a regex
    alternation such as `python3?|py`; by default any tag) or untagged, else the whole text; None
    when not text. With `whole` a block is taken only when it is the whole output (blank space
    aside) - a JSON reply wrapped in a fence, not JSON quoted inside prose."""
    if not isinstance(output, str):
        return None
    if whole:
        if output.lstrip().startswith("```"):
            found = _fence(languages).search(output)
            if found:
                return found.group(1)
        return output
    if "```" in output:
        # Blocks are read whole, fence to fence: the fence that closes a block in another language
        # (```bash ... ```) must not be taken for the opening of an untagged one.
        wanted = _language(languages)
        for block in _BLOCK.finditer(output):
            if not block.group(1) or wanted.fullmatch(block.group(1)):
                return block.group(2)
    return output


# A block: an opening fence with an optional tag (the first word of its line), then up to the first
# closing fence on a line of its own; an unclosed block runs to the end.
_BLOCK = re.compile(r"```[ \t]*([\w+-]*)[^\n`]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)


@functools.lru_cache(maxsize=32)
def _language(languages: str) -> re.Pattern[str]:
    return re.compile(languages, re.IGNORECASE)


@functools.lru_cache(maxsize=32)
def _fence(languages: str) -> re.Pattern[str]:
    # The whole output is one block: the closing fence ends the text, even on the code's last line.
    return re.compile(rf"\A\s*```(?:{languages})[ \t]*\n(.*?)\n?```\s*\Z", re.DOTALL | re.IGNORECASE)
