"""The PostgreSQL side of finding traces by attribute: the `trace_attributes` table and its query
(see `casebank/store/_attributes.py` for what every backend shares)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casebank.store._attributes import SHOWN, checked_where
from casebank.store._postgres._base import Conn

__all__ = ["INSERT_ATTRIBUTES", "traces_where"]

INSERT_ATTRIBUTES = (
    "INSERT INTO trace_attributes (key, value, trace_id) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) "
    "ON CONFLICT DO NOTHING"
)


def traces_where(conn: Conn, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
    """Ids of the traces carrying every attribute in `where`, newest first (at most `limit`)."""
    checked = checked_where(where)
    matches = " AND ".join(
        "trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = %s AND value = %s)" for _ in checked
    )
    params: list[Any] = [part for pair in checked.items() for part in pair]
    rows = conn.execute(
        f"SELECT trace_id FROM traces WHERE {matches} ORDER BY start_ns DESC NULLS LAST, trace_id LIMIT %s".encode(),
        (*params, limit),
    )
    return [row[0] for row in rows]
