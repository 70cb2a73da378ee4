"""A case as pytest sees it: a file node (`CaseFile`) holding one test item (`CaseItem`).

The node id is the case file's path, then the case id with its tags in brackets, as pytest
writes parameters: `evals/answer-9f0cf3b39185.json::9f0cf3b39185[refunds]`. So `-k refunds`
selects by tag, `--lf` finds a failed case again, and JUnit names it. Each item also carries the
marker `casebank` (`-m casebank`, `-m "not casebank"`) and its tags as keywords.

A case that does not pass fails its item with the grader's reason: the failure shows the case,
the grader, expected and actual output, and, when the entry point raised, the entry point's own
traceback - never casebank's. It is built as pytest's own "native" traceback representation (one
entry holding our text, the reason as the crash message), so that the short summary (`-ra`),
`--junitxml`'s `message` and pytest-xdist's transport between processes all carry the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from _pytest._code.code import ExceptionChainRepr, ExceptionInfo, ReprEntryNative, ReprFileLocation, ReprTraceback

from casebank.replay._case import Case
from casebank.replay._report import BODY, actual_text, trim, value_as_text
from casebank.replay._results import CaseResult

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

__all__ = ["CaseFailed", "CaseFile", "CaseItem", "Replayer", "item_name"]


class Replayer(Protocol):
    """What an item asks of the session that made it (`_session.CasebankSession`)."""

    def replay(self, case: Case) -> CaseResult: ...


class CaseFailed(Exception):
    """Raised by a case's item when the case did not pass; pytest shows `failure_repr`, not a traceback."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.reason)
        self.result = result


def item_name(case: Case) -> str:
    """`9f0cf3b39185[refunds-billing]`: the case id, its tags as pytest writes parameters."""
    return f"{case.id}[{'-'.join(case.tags)}]" if case.tags else case.id


class CaseFile(pytest.File):
    """A case file: the one item in it is its case."""

    def __init__(self, *, case: Case, runner: Replayer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.runner = runner

    def collect(self) -> Iterator[CaseItem]:
        name = item_name(self.case)
        # The id given as text, as pytest reads one back from its cache (`--lf`): pytest 9 parses
        # `[refunds]` as the parameters, where the name alone would be kept whole and not match.
        nodeid = f"{self.nodeid}::{name}"
        yield CaseItem.from_parent(self, name=name, nodeid=nodeid, case=self.case, runner=self.runner)


class CaseItem(pytest.Item):
    """One case, replayed against the current code and graded when pytest runs it."""

    def __init__(self, *, case: Case, runner: Replayer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.runner = runner
        self.result: CaseResult | None = None
        self.add_marker("casebank")
        self.extra_keyword_matches.update(case.tags)

    def runtest(self) -> None:
        self.result = self.runner.replay(self.case)
        if not self.result.passed:
            raise CaseFailed(self.result)

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CaseFailed):
            return failure_repr(excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"casebank case {self.case.id}"


def failure_repr(result: CaseResult) -> ExceptionChainRepr:
    """The reason first, then what a reader needs to judge it: grader, expected, actual, the target's traceback."""
    lines = [
        f"case {result.case_id} did not pass: {result.reason}",
        f"case file: {result.case_file}",
        f"grader:    {result.grader}",
        f"expected:  {trim(value_as_text(result.expected), BODY)}",
        f"actual:    {trim(actual_text(result), BODY)}",
    ]
    if result.traceback:
        lines += ["", result.traceback.rstrip()]
    entry = ReprEntryNative(lines=[line + "\n" for line in lines])
    crash = ReprFileLocation(path=result.case_file, lineno=1, message=result.reason)
    return ExceptionChainRepr([(ReprTraceback(reprentries=[entry], extraline=None, style="native"), crash, None)])
