"""Searching traces for the review pages (`Store.search_traces`): what every backend shares.

A search is filters that each backend turns into one SQL query, newest first, a page at a time.
The page after one is keyed by its last trace (`before`, a trace id): the traces that started
before it, or at the same nanosecond with a greater id - the order `(start_ns DESC, trace_id)`
every backend sorts by - so a page costs its own rows however deep it is, and a trace written
meanwhile never shifts a page. The checks and their messages live here, so that backends
refuse alike; the contract suite holds the messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from casebank.errors import InvalidInput
from casebank.store._attributes import checked_where
from casebank.store._checks import cutoff_ns

__all__ = ["MAX_LIMIT", "TRACE_STATUSES", "Search", "checked_search", "unknown_cursor"]

TRACE_STATUSES = ("ok", "error")
MAX_LIMIT = 1000
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, kw_only=True)
class Search:
    """A checked search: attribute pairs as text, times in ns since the epoch."""

    where: dict[str, str]
    entrypoint: str | None
    status: str | None
    since_ns: int | None
    until_ns: int | None
    before: str | None
    limit: int

    def conditions(self, mark: str) -> tuple[list[str], list[Any]]:
        """SQL conditions on `traces` (ANDed) and their parameters, with `mark` as the placeholder.
        `before` becomes a condition on the start time and id of that trace, looked up inline."""
        sql: list[str] = []
        params: list[Any] = []
        for key, value in self.where.items():
            sql.append(f"trace_id IN (SELECT trace_id FROM trace_attributes WHERE key = {mark} AND value = {mark})")
            params += [key, value]
        if self.entrypoint is not None:
            sql.append(f"entrypoint = {mark}")
            params.append(self.entrypoint)
        if self.status is not None:
            sql.append(f"status = {mark}")
            params.append(self.status)
        if self.since_ns is not None:
            sql.append(f"start_ns >= {mark}")
            params.append(self.since_ns)
        if self.until_ns is not None:
            sql.append(f"start_ns < {mark}")
            params.append(self.until_ns)
        return sql, params

    def after_cursor(self, mark: str, start_ns: int) -> tuple[str, list[Any]]:
        """The condition for the page after `before`, which started at `start_ns`."""
        return f"(start_ns < {mark} OR (start_ns = {mark} AND trace_id > {mark}))", [start_ns, start_ns, self.before]


def unknown_cursor(before: str, location: str) -> InvalidInput:
    return InvalidInput(
        f"cursor '{before}' names no trace in store '{location}' (pruned meanwhile?) - start again from the first page"
    )


def checked_search(
    *,
    where: Mapping[str, Any] | None,
    entrypoint: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    before: str | None,
    limit: int,
) -> Search:
    """The search these arguments make; InvalidInput naming the argument and the fix otherwise."""
    if status is not None and status not in TRACE_STATUSES:
        raise InvalidInput(f"status '{status}' is not one of {', '.join(TRACE_STATUSES)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit {limit!r} is not a whole number from 1 to {MAX_LIMIT}")
    if before is not None:
        before = before.strip().lower()
        if len(before) != 32 or not _HEX.issuperset(before):
            raise InvalidInput(
                f"cursor '{before}' is not a trace id - page on with the id of the last trace a page showed"
            )
    since_ns = cutoff_ns(since) if since else None
    until_ns = cutoff_ns(until) if until else None
    if since_ns is not None and until_ns is not None and until_ns <= since_ns:
        raise InvalidInput(f"until '{until}' is not after since '{since}' - swap them, or widen the range")
    entry = entrypoint.strip() if entrypoint else None
    return Search(
        where=checked_where(where) if where else {},
        entrypoint=entry or None,
        status=status,
        since_ns=since_ns,
        until_ns=until_ns,
        before=before,
        limit=limit,
    )
