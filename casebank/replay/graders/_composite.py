"""The composite graders `all` and `any`: several graders over the same output and expected output.

Option `graders` is a list of grader specs, or of bare names, each built through the registry.
They stop early - `all` at the first failure, `any` at the first pass - so put cheap graders
first and an expensive judge last. A child that crashes is a failed child, as everywhere.
"""

from __future__ import annotations

from typing import Any

from casebank._words import count
from casebank.errors import CasebankError, InvalidInput
from casebank.replay.graders._base import Grader, NoReference, Verdict, grade_safely, shorten
from casebank.replay.graders._options import REQUIRED, Json
from casebank.replay.graders._registry import make_grader
from casebank.replay.graders._replay import Replay

__all__ = ["All", "Any_"]


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
        self.children: list[Grader] = []
        for n, spec in enumerate(self.specs):
            child_spec = {"name": spec} if isinstance(spec, str) else spec
            try:
                self.children.append(make_grader(child_spec, base_dir=self.base_dir))
            except CasebankError as exc:
                raise InvalidInput(f"grader '{self.name}' option graders[{n}]: {exc}") from None

    def grades_instantly(self) -> bool:
        return all(child.grades_instantly() for child in self.children)

    def reads_replay(self) -> bool:
        return any(child.reads_replay() for child in self.children)

    def check_expected(self, expected: Any) -> None:
        for child in self.children:
            child.check_expected(expected)

    def reference(self, expected: Any) -> Any:
        # The first child that describes its expected output rather than being one knows the reference
        # (or knows that there is none). A span grader's expected output is no output at all: it
        # speaks only when every child reads spans.
        output_children = [child for child in self.children if not child.reads_replay()] or self.children
        for child in output_children:
            reference = child.reference(expected)
            if reference is not expected or isinstance(reference, NoReference):
                return reference
        return expected

    def grade(self, output: Any, expected: Any) -> Verdict:
        return self._grade(output, expected, None)

    def grade_replay(self, output: Any, expected: Any, replay: Replay) -> Verdict:
        return self._grade(output, expected, replay)

    def _grade(self, output: Any, expected: Any, replay: Replay | None) -> Verdict:
        verdicts: list[tuple[Grader, Verdict]] = []
        for child in self.children:
            verdict = grade_safely(child, output, expected, replay)
            verdicts.append((child, verdict))
            if verdict.passed is self.stop_when:
                break
        scores = [v.score for _, v in verdicts if v.score is not None]
        passed = all(v.passed for _, v in verdicts) if not self.stop_when else any(v.passed for _, v in verdicts)
        score = (min(scores) if not self.stop_when else max(scores)) if scores else None
        child, deciding = verdicts[-1]
        if self.stop_when:  # any
            what = "passed" if passed else f"none of {count(len(self.children), 'grader')} passed; last"
        else:
            what = f"all {count(len(self.children), 'grader')} passed; last" if passed else "failed"
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
