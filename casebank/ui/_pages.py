"""Rendering the review pages, and the headers every answer under /ui carries.

Trace content is untrusted: users wrote the prompts and models the outputs. So every value
reaches a page through Jinja2 with autoescape on, templates never mark trace content `|safe`
(only the SVG charts, which `casebank.replay._report_html` builds escaping every text), and each
answer under /ui - pages, static files, redirects, errors, even a 404 from the router - carries
a Content-Security-Policy that allows no script at all, styles and images only from this server,
forms posting only back to it, and no framing: markup that slipped through would still be inert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casebank.server._errors import method_not_allowed
from casebank.ui._views import readable

__all__ = ["SECURITY_HEADERS", "STATIC", "ProblemPage", "SecurityHeaders", "page", "refusal"]

HERE = Path(__file__).parent
STATIC = HERE / "static"

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["readable"] = readable
    return env


def page(
    template: str, context: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    html = _environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


# The page for a refusal the router or the static files raise: (request, status, one-line message).
ProblemPage = Callable[[Request, int, str], Response]


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer, and `no-store` unless it says otherwise.
    The router's 405 and the static files' 404 are HTTPExceptions raised past the handlers: they
    are answered here, by `problem` (plain text without it), so that they carry the headers too."""

    def __init__(self, app: ASGIApp, problem: ProblemPage | None = None) -> None:
        self.app = app
        self.problem = problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except HTTPException as exc:
            request = Request(scope, receive)
            message = refusal(request, exc)
            if self.problem is None:
                response: Response = PlainTextResponse(message, status_code=exc.status_code)
            else:
                response = self.problem(request, exc.status_code, message)
            response.headers.update(exc.headers or {})  # a 405's Allow
            await response(scope, receive, with_headers)


def refusal(request: Request, exc: HTTPException) -> str:
    """The one line for an HTTPException under /ui: what was wrong, and where to go instead."""
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        return f"there is no page {path} - start from the traces at /ui/traces"
    if exc.status_code == 405:
        return method_not_allowed(method, path, (exc.headers or {}).get("Allow", ""))
    return f"{method} {path}: {exc.detail}"
