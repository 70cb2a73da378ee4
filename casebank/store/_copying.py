"""Copying one store into another, whichever backends hold them (`cases db copy`).

Kinds go in COPY_KINDS order (an incident names a trace, a label a trace's output), each in
keyset pages (`export_records(after=last key)`), so that memory stays one page however large the
store. Each page is one transaction in the destination, which skips what it already holds: a copy
cut short is finished by running it again, and a second run copies nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from casebank.store._interface import Store
from casebank.store._records import COPY_KINDS

__all__ = ["PAGE", "copy_store"]

PAGE = 1000  # records a page: a few MB of spans


def copy_store(
    source: Store, dest: Store, *, page: int = PAGE, done: Callable[[str, int, int], None] | None = None
) -> dict[str, tuple[int, int]]:
    """Copy every record of `source` into `dest`. Returns, by kind, (copied, already there);
    `done(kind, copied, already there)` is called as each kind finishes."""
    counts: dict[str, tuple[int, int]] = {}
    for kind in COPY_KINDS:
        copied = seen = 0
        after: str | None = None
        while records := source.export_records(kind, after=after, limit=page):
            copied += dest.import_records(kind, records)
            seen += len(records)
            after = records[-1]["key"]
        counts[kind] = (copied, seen - copied)
        if done is not None:
            done(kind, copied, seen - copied)
    return counts
