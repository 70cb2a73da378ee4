"""`HTTPStore`: the `Store` of a `cases serve` server, spoken to over its HTTP API.

What lets an engineer on a laptop read, annotate and promote the incidents production flagged
(`cases show 3f9a --db https://casebank.internal:4318`). It covers what the `/api` routes offer:
reading traces and incidents, flags, annotate / dismiss / mark promoted. Everything else (writing
spans, runs, labels, caches, tokens, pruning, copying) is done where the store is: those methods
raise a StoreError that says so. A flag for a trace the server has not received is held there
(`send_flag` / `flag_or_hold` say so); `flag`, which must return an incident, raises
TraceNotFound for it, naming the incident the server will make.

Standard library only (urllib), one short-lived connection a call: the CLI makes a handful of
calls, and `casebank.flag()` in a product must not pull in an HTTP client package. The bearer
token is `CASEBANK_TOKEN`. The server's errors come back as casebank's own: a 404 as
TraceNotFound / IncidentNotFound by route, a 409 as AmbiguousId (InvalidTransition on an
incident's transitions), a 400 as InvalidInput, each with the server's one-line message; 401 /
403 and an unreachable server as a StoreError that says which token to make, or to start
`cases serve`.
"""

from __future__ import annotations

import os
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson

from casebank.errors import (
    AmbiguousId,
    CasebankError,
    IncidentNotFound,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreError,
    TraceNotFound,
)
from casebank.store._attributes import SHOWN, checked_where, the_one_trace
from casebank.store._records import Incident, StoreCounts, TraceSummary, hex_prefix, incident_id_for

__all__ = ["TOKEN_ENV", "FlagAnswer", "HTTPStore"]

TOKEN_ENV = "CASEBANK_TOKEN"
TIMEOUT_S = 30.0
_TRACE_FIX = "pass the hex id that 'cases traces' shows"
_INCIDENT_FIX = "pass the id that 'cases list' shows"


@dataclass(frozen=True, kw_only=True)
class FlagAnswer:
    """What the server said to a flag: `created`, `exists`, or `pending` (held until the trace arrives).

    `incident_id` is the incident's id; for a flag held by trace id, the id the incident will
    have (`incident_id_for` is the same everywhere); None for one held by `where`."""

    status: str
    incident_id: str | None
    trace_id: str | None


