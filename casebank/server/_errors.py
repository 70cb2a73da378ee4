"""Errors as HTTP answers: every error is `{"error": "<one line naming what was wrong and the fix>"}`.

casebank's own errors map by kind (a missing thing is 404, an ambiguous prefix or a transition
an incident's status forbids is 409, bad input is 400, a store that cannot answer is 503), so a
store backend never needs to know it is behind HTTP. So are the router's own refusals (no route,
a method the route does not take), which Starlette would answer as plain text.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from casebank.errors import (
    AmbiguousId,
    CasebankError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    StoreError,
)

__all__ = ["HTTPError", "error_response", "method_not_allowed", "status_for"]

logger = logging.getLogger("casebank.server")


class HTTPError(Exception):
    """An answer other than 2xx, raised wherever the request is found wanting."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def status_for(exc: CasebankError) -> int:
    # Order matters: StoreError, InvalidInput and the rest are all UsageErrors.
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (AmbiguousId, InvalidTransition)):
        return 409
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, InvalidInput):
        return 400
    return 400


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, exc.message, exc.headers)


async def on_casebank_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CasebankError)
    return error_response(status_for(exc), str(exc))


def method_not_allowed(method: str, path: str, allow: str) -> str:
    """The one line for a 405, from the route's `Allow` header ("GET, HEAD" reads "use GET")."""
    methods = sorted({m.strip() for m in allow.split(",") if m.strip()})  # a set in Starlette: any order
    if "GET" in methods and "HEAD" in methods:  # Starlette adds HEAD to every GET route
        methods.remove("HEAD")
    return f"{method} is not allowed on {path} - use {' or '.join(methods) or 'another route'}"


async def on_router_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTPException: the router's 404 and 405 (the pages under /ui answer their own)."""
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        message = f"no route {method} {path} - see /api/openapi.json for the routes"
    elif exc.status_code == 405:
        message = method_not_allowed(method, path, (exc.headers or {}).get("Allow", ""))
    else:
        message = f"{method} {path}: {exc.detail}"
    return error_response(exc.status_code, message, dict(exc.headers or {}) or None)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("casebank: %s %s failed", request.method, request.url.path)
    return error_response(500, f"the server failed on {request.method} {request.url.path} ({exc!r}) - see its log")


HANDLERS = {
    HTTPError: on_http_error,
    CasebankError: on_casebank_error,
    HTTPException: on_router_error,
    Exception: on_unexpected,
}
