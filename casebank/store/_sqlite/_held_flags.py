"""Flags ahead of their trace in a SQLite store: `flag_or_hold`, and attaching held flags when the
trace's root span is written.

A support tool may flag a trace before the product's exporter has delivered it. Such a flag is
kept in `held_flags` (by trace id, or by the attributes of `where` as text), and the write that
brings a matching trace's root attaches it, in that write's transaction, through the same code as
`flag()`, with the time it was held. SQLite has one writer at a time (BEGIN IMMEDIATE), so a hold
and a write of its trace in another process are serialised: one of them sees the other's rows, and
a held flag is neither missed nor attached twice.

The writer's cost when nothing is held is one `EXISTS` query on an empty table a batch, and none
for a batch that brings no root and no attributes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.store._attributes import SHOWN, the_one_trace
from casebank.store._checks import full_trace_id, held_where, one_target
from casebank.store._records import Incident, reason_entry
from casebank.store._sqlite._base import dumps, loads
from casebank.store._sqlite._incidents import Incidents
from casebank.store._sqlite._where import traces_where

__all__ = ["HeldFlags"]

# Traces of the batch (a JSON array, one bound parameter however many) whose root has arrived.
_ARRIVED = "SELECT trace_id FROM traces WHERE trace_id IN (SELECT value FROM json_each(?)) AND name IS NOT NULL"


class HeldFlags(Incidents):
    def flag_or_hold(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> Incident | None:
        entry = reason_entry(reason, flagged_by)
        one_target(trace_id, where)
        held_id = None if trace_id is None else full_trace_id(trace_id)
        held_attributes = None if where is None else held_where(where)
        with self.transaction(durable=True) as conn:
            if held_id is not None:
                target: str | None = held_id
            else:
                assert where is not None
                found = traces_where(conn, where, SHOWN + 1)
                if len(found) > 1:
                    the_one_trace(found, where, self.location)  # raises AmbiguousId, listing them
                target = found[0] if found else None
            if target is not None and _root_arrived(conn, target):
                incident_id = self.flag_in(conn, target, entry)
            else:
                conn.execute(
                    "INSERT OR IGNORE INTO held_flags (trace_id, where_attributes, reason, flagged_by, held_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (held_id, held_attributes, entry["reason"], flagged_by, entry["flagged_at"]),
                )
                return None
        return self.get_incident(incident_id)

    def pending_flags(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT trace_id, where_attributes, reason, flagged_by, held_at FROM held_flags ORDER BY held_at, id"
        )
        return [
            {
                "trace_id": row["trace_id"],
                "where": loads(row["where_attributes"]),
                "reason": row["reason"],
                "flagged_by": row["flagged_by"],
                "held_at": row["held_at"],
            }
            for row in rows
        ]

    def attach_held_flags(self, conn: sqlite3.Connection, candidates: Sequence[str]) -> None:
        """Flag, inside the write's transaction open on `conn`, the traces among `candidates` (the
        batch's traces that brought a root or attributes) whose root has arrived and for which a
        flag is held; each held flag attaches once, to the newest trace it matches."""
        if not candidates or not conn.execute("SELECT EXISTS (SELECT 1 FROM held_flags)").fetchone()[0]:
            return
        batch = dumps(list(candidates))
        held = conn.execute(
            f"SELECT id, trace_id, where_attributes, reason, flagged_by, held_at FROM held_flags "
            f"WHERE where_attributes IS NOT NULL OR trace_id IN ({_ARRIVED}) ORDER BY held_at, id",
            (batch,),
        ).fetchall()
        for row in held:
            target = row["trace_id"] or _newest_match(conn, batch, orjson.loads(row["where_attributes"]))
            if target is None:
                continue
            self.flag_in(
                conn, target, {"reason": row["reason"], "flagged_by": row["flagged_by"], "flagged_at": row["held_at"]}
            )
            conn.execute("DELETE FROM held_flags WHERE id = ?", (row["id"],))


def _root_arrived(conn: sqlite3.Connection, trace_id: str) -> bool:
    row = conn.execute("SELECT name IS NOT NULL FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
    return bool(row and row[0])


def _newest_match(conn: sqlite3.Connection, batch: str, where: dict[str, str]) -> str | None:
    """The newest trace of the batch (JSON array of ids) whose root arrived and that carries every
    attribute of `where` (compared as text, as `traces_where` does)."""
    matches = " AND ".join(
        "trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = ? AND value = ?)" for _ in where
    )
    params = [part for pair in where.items() for part in pair]
    row = conn.execute(
        f"{_ARRIVED} AND {matches} ORDER BY start_ns DESC, trace_id LIMIT 1",
        (batch, *params),
    ).fetchone()
    return None if row is None else str(row[0])
