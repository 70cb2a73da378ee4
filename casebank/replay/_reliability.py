"""Which verdicts nobody has checked: results graded by a judge without a good calibration.

A result graded by an `llm_judge` (alone, or inside `all`/`any` at any depth) is marked
`unreliable` when that judge configuration has no calibration in the store, or one whose kappa
is below `RELIABLE_KAPPA` (0.6). Its verdict still counts; the report marks it (†) and says why,
with the command that fixes it. A calibration of a whole composite spec (calibrated as one)
decides for it; otherwise each judge inside must be calibrated on its own.

Results that were not graded (the target raised or timed out) are left alone, and the store is
asked once per distinct grader spec and suite folder, not once per result.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from casebank.replay._calibrate import RELIABLE_KAPPA, calibration_status
from casebank.replay._case import Case
from casebank.replay._results import CaseResult
from casebank.store import Store

__all__ = ["mark_unreliable"]


def mark_unreliable(store: Store, graded: Iterable[tuple[Case, CaseResult]]) -> None:
    """Set `unreliable` on each graded result of an uncalibrated or poorly calibrated judge."""
    reasons: dict[tuple[bytes, str], str | None] = {}
    for case, result in graded:
        if result.error is not None or result.timed_out:
            continue
        base_dir = case.path.parent if case.path is not None else None
        key = (orjson.dumps(case.grader, option=orjson.OPT_SORT_KEYS), str(base_dir))
        if key not in reasons:
            reasons[key] = _unreliable_reason(store, dict(case.grader), base_dir)
        result.unreliable = reasons[key]


def _judge_specs(spec: object) -> list[dict[str, Any]]:
    """The llm_judge specs in a grader spec: itself, or any inside all/any (at any depth)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        return []
    if spec.get("name") == "llm_judge":
        return [spec]
    children = (spec.get("options") or {}).get("graders") if spec.get("name") in ("all", "any") else None
    return [judge for child in children for judge in _judge_specs(child)] if isinstance(children, list) else []


def _unreliable_reason(store: Store, spec: dict[str, Any], base_dir: Path | None) -> str | None:
    judges = _judge_specs(spec)
    if not judges:
        return None
    # A calibration of the whole spec (a composite calibrated as one) decides; else each judge in it must pass.
    kappa = calibration_status(store, spec, base_dir=base_dir)
    kappas = [kappa] if kappa is not None or judges == [spec] else []
    if not kappas:
        kappas = [calibration_status(store, judge, base_dir=base_dir) for judge in judges]
    for value in kappas:
        if value is None:
            suite = f" --suite {base_dir}" if base_dir is not None else ""
            return (
                "judge not calibrated - run 'cases judge calibrate --grader-file FILE"
                f"{suite}' with its grader spec in FILE"
            )
        if value < RELIABLE_KAPPA:
            return f"judge kappa {value:.2f} < {RELIABLE_KAPPA} - improve the rubric or model and calibrate again"
    return None
