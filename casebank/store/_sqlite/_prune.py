"""Retention in a SQLite store: deleting old traces that no incident needs (`cases prune`).

An incident keeps its own snapshot of its trace, but its trace stays too, so that `cases show`
and labels can still reach it: only traces no incident references go. Old traces are found by
`idx_traces_start_ns`, their spans by `(trace_key, span_id)` and their attribute rows by
`idx_trace_attributes_trace_id`, so a prune costs what it deletes, not the size of the store.
"""

from __future__ import annotations

from casebank.store._checks import cutoff_ns
from casebank.store._sqlite._base import Connected

__all__ = ["Prune"]

_DOOMED = (
    "CREATE TEMP TABLE doomed AS SELECT trace_key, trace_id FROM traces "
    "WHERE start_ns < ? AND trace_id NOT IN (SELECT trace_id FROM incidents)"
)


class Prune(Connected):
    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        cutoff = cutoff_ns(older_than)
        with self.transaction() as conn:
            conn.execute("DROP TABLE IF EXISTS temp.doomed")
            conn.execute(_DOOMED, (cutoff,))
            try:
                traces = conn.execute("SELECT count(*) FROM doomed").fetchone()[0]
                if dry_run:
                    spans = conn.execute(
                        "SELECT count(*) FROM spans WHERE trace_key IN (SELECT trace_key FROM doomed)"
                    ).fetchone()[0]
                else:
                    spans = conn.execute("DELETE FROM spans WHERE trace_key IN (SELECT trace_key FROM doomed)").rowcount
                    conn.execute("DELETE FROM trace_attributes WHERE trace_id IN (SELECT trace_id FROM doomed)")
                    conn.execute("DELETE FROM traces WHERE trace_key IN (SELECT trace_key FROM doomed)")
            finally:
                conn.execute("DROP TABLE temp.doomed")
        return {"traces": traces, "spans": spans}
