"""Incidents in a PostgreSQL store: flagging a trace (a snapshot of it), and an incident's life after.

As in SQLite, an incident keeps its own copy of the trace's spans, input and output, so that it
outlives the pruning of its trace, and every change is one transaction whose commit waits for
the disk. Two processes flagging one trace at once both succeed: the insert of a new incident
falls back to appending its reason when the other got there first (`ON CONFLICT`), so no reason
is lost and no one sees a unique-key error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.rows import dict_row

from casebank.errors import IncidentNotFound, InvalidInput, TraceNotFound
from casebank.store._postgres._base import Conn, Connected, dumps, jsonb
from casebank.store._postgres._traces import TraceReads, spans_of
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

__all__ = ["INCIDENT_COLUMNS", "Incidents", "flag_in", "incident_from"]

INCIDENT_COLUMNS = (
    "id, trace_id, status, reasons, flagged_at, updated_at, entrypoint, input, output, error, snapshot, "
    "expected, grader, tags, dismissed_reason, case_id, case_path"
)
_SELECT = f"SELECT {INCIDENT_COLUMNS}, expected IS NOT NULL AS has_expected FROM incidents"
_APPEND_REASON = "UPDATE incidents SET reasons = reasons || %s::jsonb, updated_at = %s WHERE id = %s"


def flag_in(conn: Conn, trace_id: str, entry: dict[str, Any], location: str) -> str:
    """Flag `trace_id` inside the caller's transaction on `conn`: add `entry` (a reason) to its
    incident, or snapshot the trace into a new one. Returns the incident id."""
    incident_id = incident_id_for(trace_id)
    added = conn.execute(_APPEND_REASON, (dumps([entry]), entry["flagged_at"], incident_id))
    if added.rowcount:
        return incident_id
    spans = spans_of(conn, trace_id)
    trace = conn.execute(
        "SELECT entrypoint, input, output, error FROM traces WHERE trace_id = %s", (trace_id,)
    ).fetchone()
    if not spans and trace is None:
        raise TraceNotFound(
            f"no trace '{trace_id}' in store '{location}' - check the id (32 hex characters from "
            "casebank.current_trace_id()) and that the app's casebank.init() writes to this store"
        )
    root = root_span(spans)
    entrypoint, input_, output, error = trace if trace is not None else (None, None, None, None)
    conn.execute(
        "INSERT INTO incidents (id, trace_id, status, reasons, flagged_at, updated_at, entrypoint, "
        "input, output, error, snapshot, tags) VALUES (%s, %s, 'flagged', %s::jsonb, %s, %s, %s, %s::jsonb, "
        "%s::jsonb, %s, %s::jsonb, '[]') "
        "ON CONFLICT (id) DO UPDATE SET reasons = incidents.reasons || excluded.reasons, "
        "updated_at = excluded.updated_at",
        (
            incident_id,
            trace_id,
            dumps([entry]),
            entry["flagged_at"],
            entry["flagged_at"],
            entrypoint,
            None if trace is None else jsonb(dumps(input_)),
            None if trace is None else jsonb(dumps(output)),
            error if trace is not None else (root or {}).get("status_message"),
            jsonb(dumps(spans)),
        ),
    )
    return incident_id


class Incidents(TraceReads, Connected):
    def flag(self, trace_id: str, reason: str, *, flagged_by: str | None = None) -> Incident:
        trace_id = trace_id.strip().lower()
        entry = reason_entry(reason, flagged_by)
        with self.transaction(durable=True) as conn:
            incident_id = flag_in(conn, trace_id, entry, self.location)
        return self.get_incident(incident_id)

    def get_incident(self, incident_id: str) -> Incident:
        row = self.row(f"{_SELECT} WHERE id = %s", (incident_id,))
        if row is None:
            raise IncidentNotFound(
                f"no incident '{incident_id}' in store '{self.location}' - see 'cases list --status all'"
            )
        return incident_from(row)

    def resolve_incident(self, prefix: str) -> Incident:
        ref = hex_prefix(prefix, "an incident id", "ids are hex, as 'cases list' shows them")
        for column in ("id", "trace_id"):
            row = self.one_by_prefix(
                "incidents",
                column,
                ref,
                noun="incident",
                select=f"{INCIDENT_COLUMNS}, expected IS NOT NULL AS has_expected",
            )
            if row is not None:
                return incident_from(row)
        raise IncidentNotFound(
            f"no incident matches '{ref}' in store '{self.location}' - see 'cases list --status all'"
        )

    def list_incidents(self, status: str = "all") -> list[Incident]:
        if status == "all":
            rows = self.rows(f"{_SELECT} ORDER BY flagged_at DESC, id")
        else:
            rows = self.rows(f"{_SELECT} WHERE status = %s ORDER BY flagged_at DESC, id", (status,))
        return [incident_from(row) for row in rows]

    def annotate(self, incident_id: str, *, expected: Any, grader: Mapping[str, Any], tags: Sequence[str]) -> Incident:
        with self.transaction(durable=True) as conn:
            check_can_annotate(self._locked(conn, incident_id))
            conn.execute(
                "UPDATE incidents SET expected = %s::jsonb, grader = %s::jsonb, tags = %s::jsonb, "
                "status = 'annotated', updated_at = %s WHERE id = %s",
                (jsonb(dumps(expected)), jsonb(dumps(dict(grader))), dumps(sorted(set(tags))), utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def dismiss(self, incident_id: str, reason: str) -> Incident:
        if not reason or not reason.strip():
            raise InvalidInput("a dismissal needs a reason - say why the incident is not worth a case")
        with self.transaction(durable=True) as conn:
            check_can_dismiss(self._locked(conn, incident_id))
            conn.execute(
                "UPDATE incidents SET status = 'dismissed', dismissed_reason = %s, updated_at = %s WHERE id = %s",
                (reason.strip(), utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def mark_promoted(self, incident_id: str, *, case_id: str, case_path: str) -> Incident:
        with self.transaction(durable=True) as conn:
            check_can_promote(self._locked(conn, incident_id))
            conn.execute(
                "UPDATE incidents SET status = 'promoted', case_id = %s, case_path = %s, updated_at = %s WHERE id = %s",
                (case_id, case_path, utc_now(), incident_id),
            )
        return self.get_incident(incident_id)

    def _locked(self, conn: Conn, incident_id: str) -> Incident:
        """The incident, its row locked until the transaction ends (as SQLite's BEGIN IMMEDIATE
        holds the file), so that a check and the change it allows see the same status."""
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(f"{_SELECT} WHERE id = %s FOR UPDATE", (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(
                f"no incident '{incident_id}' in store '{self.location}' - see 'cases list --status all'"
            )
        return incident_from(row)


def incident_from(row: Mapping[str, Any]) -> Incident:
    return Incident(
        id=row["id"],
        trace_id=row["trace_id"],
        status=row["status"],
        reasons=row["reasons"],
        flagged_at=row["flagged_at"],
        updated_at=row["updated_at"],
        entrypoint=row["entrypoint"],
        input=row["input"],
        output=row["output"],
        error=row["error"],
        spans=row["snapshot"],
        expected=row["expected"],
        has_expected=bool(row["has_expected"]),
        grader=row["grader"],
        tags=row["tags"] or [],
        dismissed_reason=row["dismissed_reason"],
        case_id=row["case_id"],
        case_path=row["case_path"],
    )
