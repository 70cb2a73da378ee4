"""Custom graders: python (a function of yours) and function plug-ins.

`python` imports option `function` (`module:name`) the way the runner imports entry points,
with the current folder first on `sys.path`, once, when the grader is built: a typo is an error
at annotate time. The function is called as `fn(output, expected)` and returns a bool, a score
in [0, 1] (passing at option `threshold`, default 0.5) or a `Verdict`. A plain function named
by `--grader module:name` or by an entry point becomes a `FunctionGrader` the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from casebank._words import a
from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, Verdict
from casebank.replay.graders._options import REQUIRED, Number, Text

__all__ = ["FunctionGrader", "PythonFunction", "function_grader", "verdict_of"]

_THRESHOLD_HELP = "a score at or above it passes"


def verdict_of(result: Any, who: str, threshold: float) -> Verdict:
    """What a grading function's return value means: a Verdict as it is, a bool, or a score in [0, 1]."""
    if isinstance(result, Verdict):
        return result
    if isinstance(result, bool):
        return Verdict(passed=result, score=float(result), reason=f"{who} returned {result}")
    if isinstance(result, (int, float)):
        score = float(result)
        if not 0.0 <= score <= 1.0:
            return Verdict(passed=False, reason=f"{who} returned {score:g} - a score must be between 0 and 1")
        passed = score >= threshold
        word = "at or above" if passed else "below"
        return Verdict(passed=passed, score=score, reason=f"{who} scored {score:g}, {word} {threshold:g}")
    return Verdict(
        passed=False, reason=f"{who} returned {a(type(result).__name__)} - return a bool, a float or a Verdict"
    )


class PythonFunction(Grader):
    """Your function `module:name` grades: it returns a bool, a score in [0, 1] or a Verdict."""

    name = "python"
    summary = "your function MODULE:NAME returns True, a score >= threshold, or a passing Verdict"
    expected_help = "what your function receives as `expected`"
    function = Text(
        REQUIRED,
        help="the function of (output, expected) that grades",
        placeholder="MODULE:NAME",
        missing="grader 'python' needs --option function=MODULE:NAME (a function of output and expected)",
    )
    threshold = Number(0.5, maximum=1, above="use a score between 0 and 1", help=_THRESHOLD_HELP)

    def prepare(self) -> None:
        from casebank.replay._target import cwd_on_path, import_target

        try:
            with cwd_on_path():
                self.fn: Callable[..., Any] = import_target(self.function, command=None)
        except CasebankError as exc:
            raise InvalidInput(f"grader 'python' option function={self.function!r}: {exc}") from None

    def grade(self, output: Any, expected: Any) -> Verdict:
        return verdict_of(self.fn(output, expected), self.function, self.threshold)


class FunctionGrader(Grader):
    """A plain function `(output, expected) -> bool | float | Verdict` as a grader (see `function_grader`)."""

    expected_help = "what the function receives as `expected`"
    threshold = Number(0.5, maximum=1, above="use a score between 0 and 1", help=_THRESHOLD_HELP)
    function: ClassVar[Callable[[Any, Any], Any]]

    def grade(self, output: Any, expected: Any) -> Verdict:
        return verdict_of(type(self).function(output, expected), self.name, self.threshold)


def function_grader(fn: Callable[[Any, Any], Any], name: str) -> type[Grader]:
    """A FunctionGrader class for `fn`, named `name` (an entry point's name or an import path)."""
    doc = (getattr(fn, "__doc__", None) or "").strip()
    summary = doc.splitlines()[0].strip() if doc else f"the function {name} passes the output"
    attributes = {"name": name, "function": staticmethod(fn), "summary": summary, "__doc__": None}
    return type(getattr(fn, "__name__", "function"), (FunctionGrader,), attributes)
