"""GET /api/openapi.json: an OpenAPI 3.1 description of the /api routes, written out by hand.

Written rather than generated: the routes are few, their bodies are checked by hand in `_api.py`,
and a reader of this file sees the whole contract that the HTTP store client speaks.
"""

from __future__ import annotations

from typing import Any

from casebank._version import __version__
from casebank.store import INCIDENT_STATUSES

__all__ = ["openapi"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_REF = {
    "name": "ref",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "an id or any unique prefix",
}
_AUTH_ERRORS = {"401": _error("no token, or a wrong one"), "403": _error("the token lacks the scope")}
_INCIDENT = {"$ref": "#/components/schemas/Incident"}


def _op(summary: str, scope: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"summary": f"{summary} (scope: {scope})", "responses": {**responses, **_AUTH_ERRORS}, **more}


def openapi() -> dict[str, Any]:
    incident_change = {
        "200": _ok("the incident as it is now", _INCIDENT),
        "404": _error("no such incident"),
        "409": _error("an ambiguous prefix, or a change its status forbids"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "casebank server", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Incident": {
                    "type": "object",
                    "description": "Incident.as_dict(): id, trace_id, status, reasons, flagged_at, updated_at, "
                    "entrypoint, input, output, error, spans, expected, grader, tags, dismissed_reason, case_id, "
                    "case_path; plus has_expected (single incident answers only)",
                    "properties": {"id": {"type": "string"}, "status": {"enum": list(INCIDENT_STATUSES)}},
                },
                "Trace": {
                    "type": "object",
                    "description": "TraceSummary: trace_id, name, entrypoint, input, output, status, error, "
                    "started_at, duration_ms, span_count, attributes",
                },
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/flags": {
                "post": _op(
                    "Flag a trace, or hold the flag until the trace arrives",
                    "flag",
                    {
                        "201": _ok("a new incident", {"type": "object"}),
                        "200": _ok("a repeat flag: the trace's incident, with the reason added", {"type": "object"}),
                        "202": _ok("the trace has not arrived: the flag is held and attached when it does", {}),
                        "400": _error("a malformed body"),
                        "404": _error("a prefix that names no trace (only a full id is held)"),
                        "409": _error("a prefix or where that names several traces"),
                    },
                    requestBody=_body(
                        {
                            "type": "object",
                            "required": ["reason"],
                            "properties": {
                                "trace_id": {"type": "string", "description": "32 hex, or a unique prefix"},
                                "where": {"type": "object", "description": "attributes set with set_attributes"},
                                "reason": {"type": "string"},
                                "flagged_by": {"type": "string"},
                            },
                        }
                    ),
                )
            },
            "/api/incidents": {
                "get": _op(
                    "List incidents, newest flag first (without their spans)",
                    "read",
                    {"200": _ok("incidents", {"type": "object", "properties": {"incidents": {"type": "array"}}})},
                    parameters=[
                        {"name": "status", "in": "query", "schema": {"enum": [*INCIDENT_STATUSES, "all"]}},
                    ],
                )
            },
            "/api/incidents/{ref}": {
                "get": _op(
                    "One incident, spans included",
                    "read",
                    {"200": _ok("the incident", _INCIDENT), "404": _error("no such incident")},
                    parameters=[_REF],
                )
            },
            "/api/incidents/{ref}/annotate": {
                "post": _op(
                    "Record the expected output, grader and tags",
                    "admin",
                    incident_change,
                    parameters=[_REF],
                    requestBody=_body(
                        {
                            "type": "object",
                            "required": ["expected"],
                            "properties": {"expected": {}, "grader": {"type": "object"}, "tags": {"type": "array"}},
                        }
                    ),
                )
            },
            "/api/incidents/{ref}/dismiss": {
                "post": _op(
                    "Dismiss an incident",
                    "admin",
                    incident_change,
                    parameters=[_REF],
                    requestBody=_body({"type": "object", "required": ["reason"]}),
                )
            },
            "/api/incidents/{ref}/promoted": {
                "post": _op(
                    "Record the case an incident was promoted to",
                    "admin",
                    incident_change,
                    parameters=[_REF],
                    requestBody=_body({"type": "object", "required": ["case_id", "case_path"]}),
                )
            },
            "/api/traces": {
                "get": _op(
                    "Traces: those carrying every where attribute, else the newest, newest first",
                    "read",
                    {"200": _ok("traces", {"type": "object", "properties": {"traces": {"type": "array"}}})},
                    parameters=[
                        {
                            "name": "where",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "KEY:VALUE, e.g. ticket_id:8812; repeat for several",
                        },
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 20}},
                    ],
                )
            },
            "/api/traces/{ref}": {
                "get": _op(
                    "One trace and its spans",
                    "read",
                    {
                        "200": _ok("the trace", {"type": "object", "properties": {"trace": {}, "spans": {}}}),
                        "404": _error("no such trace"),
                        "409": _error("an ambiguous prefix"),
                    },
                    parameters=[_REF],
                )
            },
            "/api/counts": {
                "get": _op("What the store holds", "read", {"200": _ok("StoreCounts", {"type": "object"})})
            },
        },
    }
