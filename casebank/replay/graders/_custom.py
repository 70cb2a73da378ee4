"""Custom graders: python (a function of yours), function plug-ins, and the composites all and any.

`python` imports option `function` (`module:name`) the way the runner imports entry points,
with the current folder first on `sys.path`, once, when the grader is built: a typo is an error
at annotate time. The function is called as `fn(output, expected)` and returns a bool, a score
in [0, 1] (passing at option `threshold`, default 0.5) or a `Verdict`. A plain function named
by `--grader module:name` or by an entry point becomes a `FunctionGrader` the same way.

`all` and `any` combine the graders of option `graders` (a list of grader specs, or of bare
names) over the same output and expected output. They stop early - `all` at the first failure,
`any` at the first pass - so put cheap graders first and an expensive judge last. A child that
crashes is a failed child, as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, NoReference, Verdict, grade_safely, shorten
from casebank.replay.graders._options import REQUIRED, Json, Number, Text

__all__ = ["All", "Any_", "FunctionGrader", "PythonFunction", "function_grader", "verdict_of"]

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
        passed=False, reason=f"{who} returned a {type(result).__name__} - return a bool, a float or a Verdict"
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
                self.fn: Callable[..., Any] = import_target(self.function)
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


class _Composite(Grader):
    expected_help = "what every grader of the list receives as the expected output"
    specs = Json(
        REQUIRED,
        types=(list,),
        option="graders",
        help="the graders, a JSON list of specs or names",
        placeholder="JSON",
        missing="grader '{name}' needs --option graders='[{{\"name\": \"json_valid\"}}, ...]' "
        "(a JSON list of grader specs or names)",
    )
    stop_when: bool  # all stops at the first failure (False), any at the first pass (True)

    def prepare(self) -> None:
        from casebank.replay.graders._registry import make_grader

        self.children: list[Grader] = []
        for n, spec in enumerate(self.specs):
            child_spec = {"name": spec} if isinstance(spec, str) else spec
            try:
                self.children.append(make_grader(child_spec, base_dir=self.base_dir))
            except CasebankError as exc:
                raise InvalidInput(f"grader '{self.name}' option graders[{n}]: {exc}") from None

    def grades_instantly(self) -> bool:
        return all(child.grades_instantly() for child in self.children)

    def check_expected(self, expected: Any) -> None:
        for child in self.children:
            child.check_expected(expected)

    def reference(self, expected: Any) -> Any:
        # The first child that describes its expected output rather than being one knows the reference
        # (or knows that there is none).
        for child in self.children:
            reference = child.reference(expected)
            if reference is not expected or isinstance(reference, NoReference):
                return reference
        return expected

    def grade(self, output: Any, expected: Any) -> Verdict:
        verdicts: list[tuple[Grader, Verdict]] = []
        for child in self.children:
            verdict = grade_safely(child, output, expected)
            verdicts.append((child, verdict))
            if verdict.passed is self.stop_when:
                break
        scores = [v.score for _, v in verdicts if v.score is not None]
        passed = all(v.passed for _, v in verdicts) if not self.stop_when else any(v.passed for _, v in verdicts)
        score = (min(scores) if not self.stop_when else max(scores)) if scores else None
        child, deciding = verdicts[-1]
        if self.stop_when:  # any
            what = "passed" if passed else f"none of {len(self.children)} graders passed; last"
        else:
            what = f"all {len(self.children)} graders passed; last" if passed else "failed"
        return Verdict(passed=passed, score=score, reason=shorten(f"{what} {child.name}: {deciding.reason}", 200))


class All(_Composite):
    """Every grader of option `graders` passes (stops at the first that fails)."""

    name = "all"
    summary = "every grader of the list passes (it stops at the first that fails)"
    stop_when = False


class Any_(_Composite):
    """At least one grader of option `graders` passes (stops at the first that passes)."""

    name = "any"
    summary = "at least one grader of the list passes (it stops at the first that passes)"
    stop_when = True