class HTTPStore:
    """A `Store` whose data lives behind a `cases serve` at `url` (http:// or https://)."""

    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # an unclosed IPv6 bracket, ...
            host = None
        if not host:
            raise StoreError(f"store URL '{shown_url(url)}' names no host - write http(s)://HOST:PORT")
        self._base = urlunsplit((parts.scheme, _netloc(parts), parts.path.rstrip("/"), "", ""))
        self._location = self._base
        self._token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self._timeout_s = timeout_s

    @property
    def location(self) -> str:
        return self._location

    def close(self) -> None:
        pass  # one connection a call: nothing stays open

    def __enter__(self) -> HTTPStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the server does not offer --------------------------------------------------------------

    def _elsewhere(self, what: str) -> NoReturn:
        raise StoreError(
            f"{what} is not available through a casebank server ({self._location}) - run it where the store is "
            "(--db postgresql://... or a file)"
        )

    def check_integrity(self) -> list[str]:
        self._elsewhere("checking the store's integrity")

    def write_spans(self, spans: Sequence[Any], traces: Sequence[Any], dropped: int = 0) -> None:
        self._elsewhere("writing spans (send them over OTLP: casebank.init(endpoint=...))")

    def prepare_spans(self, spans: Sequence[Any], traces: Sequence[Any], dropped: int = 0) -> Any:
        self._elsewhere("writing spans (send them over OTLP: casebank.init(endpoint=...))")

    def write_prepared(self, batch: Any) -> None:
        self._elsewhere("writing spans (send them over OTLP: casebank.init(endpoint=...))")

    def prepare_for_capture(self) -> None:
        self._elsewhere("capturing into the store (send spans over OTLP: casebank.init(endpoint=...))")

    def checkpoint(self) -> None:
        pass  # the server's store checkpoints itself

    def record_run(self, run: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> None:
        self._elsewhere("recording a run")

    def list_runs(self, limit: int | None = 20) -> list[dict[str, Any]]:
        self._elsewhere("the list of runs")

    def run_results(self, run_id: str, *, suite_order: bool = False) -> list[dict[str, Any]]:
        self._elsewhere("a run's results")

    def resolve_run(self, ref: str) -> dict[str, Any]:
        self._elsewhere("a run")

    def add_label(self, trace_prefix: str, label: str, *, note: str | None = None) -> dict[str, Any]:
        self._elsewhere("labelling a trace")

    def list_labels(self) -> list[dict[str, Any]]:
        self._elsewhere("the list of labels")

    def record_calibration(self, result: Mapping[str, Any]) -> None:
        self._elsewhere("recording a judge calibration")

    def latest_calibration(self, config_hash: str) -> dict[str, Any] | None:
        self._elsewhere("a judge calibration")

    def grader_caches(self) -> Any:
        self._elsewhere("the graders' caches")

    def pending_flags(self) -> list[dict[str, Any]]:
        self._elsewhere("the list of held flags")

    def add_token(self, name: str, token_hash: str, scopes: Sequence[str]) -> None:
        self._elsewhere("creating a token")

    def list_tokens(self) -> list[dict[str, Any]]:
        self._elsewhere("the list of tokens")

    def revoke_token(self, name: str) -> None:
        self._elsewhere("revoking a token")

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        self._elsewhere("looking up a token")

    def prune(self, older_than: str, *, dry_run: bool = False) -> dict[str, int]:
        self._elsewhere("pruning")

    def export_records(self, kind: str, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        self._elsewhere("copying a store")

    def import_records(self, kind: str, records: Sequence[Mapping[str, Any]]) -> int:
        self._elsewhere("copying a store")

    def traces_since(self, since: str, *, entrypoint: str | None = None) -> Iterator[TraceSummary]:
        self._elsewhere("reading recent traffic (cases audit, cases traces --uncovered)")

    def llm_inputs_since(self, since: str) -> Iterator[dict[str, Any]]:
        self._elsewhere("reading recent traffic (cases audit leakage)")

    # -- reading -------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._call("GET", "/readyz", auth=False)

    def counts(self) -> StoreCounts:
        body = self._call("GET", "/api/counts")
        return StoreCounts(
            location=self._location,
            traces=int(body.get("traces") or 0),
            spans=int(body.get("spans") or 0),
            incidents=dict(body.get("incidents") or {}),
            dropped_spans=int(body.get("dropped_spans") or 0),
            runs=int(body.get("runs") or 0),
        )

    def recent_traces(self, limit: int = 20) -> list[TraceSummary]:
        body = self._call("GET", "/api/traces?" + urlencode({"limit": limit}))
        return [_trace(row) for row in body.get("traces") or []]

    def search_traces(
        self,
        *,
        where: Mapping[str, Any] | None = None,
        entrypoint: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[TraceSummary]:
        # The server's review pages search where the store is; the API offers lookups by attribute.
        self._elsewhere("searching traces (open the server's review pages at /ui)")

    def get_trace(self, trace_id: str) -> TraceSummary | None:
        found = self._trace_or_none(trace_id)
        return None if found is None else _trace(found["trace"])

    def trace_spans(self, trace_id: str) -> list[dict[str, Any]]:
        found = self._trace_or_none(trace_id)
        return [] if found is None else list(found.get("spans") or [])

    def _trace_or_none(self, trace_id: str) -> dict[str, Any] | None:
        ref = trace_id.strip().lower()
        if len(ref) != 32 or not all(c in "0123456789abcdef" for c in ref):
            return None  # a full id only, as the other backends look it up
        try:
            return self._call("GET", f"/api/traces/{ref}")
        except TraceNotFound:
            return None

    def resolve_trace_id(self, prefix: str) -> str:
        ref = hex_prefix(prefix, "a trace id", _TRACE_FIX)
        return str(self._call("GET", f"/api/traces/{ref}")["trace"]["trace_id"])

    def traces_where(self, where: Mapping[str, Any], limit: int = SHOWN + 1) -> list[str]:
        query = [("where", f"{key}:{value}") for key, value in checked_where(where).items()]
        body = self._call("GET", "/api/traces?" + urlencode([*query, ("limit", str(limit))]))
        return [str(row["trace_id"]) for row in body.get("traces") or []]

    def trace_id_where(self, where: Mapping[str, Any]) -> str:
        return the_one_trace(self.traces_where(where), where, self._location)

    # -- incidents -----------------------------------------------------------------------------------

    def send_flag(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> FlagAnswer:
        """POST a flag: by a trace id (or any unique prefix: the server resolves it) or by `where`."""
        body: dict[str, Any] = {"reason": reason}
        if where is not None:
            body["where"] = checked_where(where)
        else:
            body["trace_id"] = hex_prefix(trace_id or "", "a trace id", _TRACE_FIX)
        if flagged_by is not None:
            body["flagged_by"] = flagged_by
        answer = self._call("POST", "/api/flags", body)
        status = str(answer.get("status") or "")
        full = answer.get("trace_id")
        incident_id = answer.get("incident_id")
        if incident_id is None and isinstance(full, str) and len(full) == 32:
            incident_id = incident_id_for(full)
        return FlagAnswer(status=status, incident_id=incident_id, trace_id=full)

    def flag(self, trace_id: str, reason: str, *, flagged_by: str | None = None) -> Incident:
        answer = self.send_flag(trace_id, reason, flagged_by=flagged_by)
        if answer.status == "pending":
            raise TraceNotFound(
                f"trace '{trace_id}' has not reached {self._location} yet - the server holds the flag and makes "
                f"it incident {answer.incident_id} when the trace arrives"
            )
        assert answer.incident_id is not None
        return self.get_incident(answer.incident_id)

    def flag_or_hold(
        self,
        trace_id: str | None,
        reason: str,
        *,
        where: Mapping[str, Any] | None = None,
        flagged_by: str | None = None,
    ) -> Incident | None:
        if (trace_id is None) == (where is None):
            raise InvalidInput("flag_or_hold takes a trace id or where= attributes - exactly one of them")
        answer = self.send_flag(trace_id, reason, where=where, flagged_by=flagged_by)
        if answer.status == "pending" or answer.incident_id is None:
            return None
        return self.get_incident(answer.incident_id)

    def get_incident(self, incident_id: str) -> Incident:
        ref = hex_prefix(incident_id, "an incident id", _INCIDENT_FIX)
        return _incident(self._call("GET", f"/api/incidents/{ref}"))

    def resolve_incident(self, prefix: str) -> Incident:
        return self.get_incident(prefix)

    def list_incidents(self, status: str = "all") -> list[Incident]:
        body = self._call("GET", "/api/incidents?" + urlencode({"status": status}))
        return [_incident(row) for row in body.get("incidents") or []]

    def annotate(self, incident_id: str, *, expected: Any, grader: Mapping[str, Any], tags: Sequence[str]) -> Incident:
        body = {"expected": expected, "grader": dict(grader), "tags": list(tags)}
        return _incident(self._call("POST", f"/api/incidents/{self._id(incident_id)}/annotate", body))

    def dismiss(self, incident_id: str, reason: str) -> Incident:
        return _incident(self._call("POST", f"/api/incidents/{self._id(incident_id)}/dismiss", {"reason": reason}))

    def mark_promoted(self, incident_id: str, *, case_id: str, case_path: str) -> Incident:
        body = {"case_id": case_id, "case_path": case_path}
        return _incident(self._call("POST", f"/api/incidents/{self._id(incident_id)}/promoted", body))

    @staticmethod
    def _id(incident_id: str) -> str:
        return hex_prefix(incident_id, "an incident id", _INCIDENT_FIX)

    # -- the wire ------------------------------------------------------------------------------------

    def _call(self, method: str, route: str, body: Any = None, *, auth: bool = True) -> dict[str, Any]:
        """Send one request and return its JSON answer; casebank errors for anything but a 2xx."""
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(self._base + route, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if auth and self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raw_error = exc.read()
            self._raise_for(exc.code, route, _error_text(raw_error))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                why = f"did not answer within {self._timeout_s:.0f} s"
            else:
                why = f"cannot be reached ({reason})"
            raise StoreError(
                f"the casebank server at {self._location} {why} - start it with 'cases serve' there, "
                "or check --db / CASEBANK_DB"
            ) from None
        try:
            answer = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise StoreError(
                f"{self._location}{route.partition('?')[0]} did not answer JSON - is it a casebank server "
                "('cases serve')?"
            ) from None
        return answer if isinstance(answer, dict) else {"items": answer}

    def _raise_for(self, code: int, route: str, message: str | None) -> NoReturn:
        path = route.partition("?")[0]
        if message is None:  # not casebank's answer: something else listens there
            raise StoreError(
                f"{self._location} answered {code} to {path} without casebank's error - is it a casebank server "
                "('cases serve') of this version?"
            )
        error: type[CasebankError]
        if code == 401:
            fix = f"set {TOKEN_ENV} to a token it knows" if self._token else f"it needs a token: set {TOKEN_ENV}"
            raise StoreError(
                f"{self._location} refused the request: {message} - {fix} (make one on the server with "
                f"'cases token create --name NAME --scope {_scope(path)}')"
            )
        if code == 403:
            scope = _scope(path)
            how = (
                ""  # the server's message says how already
                if "cases token create" in message
                else f" - the token needs the '{scope}' scope: make one on the server with "
                f"'cases token create --name NAME --scope {scope}'"
            )
            raise StoreError(f"{self._location} refused the request: {message}{how} and set {TOKEN_ENV} to it")
        if code == 404:
            error = (
                IncidentNotFound
                if path.startswith("/api/incidents")
                else TraceNotFound
                if path.startswith(("/api/traces", "/api/flags"))
                else NotFound
            )
        elif code == 409:
            error = InvalidTransition if path.startswith("/api/incidents/") and path.count("/") == 4 else AmbiguousId
        elif code in (400, 413, 422):
            error = InvalidInput
        else:
            error = StoreError
        raise error(message)


def _scope(path: str) -> str:
    """The token scope a route needs (TOKEN_SCOPES), as the API describes it."""
    if path.startswith("/v1/traces"):
        return "ingest"
    if path.startswith("/api/flags"):
        return "flag"
    if path.startswith("/api/incidents/") and path.count("/") == 4:
        return "admin"  # annotate, dismiss, promoted
    return "read"


def _error_text(raw: bytes) -> str | None:
    """The server's one-line `{"error": ...}`, or None when the answer is not casebank's."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return " ".join(str(error).split()) if error else None


def _netloc(parts: Any) -> str:
    """The host and port of a URL, without any user or password (they are never shown or sent)."""
    return str(parts.netloc).rpartition("@")[2]


def shown_url(url: str) -> str:
    """`url` without user info, query or fragment: what messages may show."""
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, _netloc(parts), parts.path, "", ""))
    except ValueError:
        return re.sub(r"//[^/]*@", "//", url)


def _trace(row: Mapping[str, Any]) -> TraceSummary:
    return TraceSummary(
        trace_id=str(row["trace_id"]),
        name=row.get("name"),
        entrypoint=row.get("entrypoint"),
        input=row.get("input"),
        output=row.get("output"),
        status=row.get("status"),
        error=row.get("error"),
        started_at=row.get("started_at"),
        duration_ms=row.get("duration_ms"),
        span_count=int(row.get("span_count") or 0),
        attributes=dict(row.get("attributes") or {}),
    )


def _incident(row: Mapping[str, Any]) -> Incident:
    has_expected = row.get("has_expected")
    return Incident(
        id=str(row["id"]),
        trace_id=str(row["trace_id"]),
        status=str(row["status"]),
        reasons=list(row.get("reasons") or []),
        flagged_at=str(row.get("flagged_at") or ""),
        updated_at=str(row.get("updated_at") or ""),
        entrypoint=row.get("entrypoint"),
        input=row.get("input"),
        output=row.get("output"),
        error=row.get("error"),
        spans=list(row.get("spans") or []),
        expected=row.get("expected"),
        # The list form has no has_expected: an annotated (or promoted) incident has one.
        has_expected=bool(has_expected) if has_expected is not None else row.get("expected") is not None,
        grader=row.get("grader"),
        tags=list(row.get("tags") or []),
        dismissed_reason=row.get("dismissed_reason"),
        case_id=row.get("case_id"),
        case_path=row.get("case_path"),
    )
