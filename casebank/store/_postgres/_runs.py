"""Runs in a PostgreSQL store: a run's row and its results, recorded in one transaction, read back
in suite order (`seq`, as SQLite's rowid: results go in as the run listed them) or by case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casebank.errors import InvalidInput, NotFound
from casebank.store._postgres._base import Conn, Connected, dumps, jsonb
from casebank.store._records import hex_prefix

__all__ = ["RESULT_COLUMNS", "RUN_COLUMNS", "Runs", "insert_run"]

# The SQLite store's columns, in its order: what a run and a result read back as.
RUN_COLUMNS = (
    "id", "started_at", "finished_at", "suite", "suite_hash", "target", "concurrency", "total", "passed",
    "failed", "errored", "pass_rate", "epochs", "git_commit", "status", "retries", "origin",
    "baseline_id",
)  # fmt: skip
RESULT_COLUMNS = (
    "run_id", "case_id", "epoch", "case_file", "passed", "score", "reason", "output", "error", "latency_ms",
    "grader", "entrypoint", "expected", "tags", "traceback", "retries", "timed_out", "unreliable",
)  # fmt: skip
# Result columns that hold a JSON value (NULL for None, as in SQLite).
_JSON_RESULT_COLUMNS = ("output", "expected", "tags")
_INTEGERS = {"concurrency", "total", "passed", "failed", "errored", "epochs", "retries", "epoch", "timed_out"}
_RUNS = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"


class Runs(Connected):
    def record_run(self, run: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
        _check("runs", RUN_COLUMNS, run)
        for result in results:
            _check("results", RESULT_COLUMNS, result)
        with self.transaction() as conn:
            insert_run(conn, run, results)

    def list_runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        return self.rows(f"{_RUNS} ORDER BY started_at DESC NULLS LAST, id DESC LIMIT %s", (limit,))

    def run_results(self, run_id: str, *, suite_order: bool = False) -> list[dict[str, Any]]:
        order = "seq" if suite_order else "case_id, epoch"
        return self.rows(
            f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE run_id = %s ORDER BY {order}", (run_id,)
        )

    def resolve_run(self, ref: str) -> dict[str, Any]:
        if ref.strip().lower() == "latest":
            row = self.row(f"{_RUNS} ORDER BY started_at DESC NULLS LAST, seq DESC LIMIT 1")
            if row is None:
                raise NotFound(f"no runs in store '{self.location}' yet - record one with 'cases run'")
            return row
        prefix = hex_prefix(ref, "a run id", "pass 'latest' or an id as 'cases runs' shows it")
        found = self.one_by_prefix("runs", "id", prefix, noun="run", select=", ".join(RUN_COLUMNS))
        if found is None:
            raise NotFound(f"no run matches '{prefix}' in store '{self.location}' - see 'cases runs'")
        return found


def insert_run(conn: Conn, run: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
    """Insert a run and its results (fields checked by the caller) in the caller's transaction."""
    _insert(conn, "runs", run)
    for result in results:
        _insert(conn, "results", {c: _encoded(c, v) for c, v in result.items()})


def _check(table: str, known: Sequence[str], row: Mapping[str, Any]) -> None:
    # Names go into the SQL text, so they must be the table's own; and a field the table lacks is
    # the caller's mistake (InvalidInput), not the store's.
    for column in row:
        if column not in known:
            raise InvalidInput(f"{table} has no column {column!r} - pass the fields a run report has")


def _encoded(column: str, value: Any) -> Any:
    if column in _JSON_RESULT_COLUMNS:
        return None if value is None else jsonb(dumps(value))
    return value


def _insert(conn: Conn, table: str, row: Mapping[str, Any]) -> None:
    columns = list(row)
    placeholders = ", ".join("%s::jsonb" if table == "results" and c in _JSON_RESULT_COLUMNS else "%s" for c in columns)
    # SQLite keeps a bool as 0/1 in an INTEGER column; PostgreSQL wants the integer.
    values = [int(row[c]) if c in _INTEGERS and isinstance(row[c], bool) else row[c] for c in columns]
    conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})".encode(), values)
