"""The SQLite side of finding traces by attribute: the `trace_attributes` table and its query.

The writer copies a trace's attributes into the trace row (a JSON object, for people browsing
the store) and into `trace_attributes`, one row per attribute keyed by (key, value); see
`casebank/store/_attributes.py` for what every backend shares.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from casebank.store._attributes import SHOWN, checked_where

__all__ = ["INSERT_ATTRIBUTES", "traces_where"]

INSERT_ATTRIBUTES = "INSERT OR IGNORE INTO trace_attributes (key, value, trace_id) VALUES (?, ?, ?)"


def traces_where(conn: sqlite3.Connection, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
    """Ids of the traces carrying every attribute in `where`, newest first (at most `limit`)."""
    checked = checked_where(where)
    matches = " AND ".join(
        "trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = ? AND value = ?)" for _ in checked
    )
    params: list[Any] = [part for pair in checked.items() for part in pair]
    rows = conn.execute(
        f"SELECT trace_id FROM traces WHERE {matches} ORDER BY start_ns DESC, trace_id LIMIT ?", (*params, limit)
    )
    return [row[0] for row in rows]
