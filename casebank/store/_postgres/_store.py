"""`PostgresStore`: the store in a PostgreSQL database, the sum of its parts.

Each part is a mixin over one connection pool (`_base.Connected`): writing spans (`_spans`),
reading traces (`_traces`), incidents (`_incidents`), flags held for traces to come (`_held`),
runs (`_runs`), labels and calibrations (`_labels`), tokens and retention (`_production`),
copying (`_copy`) and the graders' caches (`_caches`). Tables and columns are the SQLite store's
(see `_schema.py`), so a person who knows one knows the other.

For `cases audit`: recent traffic, a page at a time (`_traffic`); for `cases verify`: the
catalog against the migrations (`_integrity`).
"""

from __future__ import annotations

from casebank.store._postgres._caches import StoreCaches
from casebank.store._postgres._copy import Copying
from casebank.store._postgres._held import HeldFlags
from casebank.store._postgres._integrity import Integrity
from casebank.store._postgres._labels import Labels
from casebank.store._postgres._production import Production
from casebank.store._postgres._runs import Runs
from casebank.store._postgres._spans import SpanWrites
from casebank.store._postgres._traffic import Traffic

__all__ = ["PostgresStore"]


class PostgresStore(SpanWrites, HeldFlags, Runs, Labels, Production, Copying, Traffic, Integrity):
    """A casebank store in a PostgreSQL database. Open it with `open_store("postgresql://...")`;
    close it (or use `with`) when done."""

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def grader_caches(self) -> StoreCaches:
        return StoreCaches(self)
