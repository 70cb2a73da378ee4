"""Flags ahead of their trace in a PostgreSQL store: `flag_or_hold`, and attaching what was held
when the trace's root span arrives.

A support tool may flag a trace before the exporter has delivered it. The flag is then held in
`pending_flags`, and the write that brings the trace's root span flags it in the same
transaction. Both sides may run in different processes (two `cases serve` on one database), so
they serialise on one transaction-scoped advisory lock: `flag_or_hold` takes it exclusively,
and a write that brings root spans takes it shared (writes do not wait for each other, only for
a flag being held). So a flag either sees the root committed and flags at once, or is committed
as held before the write looks for held flags - never neither. A held flag is attached once:
attaching deletes its row, and a second writer's delete of the same row finds nothing. One lock
rather than one a trace, because a flag held by attributes (`where`) names no trace id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import InvalidInput
from casebank.store._attributes import SHOWN, attribute_text, checked_where, the_one_trace
from casebank.store._postgres._base import Conn, Connected, dumps
from casebank.store._postgres._incidents import Incidents, flag_in, reason_entry
from casebank.store._postgres._where import traces_where
from casebank.store._records import Incident, utc_now

__all__ = ["HeldFlags", "attach_held", "lock_for_roots"]

PENDING_LOCK = 0x636173656261_6E02  # "casebank" + 2: see the module's docstring
_HEX = set("0123456789abcdef")


def lock_for_roots(conn: Conn) -> None:
    """Called first in a write that brings root spans: wait for a flag being held to commit."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PENDING_LOCK,))


def attach_held(conn: Conn, roots: Sequence[str], location: str) -> None:
    """Flag, in the caller's transaction, each of `roots` (traces whose root span it wrote) that a
    held flag names, by id or by attributes; the held flags go."""
    attached = conn.execute(
        "DELETE FROM pending_flags WHERE trace_id = ANY(%s) RETURNING trace_id, reason, flagged_by, held_at, id",
        (list(roots),),
    ).fetchall()
    wanted = conn.execute(
        "SELECT id, where_attributes FROM pending_flags WHERE trace_id IS NULL ORDER BY id"
    ).fetchall()
    if wanted:
        attributes = dict(
            conn.execute("SELECT trace_id, attributes FROM traces WHERE trace_id = ANY(%s)", (list(roots),)).fetchall()
        )
        for flag_id, where in wanted:
            trace_id = next((t for t in roots if _carries(attributes.get(t), where)), None)
            if trace_id is None:
                continue
            taken = conn.execute(
                "DELETE FROM pending_flags WHERE id = %s RETURNING reason, flagged_by, held_at, id", (flag_id,)
            ).fetchone()
            if taken is not None:
                attached.append((trace_id, *taken))
    for trace_id, reason, flagged_by, held_at, _ in sorted(attached, key=lambda row: row[-1]):
        flag_in(conn, trace_id, reason_entry(reason, flagged_by, held_at), location)


def _carries(attributes: Mapping[str, Any] | None, where: Mapping[str, str]) -> bool:
    if not attributes:
        return False
    return all(key in attributes and attribute_text(attributes[key]) == value for key, value in where.items())


class HeldFlags(Incidents, Connected):
    def flag_or_hold(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> Incident | None:
        if (trace_id is None) == (where is None):
            raise InvalidInput("flag a trace by its id or by where=..., not both and not neither")
        entry = reason_entry(reason, flagged_by)
        checked = checked_where(where) if where is not None else None
        if trace_id is not None:
            trace_id = trace_id.strip().lower()
            if len(trace_id) != 32 or not set(trace_id) <= _HEX:
                raise InvalidInput(
                    f"'{trace_id}' is not a whole trace id - a flag held for a trace to come needs its 32 hex "
                    "characters (casebank.current_trace_id())"
                )
        with self.transaction(durable=True) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PENDING_LOCK,))
            if checked is not None:
                found = traces_where(conn, checked, SHOWN + 1)
                target = the_one_trace(found, checked, self.location) if found else None
            else:
                target = trace_id
            if target is not None and _has_root(conn, target):
                incident_id = flag_in(conn, target, entry, self.location)
            else:
                incident_id = None
                key = (
                    trace_id
                    if checked is None
                    else "where:" + orjson.dumps(checked, option=orjson.OPT_SORT_KEYS).decode()
                )
                conn.execute(
                    "INSERT INTO pending_flags (target, trace_id, where_attributes, reason, flagged_by, held_at) "
                    "VALUES (%s, %s, %s::jsonb, %s, %s, %s) ON CONFLICT (target, reason) DO NOTHING",
                    (
                        key,
                        trace_id,
                        None if checked is None else dumps(checked),
                        entry["reason"],
                        flagged_by,
                        utc_now(),
                    ),
                )
        return None if incident_id is None else self.get_incident(incident_id)

    def pending_flags(self) -> list[dict[str, Any]]:
        return self.rows(
            'SELECT trace_id, where_attributes AS "where", reason, flagged_by, held_at FROM pending_flags ORDER BY id'
        )


def _has_root(conn: Conn, trace_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM traces WHERE trace_id = %s AND name IS NOT NULL", (trace_id,)).fetchone()
        is not None
    )
