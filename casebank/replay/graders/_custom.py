"""Custom graders: python (a function of yours) and the composites all and any.

`python` imports option `function` (`module:name`) the way the runner imports entry points,
with the current folder first on `sys.path`, once, when the grader is built: a typo is an error
at annotate time. The function is called as `fn(output, expected)` and returns a bool, a score
in [0, 1] (passing at option `threshold`, default 0.5) or a `Verdict`.

`all` and `any` combine the graders of option `graders` (a list of grader specs, or of bare
names) over the same output and expected output. They stop early - `all` at the first failure,
`any` at the first pass - so put cheap graders first and an expensive judge last. A child that
crashes is a failed child, as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, Verdict, grade_safely, make_grader, register, shorten

__all__ = ["All", "Any_", "PythonFunction"]


@register
class PythonFunction(Grader):
    """Your function `module:name` grades: it returns a bool, a score in [0, 1] or a Verdict."""

    name = "python"
    known_options = frozenset({"function", "threshold"})

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        spec = self.options.get("function")
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidInput(
                "grader 'python' needs --option function=MODULE:NAME (a function of output and expected)"
            )
        self.threshold = self.number_option("threshold", 0.5) or 0.0
        if self.threshold > 1:
            raise self.invalid("threshold", self.options["threshold"], "use a score between 0 and 1")
        from casebank.replay._target import cwd_on_path, import_target

        try:
            with cwd_on_path():
                self.fn: Callable[..., Any] = import_target(spec)
        except CasebankError as exc:
            raise InvalidInput(f"grader 'python' option function={spec!r}: {exc}") from None
        self.function = spec

    def grade(self, output: Any, expected: Any) -> Verdict:
        result = self.fn(output, expected)
        if isinstance(result, Verdict):
            return result
        if isinstance(result, bool):
            return Verdict(passed=result, score=float(result), reason=f"{self.function} returned {result}")
        if isinstance(result, (int, float)):
            score = float(result)
            if not 0.0 <= score <= 1.0:
                return Verdict(
                    passed=False, reason=f"{self.function} returned {score:g} - a score must be between 0 and 1"
                )
            passed = score >= self.threshold
            word = "at or above" if passed else "below"
            return Verdict(
                passed=passed, score=score, reason=f"{self.function} scored {score:g}, {word} {self.threshold:g}"
            )
        return Verdict(
            passed=False,
            reason=f"{self.function} returned a {type(result).__name__} - return a bool, a float or a Verdict",
        )


class _Composite(Grader):
    known_options = frozenset({"graders"})
    stop_when: bool  # all stops at the first failure (False), any at the first pass (True)

    def __init__(self, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None) -> None:
        super().__init__(options, base_dir=base_dir)
        specs = self.options.get("graders")
        if not isinstance(specs, list) or not specs:
            raise InvalidInput(
                f"grader '{self.name}' needs --option graders='[{{\"name\": \"json_valid\"}}, ...]' "
                "(a JSON list of grader specs or names)"
            )
        self.children: list[Grader] = []
        for n, spec in enumerate(specs):
            child_spec = {"name": spec} if isinstance(spec, str) else spec
            try:
                self.children.append(make_grader(child_spec, base_dir=base_dir))
            except CasebankError as exc:
                raise InvalidInput(f"grader '{self.name}' option graders[{n}]: {exc}") from None

    def grades_instantly(self) -> bool:
        return all(child.grades_instantly() for child in self.children)

    def reference(self, expected: Any) -> Any:
        # The first child that describes its expected output rather than being one knows the reference.
        for child in self.children:
            reference = child.reference(expected)
            if reference is not expected:
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


@register
class All(_Composite):
    """Every grader of option `graders` passes (stops at the first that fails)."""

    name = "all"
    stop_when = False


@register
class Any_(_Composite):
    """At least one grader of option `graders` passes (stops at the first that passes)."""

    name = "any"
    stop_when = True
