"""What a run produced: each case's result (`CaseResult`) and the run as a whole (`RunReport`).

These are plain values: this module runs, stores and prints nothing, so the runner, the stored
runs (`_records`), the comparison and every report format share them without importing each
other.

Decisions a reader would otherwise have to reconstruct:

- **A case, not a case-epoch, is what is counted.** With `--epochs K` a case has K results; it
  passed when it passed every epoch; one that did not failed if any epoch was graded wrong or
  timed out, else it errored (the target raised). `pass_rate` and the CI gate (`ok`) use these.
- **One shape on every side.** `row()` is the `runs`/`results` row as the store keeps it (JSON
  values as JSON text); `from_dict` reads the fields back by name, from a stored row with its JSON
  columns decoded or from the file `cases run --json` writes, so a run from another machine (a CI
  shard) is the same value as one read from the store. Missing optional fields take defaults, so
  a file written by an older casebank still reads.
- **An output is JSON-compatible** (the runner normalises it as capture records it), so a result
  can be stored, compared with `expected` and written to a file without a second serializer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from casebank.replay._stats import CaseOutcome, Summary, mcnemar_exact, outcomes, summarize

__all__ = ["NOT_CALLED", "SIGNIFICANCE", "CaseResult", "Comparison", "JSONValue", "RunReport"]

# The McNemar p-value below which a drop against a baseline is significant (`--fail-on significant`).
SIGNIFICANCE = 0.05

# How the error of a case whose target was never called begins: an argument could not be rebuilt
# as its type (`_rebuild`). It is kept in `error`, as a raise is, so that it counts as errored in
# every report and in stored runs alike.
NOT_CALLED = "could not rebuild argument"

# What an output becomes (`jsonable`) and a run file holds: JSON's own values, nested.
JSONValue: TypeAlias = "None | bool | int | float | str | list[JSONValue] | dict[str, JSONValue]"


@dataclass(kw_only=True)
class CaseResult:
    """One case's replay: what the target returned (or raised) and the grader's verdict."""

    case_id: str
    case_file: str
    entrypoint: str  # what was called: the case's entry point, or --target
    grader: str
    expected: Any
    output: Any  # JSON-compatible; None when the target raised
    passed: bool
    score: float | None = None
    reason: str = ""
    error: str | None = None  # "ValueError: message" when the target raised
    traceback: str | None = None
    latency_ms: float = 0.0
    tags: list[str] = field(default_factory=list)
    epoch: int = 0
    retries: int = 0  # attempts beyond the first, after transient errors
    timed_out: bool = False
    unreliable: str | None = None  # why the verdict should not be trusted: an uncalibrated judge
    # @casebank.tool calls: answered from the case's fixtures, run live, and the recorded calls a
    # frozen replay never made. In the reports; not in the store's results table.
    tools_frozen: int = 0
    tools_live: int = 0
    unused_fixtures: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """passed, failed (graded wrong) or errored (the target raised)."""
        if self.error is not None:
            return "errored"
        return "passed" if self.passed else "failed"

    @property
    def target_raised(self) -> bool:
        """Errored because the target raised, not because it could not be called."""
        return self.error is not None and not self.error.startswith(NOT_CALLED)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseResult:
        """A result from its fields by name (`report_dict`'s, or a `results` row with its JSON columns decoded).

        Missing optional fields take their defaults; raises KeyError, TypeError or ValueError on a bad one."""
        return cls(
            case_id=str(data["case_id"]),
            case_file=str(data.get("case_file") or ""),
            entrypoint=str(data.get("entrypoint") or ""),
            grader=str(data.get("grader") or ""),
            expected=data.get("expected"),
            output=data.get("output"),
            passed=bool(data["passed"]),
            score=data.get("score"),
            reason=str(data.get("reason") or ""),
            error=data.get("error"),
            traceback=data.get("traceback"),
            latency_ms=float(data.get("latency_ms") or 0.0),
            tags=list(data.get("tags") or []),
            epoch=int(data.get("epoch") or 0),
            retries=int(data.get("retries") or 0),
            timed_out=bool(data.get("timed_out")),
            unreliable=data.get("unreliable"),
            tools_frozen=int(data.get("tools_frozen") or 0),
            tools_live=int(data.get("tools_live") or 0),
            unused_fixtures=[str(call) for call in data.get("unused_fixtures") or []],
        )

    def row(self, run_id: str) -> dict[str, Any]:
        """The `results` row (output None when the target raised)."""
        return {
            "run_id": run_id,
            "case_id": self.case_id,
            "epoch": self.epoch,
            "case_file": self.case_file,
            "passed": int(self.passed),
            "score": self.score,
            "reason": self.reason,
            "output": None if self.error is not None else self.output,
            "error": self.error,
            "latency_ms": self.latency_ms,
            "grader": self.grader,
            "entrypoint": self.entrypoint,
            "expected": self.expected,
            "tags": self.tags,
            "traceback": self.traceback,
            "retries": self.retries,
            "timed_out": int(self.timed_out),
            "unreliable": self.unreliable,
        }


@dataclass(kw_only=True)
class RunReport:
    """A run: where it came from and every case's result (each epoch), in suite order.

    Counts are over cases, not case-epochs: a case passed when it passed every epoch; one that did
    not failed if any epoch was graded wrong or timed out, else it errored (the target raised).
    """

    id: str
    started_at: str
    finished_at: str
    suite: str
    suite_hash: str
    target: str | None
    concurrency: int
    results: list[CaseResult]
    epochs: int = 1
    git_commit: str | None = None
    status: str = "finished"  # or "interrupted": Ctrl-C stopped it; results hold what finished
    origin: str | None = None  # what ran it: "cli" (`cases run`), "pytest", "api" (a Python call); None: older
    # The id of the run it was compared with (`--baseline`), so that its page shows the same
    # regressions later; None: run without one, or recorded before it was kept.
    baseline_id: str | None = None
    # Against the baseline `run_suite(baseline=...)` was given; not stored (a baseline is named when read).
    comparison: Comparison | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunReport:
        """A run from its fields by name, `results` a list of `CaseResult.from_dict` inputs.

        Missing optional fields take their defaults; raises KeyError, TypeError, ValueError or
        AttributeError on a bad one."""
        return cls(
            id=str(data["id"]),
            started_at=str(data.get("started_at") or ""),
            finished_at=str(data.get("finished_at") or ""),
            suite=str(data.get("suite") or ""),
            suite_hash=str(data.get("suite_hash") or ""),
            target=data.get("target"),
            concurrency=int(data.get("concurrency") or 0),
            results=[CaseResult.from_dict(result) for result in data["results"]],
            epochs=int(data.get("epochs") or 1),
            git_commit=data.get("git_commit"),
            status=str(data.get("status") or "finished"),
            origin=data.get("origin"),
            baseline_id=data.get("baseline_id"),
        )

    @property
    def stats(self) -> Summary:
        """What the report prints under the table: the pass rate's 95% interval, flaky cases, each tag, power."""
        return summarize(self.cases(), epochs=self.epochs)

    def cases(self) -> list[CaseOutcome]:
        return outcomes(self.results)

    def _case_statuses(self) -> list[str]:
        by_case: dict[str, list[str]] = {}
        for result in self.results:
            by_case.setdefault(result.case_id, []).append(result.status)
        return [
            "passed" if all(s == "passed" for s in statuses) else "failed" if "failed" in statuses else "errored"
            for statuses in by_case.values()
        ]

    @property
    def total(self) -> int:
        return len({r.case_id for r in self.results})

    @property
    def passed(self) -> int:
        return self._case_statuses().count("passed")

    @property
    def failed(self) -> int:
        return self._case_statuses().count("failed")

    @property
    def errored(self) -> int:
        return self._case_statuses().count("errored")

    @property
    def retries(self) -> int:
        return sum(r.retries for r in self.results)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        """Every case passed every epoch, and the run was not cut short: the plain CI gate."""
        return self.passed == self.total and self.status == "finished"

    def not_passed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def row(self) -> dict[str, Any]:
        """The `runs` row."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "suite": self.suite,
            "suite_hash": self.suite_hash,
            "target": self.target,
            "concurrency": self.concurrency,
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "pass_rate": self.pass_rate,
            "epochs": self.epochs,
            "git_commit": self.git_commit,
            "status": self.status,
            "retries": self.retries,
            "origin": self.origin,
            "baseline_id": self.baseline_id,
        }


@dataclass(kw_only=True)
class Comparison:
    """A run case by case against its baseline (`_compare.compare` makes it)."""

    baseline: RunReport
    current: RunReport
    regressions: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)  # flaky in the baseline, not passing now
    new_cases: list[tuple[str, str]] = field(default_factory=list)  # (case id, outcome now)
    removed_cases: list[str] = field(default_factory=list)
    unchanged: int = 0  # passed in both

    @property
    def p_value(self) -> float:
        return mcnemar_exact(len(self.regressions), len(self.fixes))

    @property
    def significant(self) -> bool:
        """More regressions than fixes, and more than chance would give."""
        return len(self.regressions) > len(self.fixes) and self.p_value < SIGNIFICANCE
