"""The JSON API under /api: flags, incidents, traces and counts (see `_openapi.py` for its shape).

Each handler checks its token's scope, reads and checks its input, then makes one store call (a
composite read runs as one call) and answers; a store method commits before it returns, so a
2xx answer means what it reports is stored. Ids may be any unique prefix, as the CLI takes them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from casebank.errors import InvalidInput, TraceNotFound
from casebank.server._auth import Auth
from casebank.server._body import read_json
from casebank.server._calls import StoreCalls
from casebank.server._errors import HTTPError
from casebank.store import INCIDENT_STATUSES, Incident, Store

__all__ = ["API_BODY_LIMIT", "api_routes"]

API_BODY_LIMIT = 1024 * 1024  # an annotation's expected output is the largest thing sent here
_FULL_ID = 32
_MAX_LIMIT = 1000


def api_routes(auth: Auth, calls: StoreCalls) -> list[Route]:
    store = calls.store

    async def post_flag(request: Request) -> JSONResponse:
        await auth.require(request, "flag")
        body = _object(await read_json(request, API_BODY_LIMIT))
        reason = _text(body, "reason", "say what was wrong with the answer")
        flagged_by = _optional_text(body, "flagged_by")
        trace_ref, where = body.get("trace_id"), body.get("where")
        if (trace_ref is None) == (where is None):
            raise HTTPError(400, "a flag names exactly one of 'trace_id' (32 hex or a unique prefix) or 'where'")
        if where is not None:
            where = _where_object(where)
            incident = await calls(store.flag_or_hold, None, reason, where=where, flagged_by=flagged_by)
            return _flag_answer(incident, {"where": where})
        if not isinstance(trace_ref, str):
            raise HTTPError(400, "'trace_id' must be text: 32 hex characters or a unique prefix of them")
        # A full id needs no store (it may name a trace not arrived yet): no turn to wait for.
        text = trace_ref.strip().lower()
        trace_id = _checked_hex(text) if len(text) == _FULL_ID else await calls(_full_trace_id, store, trace_ref)
        incident = await calls(store.flag_or_hold, trace_id, reason, flagged_by=flagged_by)
        return _flag_answer(incident, {"trace_id": trace_id})

    async def list_incidents(request: Request) -> JSONResponse:
        await auth.require(request, "read")
        status = request.query_params.get("status", "all")
        if status not in (*INCIDENT_STATUSES, "all"):
            raise HTTPError(400, f"status '{status}' is not one of {', '.join((*INCIDENT_STATUSES, 'all'))}")
        incidents = await calls(store.list_incidents, status)
        return JSONResponse({"incidents": [_without_spans(i) for i in incidents]})

    async def get_incident(request: Request) -> JSONResponse:
        await auth.require(request, "read")
        incident = await calls(store.resolve_incident, request.path_params["ref"])
        return JSONResponse(_whole(incident))

    async def annotate(request: Request) -> JSONResponse:
        await auth.require(request, "admin")
        expected, grader, tags = _annotation(_object(await read_json(request, API_BODY_LIMIT)))
        ref = request.path_params["ref"]
        incident = await calls(_on_incident, store, ref, "annotate", expected=expected, grader=grader, tags=tags)
        return JSONResponse(_whole(incident))

    async def dismiss(request: Request) -> JSONResponse:
        await auth.require(request, "admin")
        body = _object(await read_json(request, API_BODY_LIMIT))
        reason = _text(body, "reason", "say why the incident is not a bug")
        incident = await calls(_on_incident, store, request.path_params["ref"], "dismiss", reason)
        return JSONResponse(_whole(incident))

    async def promoted(request: Request) -> JSONResponse:
        await auth.require(request, "admin")
        body = _object(await read_json(request, API_BODY_LIMIT))
        case_id = _text(body, "case_id", "the id of the case file made from it")
        case_path = _text(body, "case_path", "the path of the case file made from it")
        incident = await calls(
            _on_incident, store, request.path_params["ref"], "mark_promoted", case_id=case_id, case_path=case_path
        )
        return JSONResponse(_whole(incident))

    async def list_traces(request: Request) -> JSONResponse:
        await auth.require(request, "read")
        limit = _limit(request.query_params.get("limit", "20"))
        where = _where_query(request.query_params.getlist("where"))
        traces = await calls(_traces, store, where, limit)
        return JSONResponse({"traces": traces})

    async def get_trace(request: Request) -> JSONResponse:
        await auth.require(request, "read")
        return JSONResponse(await calls(_trace, store, request.path_params["ref"]))

    async def counts(request: Request) -> JSONResponse:
        await auth.require(request, "read")
        return JSONResponse(asdict(await calls(store.counts)))

    return [
        Route("/api/flags", post_flag, methods=["POST"]),
        Route("/api/incidents", list_incidents, methods=["GET"]),
        Route("/api/incidents/{ref}", get_incident, methods=["GET"]),
        Route("/api/incidents/{ref}/annotate", annotate, methods=["POST"]),
        Route("/api/incidents/{ref}/dismiss", dismiss, methods=["POST"]),
        Route("/api/incidents/{ref}/promoted", promoted, methods=["POST"]),
        Route("/api/traces", list_traces, methods=["GET"]),
        Route("/api/traces/{ref}", get_trace, methods=["GET"]),
        Route("/api/counts", counts, methods=["GET"]),
    ]


# -- store calls made of several reads (each runs as one call, in one turn) ------------------------


def _full_trace_id(store: Store, ref: str) -> str:
    """A full id as it is (it may name a trace not arrived yet); a prefix only if it names one."""
    text = ref.strip().lower()
    if len(text) == _FULL_ID:
        return _checked_hex(text)
    if len(text) > _FULL_ID:
        raise InvalidInput(f"trace id '{ref.strip()}' is longer than 32 hex characters - copy it whole")
    try:
        return store.resolve_trace_id(text)
    except TraceNotFound as exc:
        raise TraceNotFound(f"{exc} (a flag is held for a trace not arrived yet only by its full 32-hex id)") from None


def _checked_hex(text: str) -> str:
    if not all(c in "0123456789abcdef" for c in text):
        raise InvalidInput(f"'{text}' is not a trace id - trace ids are 32 hex characters")
    return text


def _on_incident(store: Store, ref: str, method: str, *args: Any, **kwargs: Any) -> Incident:
    incident = store.resolve_incident(ref)
    result: Incident = getattr(store, method)(incident.id, *args, **kwargs)
    return result


def _traces(store: Store, where: dict[str, str], limit: int) -> list[dict[str, Any]]:
    if not where:
        return [asdict(t) for t in store.recent_traces(limit)]
    summaries = (store.get_trace(trace_id) for trace_id in store.traces_where(where, limit))
    return [asdict(t) for t in summaries if t is not None]


def _trace(store: Store, ref: str) -> dict[str, Any]:
    trace_id = store.resolve_trace_id(ref)
    summary = store.get_trace(trace_id)
    if summary is None:
        raise TraceNotFound(f"no trace '{trace_id}' in store '{store.location}' - see GET /api/traces")
    return {"trace": asdict(summary), "spans": store.trace_spans(trace_id)}


# -- answers -----------------------------------------------------------------------------------------


def _flag_answer(incident: Incident | None, target: dict[str, Any]) -> JSONResponse:
    if incident is None:
        return JSONResponse({"status": "pending", **target}, status_code=202)
    # A new incident holds the one reason just given; a repeat flag adds to an existing list.
    created = len(incident.reasons) <= 1
    return JSONResponse(
        {"incident_id": incident.id, "trace_id": incident.trace_id, "status": "created" if created else "exists"},
        status_code=201 if created else 200,
    )


def _without_spans(incident: Incident) -> dict[str, Any]:
    fields = incident.as_dict()
    del fields["spans"]
    return fields


def _whole(incident: Incident) -> dict[str, Any]:
    return {**incident.as_dict(), "has_expected": incident.has_expected}


# -- input checks ------------------------------------------------------------------------------------


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HTTPError(400, "the body must be a JSON object")
    return value


def _text(body: dict[str, Any], key: str, what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise HTTPError(400, f"'{key}' is missing or empty - {what}")
    return value


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise HTTPError(400, f"'{key}' must be text")
    return value


def _annotation(body: dict[str, Any]) -> tuple[Any, dict[str, Any], list[str]]:
    if "expected" not in body:
        raise HTTPError(400, "an annotation needs 'expected': the output the answer should have had")
    grader = body.get("grader") or {}
    tags = body.get("tags") or []
    if not isinstance(grader, dict):
        raise HTTPError(400, '\'grader\' must be an object: {"name": ..., "options": {...}}')
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise HTTPError(400, "'tags' must be a list of text")
    return body["expected"], grader, tags


def _where_object(where: object) -> dict[str, Any]:
    if (
        not isinstance(where, dict)
        or not where
        or not all(isinstance(v, (str, int, float, bool)) for v in where.values())
    ):
        raise HTTPError(400, '\'where\' must be a non-empty object of attributes, e.g. {"ticket_id": "8812"}')
    return where


def _where_query(pairs: list[str]) -> dict[str, str]:
    where: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition(":")
        if not sep or not key.strip():
            raise HTTPError(400, f"where '{pair}' is not KEY:VALUE - for example where=ticket_id:8812")
        where[key.strip()] = value
    return where


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= _MAX_LIMIT:
        raise HTTPError(400, f"limit '{text}' is not a whole number from 1 to {_MAX_LIMIT}")
    return int(text)
