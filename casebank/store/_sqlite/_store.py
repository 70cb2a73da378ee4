"""`SQLiteStore`: the store in one SQLite file, the sum of its parts.

Each part is a mixin over one connection (`_base.Connected`): writing spans (`_spans`), reading
traces (`_traces`), incidents (`_incidents`), runs (`_runs`), labels and calibrations (`_labels`),
the graders' caches (`_caches`), and for `cases serve`: flags held for traces not yet arrived
(`_held_flags`, attached by `_spans`' writes), API tokens (`_tokens`), retention (`_prune`) and
records for `cases db copy` (`_copy`). The file stays a plain database that people browse with
`sqlite-utils` or Datasette, so its tables and columns are named for people.

For `cases audit`: recent traffic, a page at a time (`_traffic`); for `cases verify`: the
file's integrity and schema (`_integrity`).
"""

from __future__ import annotations

from casebank.store._sqlite._caches import StoreCaches
from casebank.store._sqlite._copy import Copying
from casebank.store._sqlite._integrity import Integrity
from casebank.store._sqlite._labels import Labels
from casebank.store._sqlite._prune import Prune
from casebank.store._sqlite._runs import Runs
from casebank.store._sqlite._spans import SpanWrites
from casebank.store._sqlite._tokens import Tokens
from casebank.store._sqlite._traffic import Traffic

__all__ = ["SQLiteStore"]


class SQLiteStore(SpanWrites, Runs, Labels, Tokens, Prune, Copying, Traffic, Integrity):
    """A casebank store file. Cheap to open; close it (or use `with`) when done."""

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def grader_caches(self) -> StoreCaches:
        return StoreCaches(self)
