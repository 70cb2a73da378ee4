"""`casebank.flag`: turn a bad answer's trace into an incident, from any process."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

from casebank.capture._setup import configured_db, configured_token
from casebank.capture._setup import flush_store as flush_own_spans
from casebank.errors import TraceNotFound

if TYPE_CHECKING:
    from casebank.store import Store

_TRACE_ID = re.compile(r"[0-9a-f]{1,32}")  # the full id, or a prefix of it


@overload
def flag(
    trace_id: str,
    reason: str | None = None,
    *,
    where: None = None,
    flagged_by: str | None = None,
    db: str | os.PathLike[str] | None = None,
) -> str: ...


@overload
def flag(
    trace_id: None = None,
    reason: str | None = None,
    *,
    where: Mapping[str, Any],
    flagged_by: str | None = None,
    db: str | os.PathLike[str] | None = None,
) -> str | None: ...


def flag(
    trace_id: str | None = None,
    reason: str | None = None,
    *,
    where: Mapping[str, Any] | None = None,
    flagged_by: str | None = None,
    db: str | os.PathLike[str] | None = None,
) -> str | None:
    """Snapshot the whole trace into an incident and return the incident's id.

    Name the trace by its id (or any unique prefix of it), or by the attributes the app attached with
    `casebank.set_attributes` (`where={"ticket_id": "123"}`): exactly one of the two.
    Flags again on the same trace return the same incident and keep every reason. The incident
    is on disk when this returns. `db` names the store (a path or URL); by default the one
    `casebank.init()` writes to (the server of `init(endpoint=...)`), else `CASEBANK_DB`, else
    `.casebank/casebank.db`.

    On a casebank server (`db="http://host:4318"`, token from `CASEBANK_TOKEN` or `init(token=...)`)
    a trace that has not arrived yet is no error: the server holds the flag and makes the incident
    when the trace comes in. Flagged by its full id, this returns the id that incident will have
    (incident ids follow from trace ids); flagged by `where`, it returns None, as which trace will
    match is not known yet - `cases list` shows the incident once it arrives.

    Raises `casebank.errors.TraceNotFound` for an unknown id or attributes no trace carries,
    and `casebank.errors.AmbiguousId` (listing candidates) when several traces carry them or
    start with the prefix.
    """
    from casebank.store import open_store, parse_store_url

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
    configured = configured_db()
    target = parse_store_url(db) if db is not None else configured
    if target is not None and target.backend == "http":
        from casebank.store._http import HTTPStore

        token = configured_token() if configured is not None and configured.url == target.url else None
        with HTTPStore(target.url, token=token) as server:
            return flag_in(server, normalized, where, reason, flagged_by=flagged_by)[0]
    with open_store(target, create=False) as store:
        return flag_in(store, normalized, where, reason, flagged_by=flagged_by)[0]


def flag_in(
    store: Store,
    trace_id: str | None,
    where: Mapping[str, Any] | None,
    reason: str,
    *,
    flagged_by: str | None = None,
) -> tuple[str | None, bool]:
    """Flag a trace of `store` by its id (full, or a unique prefix) or by `where`: (the incident's
    id, whether the flag is held for a trace that has not arrived).

    On a casebank server, one request (the server resolves a prefix or `where`), and a trace
    that has not arrived is held: the id its incident will have, or None when held by `where`."""
    from casebank.store._http import HTTPStore

    if isinstance(store, HTTPStore):
        answer = store.send_flag(trace_id, reason, where=where, flagged_by=flagged_by)
        return answer.incident_id, answer.status == "pending"
    if trace_id is None:
        trace_id = store.trace_id_where(where or {})
    elif len(trace_id) < 32:  # a full id is flagged as it is: its spans may be in before its root's row
        trace_id = store.resolve_trace_id(trace_id)
    return store.flag(trace_id, reason, flagged_by=flagged_by).id, False
