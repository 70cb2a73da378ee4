"""The tables every casebank store has, whichever backend: what `check_integrity` looks for."""

from __future__ import annotations

__all__ = ["STORE_TABLES"]

STORE_TABLES = (
    "casebank_meta",
    "counters",
    "traces",
    "spans",
    "trace_attributes",
    "incidents",
    "runs",
    "results",
    "labels",
    "calibrations",
    "embedding_cache",
    "judge_verdicts",
    "tokens",
)
