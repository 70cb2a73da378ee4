"""Flags ahead of their trace in a PostgreSQL store: `flag_or_hold`, and attaching what was held
when the trace's root span arrives.

A support tool may flag a trace before the exporter has delivered it. The flag is then held in
`pending_flags` (by trace id, or by the attributes of `where` as text), and the write that brings
a matching trace's root (or, later, the attributes it names) flags it in that write's
transaction, with the time it was held. Both sides may run in different processes (two `cases
serve` on one database), so they serialise on one transaction-scoped advisory lock:
`flag_or_hold` takes it exclusively, and a write that brings roots or attributes takes it shared
after its rows are in and before it looks for held flags, holding it until it commits (writes do
not wait for each other, and a flag waits only for the commits in flight, not for whole batches).
Each statement after the lock sees what committed before it, so a flag either sees the root
committed and flags at once, or is committed as held before the write looks - never neither.
A held flag is attached once: the write locks the held rows it reads and attaches only those its
own delete removed, so a second writer finds them gone. One lock rather than one a trace,
because a flag held by attributes names no trace id. The writer's cost when nothing is held:
the shared lock and one `EXISTS` on an empty table a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from casebank.store._attributes import SHOWN, the_one_trace
from casebank.store._checks import full_trace_id, held_where, one_target
from casebank.store._postgres._base import Conn, Connected
from casebank.store._postgres._incidents import Incidents, flag_in
from casebank.store._postgres._where import traces_where
from casebank.store._records import Incident, reason_entry

__all__ = ["HeldFlags", "attach_held", "lock_for_candidates"]

PENDING_LOCK = 0x636173656261_6E02  # "casebank" + 2: see the module's docstring
# Traces among the batch's candidates whose root has arrived.
_ARRIVED = "SELECT trace_id FROM traces WHERE trace_id = ANY(%s) AND name IS NOT NULL"


def lock_for_candidates(conn: Conn) -> None:
    """Called by a write that may take held flags once its rows are in, before it looks for held
    flags: waits for a flag being held to commit, and makes a flag wait for this write's commit."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PENDING_LOCK,))


def attach_held(conn: Conn, candidates: Sequence[str], location: str) -> None:
    """Flag, in the write's transaction on `conn`, the traces among `candidates` (the batch's
    traces that brought a root or attributes) whose root has arrived and for which a flag is held;
    each held flag attaches once, to the newest trace it matches."""
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM pending_flags)").fetchone()[0]:  # type: ignore[index]
        return
    batch = list(candidates)
    held = conn.execute(
        "SELECT id, trace_id, where_attributes, reason, flagged_by, held_at FROM pending_flags "
        f"WHERE where_attributes IS NOT NULL OR trace_id IN ({_ARRIVED}) ORDER BY held_at, id FOR UPDATE",
        (batch,),
    ).fetchall()
    for flag_id, trace_id, where, reason, flagged_by, held_at in held:
        target = trace_id or _newest_match(conn, batch, where)
        if target is None:
            continue
        # Attach only what this transaction deleted: a flag another write took meanwhile is gone.
        if conn.execute("DELETE FROM pending_flags WHERE id = %s", (flag_id,)).rowcount:
            flag_in(conn, target, reason_entry(reason, flagged_by, held_at), location)


def _newest_match(conn: Conn, batch: list[str], where: Mapping[str, str]) -> str | None:
    """The newest trace of the batch whose root arrived and that carries every attribute of
    `where` (compared as text, as `traces_where` does)."""
    matches = " AND ".join(
        "trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = %s AND value = %s)" for _ in where
    )
    params = [part for pair in where.items() for part in pair]
    row = conn.execute(
        f"{_ARRIVED} AND {matches} ORDER BY start_ns DESC NULLS LAST, trace_id LIMIT 1".encode(), (batch, *params)
    ).fetchone()
    return None if row is None else str(row[0])


class HeldFlags(Incidents, Connected):
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
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PENDING_LOCK,))
            if held_id is not None:
                target: str | None = held_id
            else:
                assert where is not None
                found = traces_where(conn, where, SHOWN + 1)
                if len(found) > 1:
                    the_one_trace(found, where, self.location)  # raises AmbiguousId, listing them
                target = found[0] if found else None
            if target is None or not _root_arrived(conn, target):
                conn.execute(
                    "INSERT INTO pending_flags (trace_id, where_attributes, reason, flagged_by, held_at) "
                    "VALUES (%s, %s::jsonb, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (held_id, held_attributes, entry["reason"], flagged_by, entry["flagged_at"]),
                )
                return None
            incident_id = flag_in(conn, target, entry, self.location)
        return self.get_incident(incident_id)

    def pending_flags(self) -> list[dict[str, Any]]:
        return self.rows(
            'SELECT trace_id, where_attributes AS "where", reason, flagged_by, held_at FROM pending_flags '
            "ORDER BY held_at, id"
        )


def _root_arrived(conn: Conn, trace_id: str) -> bool:
    found = conn.execute("SELECT name IS NOT NULL FROM traces WHERE trace_id = %s", (trace_id,)).fetchone()
    return bool(found and found[0])
