"""Finding traces by the attributes the app attached to them (`casebank.set_attributes`).

Support tooling knows a ticket id, not a trace id. The writer copies a trace's attributes into
the trace row (a JSON object, for people browsing the store) and into `trace_attributes`, one
row per attribute keyed by (key, value): a lookup there is an index search however many traces
the store holds. Values are compared as text - `true`/`false` for booleans, the usual digits for
numbers - because a command line can only say `ticket_id=123`, whatever type the app used.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import AmbiguousId, InvalidInput, TraceNotFound

__all__ = ["attribute_rows", "attribute_text", "describe", "resolve_where", "traces_where"]

SHOWN = 5  # candidate trace ids an ambiguity error lists

INSERT_ATTRIBUTES = "INSERT OR IGNORE INTO trace_attributes (key, value, trace_id) VALUES (?, ?, ?)"


def attribute_text(value: Any) -> str:
    """The text an attribute value is stored and compared as."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value, default=str).decode()


def attribute_rows(traces: Sequence[Sequence[Any]], column: int) -> list[tuple[str, str, str]]:
    """(key, value, trace_id) rows for the trace rows of a batch whose `column` holds attributes JSON."""
    rows: list[tuple[str, str, str]] = []
    for trace in traces:
        if len(trace) > column and trace[column]:
            attributes = orjson.loads(trace[column])
            rows.extend((str(key), attribute_text(value), trace[0]) for key, value in attributes.items())
    return rows


def describe(where: Mapping[str, Any]) -> str:
    """`ticket_id=123, user=ana`: attributes as a person typed them."""
    return ", ".join(f"{key}={attribute_text(value)}" for key, value in where.items())


def _checked(where: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(where, Mapping) or not where:
        raise InvalidInput("where= names no attribute - give at least one, e.g. where={'ticket_id': '123'}")
    checked: dict[str, str] = {}
    for key, value in where.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput(f"attribute name {key!r} is not a name - use the name given to casebank.set_attributes")
        if value is None:
            raise InvalidInput(f"attribute '{key}' has no value - say which {key} to look for")
        checked[key.strip()] = attribute_text(value)
    return checked


def traces_where(conn: sqlite3.Connection, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
    """Ids of the traces carrying every attribute in `where`, newest first (at most `limit`)."""
    checked = _checked(where)
    matches = " AND ".join(
        "trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = ? AND value = ?)" for _ in checked
    )
    params: list[Any] = [part for pair in checked.items() for part in pair]
    rows = conn.execute(
        f"SELECT trace_id FROM traces WHERE {matches} ORDER BY start_ns DESC, trace_id LIMIT ?", (*params, limit)
    )
    return [row[0] for row in rows]


def resolve_where(conn: sqlite3.Connection, where: Mapping[str, Any], store_path: object) -> str:
    """The one trace carrying the attributes in `where`; TraceNotFound for none, AmbiguousId for several."""
    found = traces_where(conn, where)
    shown = describe(where)
    if not found:
        raise TraceNotFound(
            f"no trace with {shown} in store '{store_path}' - check the value, and that the app called "
            "casebank.set_attributes() inside its @casebank.trace entry point"
        )
    if len(found) > 1:
        more = "" if len(found) <= SHOWN else ", ..."
        raise AmbiguousId(
            f"{shown} matches several traces (newest first: {', '.join(found[:SHOWN])}{more}) - "
            "flag one by its trace id, or add another attribute that tells them apart"
        )
    return found[0]
