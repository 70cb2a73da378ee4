"""Reading what people send: the forms' bodies, the search's query, an annotation.

Forms are `application/x-www-form-urlencoded` (what a browser sends without an `enctype`), read
here with the standard library rather than through python-multipart, which Starlette needs for
`request.form()`. Every refusal is a one-line `InvalidInput` naming the field and the fix; the
pages show it above the form.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request

from casebank.errors import InvalidInput
from casebank.store import INCIDENT_STATUSES

__all__ = [
    "FORM_LIMIT",
    "PAGE",
    "Annotation",
    "FormError",
    "TraceSearch",
    "annotation",
    "incident_status",
    "read_form",
    "trace_search",
]

FORM_LIMIT = 1024 * 1024  # an expected output is the largest thing a form sends
PAGE = 50  # traces a page


class FormError(InvalidInput):
    """A form that cannot be read at all (too large, not a form): 400, or 413."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request, *, too_large: str) -> dict[str, str]:
    """The form's fields (the last value of a repeated one). `too_large`: what to do when the form
    is over FORM_LIMIT, in the form's own words (e.g. "shorten the reason")."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError(f"a form is sent as application/x-www-form-urlencoded, not '{kind or 'nothing'}'", 415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise FormError(f"the form is larger than {FORM_LIMIT // 1024} KB - {too_large}", 413)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8 text") from None
    return {key: values[-1] for key, values in fields.items()}


# -- the traces' search ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class TraceSearch:
    q: str
    where: dict[str, str]
    entrypoint: str
    status: str
    since: str
    until: str
    before: str

    def query(self, **more: str) -> dict[str, str]:
        """The search as query parameters (empty ones left out), to link to its next page."""
        fields = {"q": self.q, "entrypoint": self.entrypoint, "status": self.status, "since": self.since}
        fields.update({"until": self.until, **more})
        return {key: value for key, value in fields.items() if value}


def trace_search(params: Any) -> TraceSearch:
    """The search a query string asks for; InvalidInput naming the part that is wrong."""
    q = str(params.get("q", "")).strip()
    status = str(params.get("status", "")).strip()
    if status not in ("", "ok", "error"):
        raise InvalidInput(f"status '{status}' is not one of ok, error - or leave it empty for both")
    return TraceSearch(
        q=q,
        where=_where(q),
        entrypoint=str(params.get("entrypoint", "")).strip(),
        status=status,
        since=str(params.get("since", "")).strip(),
        until=str(params.get("until", "")).strip(),
        before=str(params.get("before", "")).strip(),
    )


def _where(q: str) -> dict[str, str]:
    """`ticket_id=8812 user="ana b"`: KEY=VALUE pairs separated by spaces (quote a value with spaces)."""
    try:
        words = shlex.split(q)
    except ValueError:
        raise InvalidInput(f"search '{q}' has an unclosed quote - close it, e.g. user=\"ana b\"") from None
    where: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key.strip() or not value:
            raise InvalidInput(
                f"search '{q}' is not KEY=VALUE - search by an attribute the app set, e.g. ticket_id=8812"
            )
        where[key.strip()] = value
    return where


def incident_status(params: Any) -> str:
    status = str(params.get("status", "all")).strip() or "all"
    if status not in (*INCIDENT_STATUSES, "all"):
        raise InvalidInput(f"status '{status}' is not one of {', '.join((*INCIDENT_STATUSES, 'all'))}")
    return status


# -- an annotation ---------------------------------------------------------------------------------


@dataclass(kw_only=True)
class Annotation:
    expected: Any
    grader: str
    options: dict[str, Any]
    tags: list[str]


def annotation(form: dict[str, str]) -> Annotation:
    """The annotation a form holds, before the grader registry checks it."""
    text = form.get("expected", "")
    if form.get("expected_json"):
        try:
            expected: Any = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f"the expected output is not valid JSON ({exc}) - fix it, or untick 'expected output is JSON'"
            ) from None
    else:
        # A browser sends a text area's line breaks as CRLF; the answer being described has LF.
        expected = text.replace("\r\n", "\n")
    options_text = form.get("options", "").strip()
    options: Any = {}
    if options_text:
        try:
            options = orjson.loads(options_text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(
                f'grader options are not valid JSON ({exc}) - write an object, e.g. {{"threshold": 0.8}}'
            ) from None
        if not isinstance(options, dict):
            raise InvalidInput('grader options must be a JSON object, e.g. {"threshold": 0.8}')
    tags = [t for t in form.get("tags", "").replace(",", " ").split() if t]
    return Annotation(expected=expected, grader=form.get("grader", "").strip(), options=options, tags=tags)
