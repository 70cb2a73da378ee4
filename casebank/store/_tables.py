"""The tables every casebank store has, whichever backend: what `check_integrity` looks for."""

from __future__ import annotations

__all__ = ["STORE_TABLES", "schema_problem"]

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


def schema_problem(where: str, version: int, newest: int) -> str | None:
    """What `cases verify` says of a store at schema `version` when this casebank's is `newest`."""
    if version > newest:
        return f"{where} has schema {version}, newer than this casebank's {newest} - upgrade casebank"
    if version < newest:
        return (
            f"{where} has schema {version}, older than this casebank's {newest} - any other cases command migrates it"
        )
    return None
