"""Incidents in a SQLite store: flagging a trace (a snapshot of it), and an incident's life after.

An incident keeps its own copy of the trace's spans, input and output, so that it outlives the
pruning of its trace. Every change to an incident is one durable transaction (synchronous=FULL):
a person acted on it, and a support tool that got an id back must find it after a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import IncidentNotFound, InvalidInput, TraceNotFound
from casebank.store._records import (
    Incident,
    check_can_annotate,
    check_can_dismiss,
    check_can_promote,
    hex_prefix,
    incident_id_for,
    reason_entry,
    root_span,
    utc_now,
)
from casebank.store._sqlite._base import Connected, dumps, loads
from casebank.store._sqlite._traces import TraceReads

__all__ = ["Incidents"]


class Incidents(TraceReads, Connected):
    def flag(self, trace_id: str, reason: str, *, flagged_by: str | None = None) -> Incident:
        trace_id = trace_id.strip().lower()
        entry = reason_entry(reason, flagged_by)
        with self.transaction(durable=True) as conn:
            incident_id = self.flag_in(conn, trace_id, entry)
        return self.get_incident(incident_id)

    def flag_in(self, conn: sqlite3.Connection, trace_id: str, entry: dict[str, Any]) -> str:
        """`flag`'s work inside a transaction that is open on `conn`: snapshot the trace into a new
        incident, or add `entry` to its incident's reasons. Returns the incident's id."""
        incident_id = incident_id_for(trace_id)
        row = conn.execute("SELECT reasons FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is not None:
            reasons = orjson.loads(row["reasons"]) + [entry]
            conn.execute(
                "UPDATE incidents SET reasons = ?, updated_at = ? WHERE id = ?",
                (dumps(reasons), entry["flagged_at"], incident_id),
            )
        else:
            self._snapshot(conn, incident_id, trace_id, entry)
        return incident_id

    def _snapshot(self, conn: sqlite3.Connection, incident_id: str, trace_id: str, entry: dict[str, Any]) -> None:
        spans = self.trace_spans(trace_id)
        trace = self.get_trace(trace_id)
        if not spans and trace is None:
            raise TraceNotFound(
                f"no trace '{trace_id}' in store '{self.location}' - check the id (32 hex characters from "
                "casebank.current_trace_id()) and that the app's casebank.init() writes to this store"
            )
        root = root_span(spans)
        conn.execute(
            "INSERT INTO incidents (id, trace_id, status, reasons, flagged_at, updated_at, entrypoint, "
            "input, output, error, snapshot, tags) VALUES (?, ?, 'flagged', ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
            (
                incident_id,
                trace_id,
                dumps([entry]),
                entry["flagged_at"],
                entry["flagged_at"],
                trace.entrypoint if trace else None,
                trace and dumps(trace.input),
                trace and dumps(trace.output),
                trace.error if trace else (root or {}).get("status_message"),
                dumps(spans),
            ),
        )

    def get_incident(self, incident_id: str) -> Incident:
        row = self.conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(
                f"no incident '{incident_id}' in store '{self.location}' - see 'cases list --status all'"
            )
        return _incident(row)

    def resolve_incident(self, prefix: str) -> Incident:
        ref = hex_prefix(prefix, "an incident id", "ids are hex, as 'cases list' shows them")
        for column in ("id", "trace_id"):
            row = self.one_by_prefix("incidents", column, ref, noun="incident")
            if row is not None:
                return _incident(row)
        raise IncidentNotFound(
            f"no incident matches '{ref}' in store '{self.location}' - see 'cases list --status all'"
        )

    def list_incidents(self, status: str = "all") -> list[Incident]:
        if status == "all":
            rows = self.conn.execute("SELECT * FROM incidents ORDER BY flagged_at DESC, id")
        else:
            rows = self.conn.execute("SELECT * FROM incidents WHERE status = ? ORDER BY flagged_at DESC, id", (status,))
        return [_incident(row) for row in rows]

    def annotate(self, incident_id: str, *, expected: Any, grader: Mapping[str, Any], tags: Sequence[str]) -> Incident:
        with self.transaction(durable=True) as conn:
            check_can_annotate(self.get_incident(incident_id))
            conn.execute(
                "UPDATE incidents SET expected = ?, grader = ?, tags = ?, status = 'annotated', updated_at = ? "
                "WHERE id = ?",
                (dumps(expected), dumps(dict(grader)), dumps(sorted(set(tags))), utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def dismiss(self, incident_id: str, reason: str) -> Incident:
        if not reason or not reason.strip():
            raise InvalidInput("a dismissal needs a reason - say why the incident is not worth a case")
        with self.transaction(durable=True) as conn:
            check_can_dismiss(self.get_incident(incident_id))
            conn.execute(
                "UPDATE incidents SET status = 'dismissed', dismissed_reason = ?, updated_at = ? WHERE id = ?",
                (reason.strip(), utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def mark_promoted(self, incident_id: str, *, case_id: str, case_path: str) -> Incident:
        with self.transaction(durable=True) as conn:
            check_can_promote(self.get_incident(incident_id))
            conn.execute(
                "UPDATE incidents SET status = 'promoted', case_id = ?, case_path = ?, updated_at = ? WHERE id = ?",
                (case_id, case_path, utc_now(), incident_id),
            )
        return self.get_incident(incident_id)


def _incident(row: sqlite3.Row) -> Incident:
    return Incident(
        id=row["id"],
        trace_id=row["trace_id"],
        status=row["status"],
        reasons=orjson.loads(row["reasons"]),
        flagged_at=row["flagged_at"],
        updated_at=row["updated_at"],
        entrypoint=row["entrypoint"],
        input=loads(row["input"]),
        output=loads(row["output"]),
        error=row["error"],
        spans=orjson.loads(row["snapshot"]),
        expected=loads(row["expected"]),
        has_expected=row["expected"] is not None,
        grader=loads(row["grader"]),
        tags=loads(row["tags"]) or [],
        dismissed_reason=row["dismissed_reason"],
        case_id=row["case_id"],
        case_path=row["case_path"],
    )
