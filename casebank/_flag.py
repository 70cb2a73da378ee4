"""`casebank.flag`: turn a bad answer's trace into an incident, from any process."""

from __future__ import annotations

import os
import re
from pathlib import Path

from casebank.capture._setup import configured_db
from casebank.capture._setup import flush as flush_own_spans
from casebank.errors import TraceNotFound

_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def flag(
    trace_id: str,
    reason: str,
    *,
    flagged_by: str | None = None,
    db: str | os.PathLike[str] | None = None,
) -> str:
    """Snapshot the whole trace into an incident and return the incident's id.

    Flags again on the same trace return the same incident and keep every reason. The incident
    is on disk when this returns. Raises `casebank.errors.TraceNotFound` for an unknown id.
    """
    from casebank.store import Store, default_db_path

    normalized = trace_id.strip().lower()
    if not _TRACE_ID.fullmatch(normalized):
        raise TraceNotFound(
            f"'{trace_id}' is not a trace id - trace ids are 32 hex characters, as casebank.current_trace_id() returns"
        )
    flush_own_spans()  # this process's own pending spans may hold the very trace being flagged
    path = Path(db) if db is not None else (configured_db() or default_db_path())
    with Store(path, create=False) as store:
        return store.flag(normalized, reason, flagged_by=flagged_by).id
