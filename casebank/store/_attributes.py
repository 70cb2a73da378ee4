"""Finding traces by the attributes the app attached to them (`casebank.set_attributes`).

Support tooling knows a ticket id, not a trace id. A backend keeps one row per attribute keyed
by (key, value), so that a lookup is an index search however many traces the store holds.
Values are compared as text - `true`/`false` for booleans, the usual digits for numbers -
because a command line can only say `ticket_id=123`, whatever type the app used. This module is
what every backend shares: the text a value is kept as, checking a `where`, and the errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from casebank.errors import AmbiguousId, InvalidInput, TraceNotFound

__all__ = ["SHOWN", "attribute_rows", "attribute_text", "checked_where", "describe", "the_one_trace"]

SHOWN = 5  # candidate trace ids an ambiguity error lists


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


def checked_where(where: Mapping[str, Any]) -> dict[str, str]:
    """`where` as (key, text) pairs; InvalidInput for an empty one, a key that is no name, a None value."""
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


def the_one_trace(found: Sequence[str], where: Mapping[str, Any], location: str) -> str:
    """The one trace id in `found` (the newest SHOWN + 1 matches of `where`); TraceNotFound for
    none, AmbiguousId for several."""
    shown = describe(where)
    if not found:
        raise TraceNotFound(
            f"no trace with {shown} in store '{location}' - check the value, and that the app called "
            "casebank.set_attributes() inside its @casebank.trace entry point"
        )
    if len(found) > 1:
        more = "" if len(found) <= SHOWN else ", ..."
        raise AmbiguousId(
            f"{shown} matches several traces (newest first: {', '.join(found[:SHOWN])}{more}) - "
            "flag one by its trace id, or add another attribute that tells them apart"
        )
    return found[0]
