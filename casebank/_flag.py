"""`casebank.flag`: turn a bad answer's trace into an incident, from any process."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from casebank.capture._setup import configured_db
from casebank.capture._setup import flush_store as flush_own_spans
from casebank.errors import TraceNotFound

_TRACE_ID = re.compile(r"[0-9a-f]{1,32}")  # the full id, or a prefix of it


def flag(
    trace_id: str | None = None,
    reason: str | None = None,
    *,
    where: Mapping[str, Any] | None = None,
    flagged_by: str | None = None,
    db: str | os.PathLike[str] | None = None,
) -> str:
    """Snapshot the whole trace into an incident and return the incident's id.

    Name the trace by its id (or any unique prefix of it), or by the attributes the app attached with
    `casebank.set_attributes` (`where={"ticket_id": "123"}`): exactly one of the two.
    Flags again on the same trace return the same incident and keep every reason. The incident
    is on disk when this returns. `db` names the store (a path or URL); by default the one
    `casebank.init()` writes to, else `CASEBANK_DB`, else `.casebank/casebank.db`.

    Raises `casebank.errors.TraceNotFound` for an unknown id or attributes no trace carries,
    and `casebank.errors.AmbiguousId` (listing candidates) when several traces carry them or
    start with the prefix.
    """
    from casebank.store import open_store

    if (trace_id is None) == (where is None):
        raise TypeError("flag() takes a trace id or where={...} attributes - exactly one of them")
    if reason is None:
        raise TypeError("flag() needs reason='what was wrong with the answer'")
    normalized = None if trace_id is None else trace_id.strip().lower()
    if normalized is not None and not _TRACE_ID.fullmatch(normalized):
        raise TraceNotFound(
            f"'{trace_id}' is not a trace id - trace ids are 32 hex characters (or a prefix of them), "
            "as casebank.current_trace_id() returns"
        )
    flush_own_spans()  # this process's own pending spans may hold the very trace being flagged
    with open_store(db if db is not None else configured_db(), create=False) as store:
        if normalized is None:
            normalized = store.trace_id_where(where or {})
        elif len(normalized) < 32:
            normalized = store.resolve_trace_id(normalized)
        return store.flag(normalized, reason, flagged_by=flagged_by).id
