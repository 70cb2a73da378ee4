"""Grading the outputs of a run: on the loop, in a pool of threads, or in one batch after the run.

Grading happens off the event loop, in a pool of as many threads as the run's concurrency: a
judge is an HTTP call of seconds, and graded on the loop it would stall every case in flight and
queue a run's judge calls one behind the other, whatever the concurrency. A grader that only
compares values (its class says `instant`: exact, regex, json_fields, ...) stays on the loop,
cheaper than the hop. The graders' shared state is locked for this (the store's caches, the
judge's clients).

A grader class with `grade_batch` (the embedding grader) is not called case by case: its cases'
outputs are collected and graded in one batch per grader class after the last case has run, so
hundreds of texts go to the model in a few calls. A case that raised or timed out has no output
and is not graded at all. A grader that crashes is that case's failure, never the run's
(`grade_safely`); a batch that crashes is graded again one by one, where a crash is one case's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from casebank.replay._redaction import Redact
from casebank.replay._results import CaseResult
from casebank.replay.graders import Grader, Replay, Verdict, batches, grade_batch_safely, grade_safely

__all__ = ["Grading", "grade_batches"]

_PENDING = Verdict(passed=False, reason="not graded yet: waiting for the batch")


@dataclass(kw_only=True, frozen=True)
class Grading:
    """How one case is graded: its grader, its expected output, and where the grade runs."""

    grader: Grader
    expected: Any
    batched: bool  # graded after the run with its class's grade_batch, not case by case
    # Graded on the loop's thread (Grader.instant): the hop to a thread and back costs more than
    # such a grade. 10,000 instant async cases at concurrency 50 took 1.02 s with every grade in
    # the pool against 0.35 s inline, and the harness's CPU per case went from 35 to 109 us.
    inline: bool
    reads_replay: bool = False  # a span grader (or a composite holding one): it is given the replay's spans

    @classmethod
    def of(cls, grader: Grader, expected: Any) -> Grading:
        return cls(
            grader=grader,
            expected=expected,
            batched=batches(grader),
            inline=grader.grades_instantly(),
            reads_replay=grader.reads_replay(),
        )

    async def grade(
        self, output: Any, pool: ThreadPoolExecutor, replay: Replay | None = None, quote: Redact | None = None
    ) -> Verdict:
        """The case's verdict; a placeholder for a batched grader (`grade_batches` fills it in after the run).

        `output` is the raw output; `quote` redacts what the reason quotes of it (`grade_safely`)."""
        if self.batched:
            return _PENDING
        if self.inline:
            return grade_safely(self.grader, output, self.expected, replay, quote)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, grade_safely, self.grader, output, self.expected, replay, quote)

    def awaits_batch(self, result: CaseResult) -> bool:
        """Whether `result` waits for `grade_batches`: a batched grader's, with an output to grade."""
        return self.batched and result.error is None and not result.timed_out


def grade_batches(
    done: Sequence[tuple[Grading, CaseResult, Any]],
    on_result: Callable[[CaseResult], None] | None,
    redact: Redact,
) -> None:
    """Grade the results of batched graders, one `grade_batch` call per grader class, in place.

    Each item is (grading, result, raw output): the result holds its output redacted, the grade
    is of the raw one, and the reason is redacted as `Plan.result` redacts one (`redact`)."""
    groups: dict[type[Grader], list[tuple[Grading, CaseResult, Any]]] = {}
    for grading, result, output in done:
        if grading.awaits_batch(result):
            groups.setdefault(type(grading.grader), []).append((grading, result, output))
    for kind, triples in groups.items():
        items = [(grading.grader, output, grading.expected) for grading, _, output in triples]
        verdicts = grade_batch_safely(kind, items, redact)
        if verdicts is None:  # a bug in the batch path: grade one by one, where a crash is that case's alone
            verdicts = [grade_safely(grader, output, expected, quote=redact) for grader, output, expected in items]
        for (_, result, _), verdict in zip(triples, verdicts, strict=True):
            result.passed, result.score, result.reason = verdict.passed, verdict.score, redact(verdict.reason)
            if on_result is not None:
                on_result(result)
