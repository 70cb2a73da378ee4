"""Rendering the review pages, and the headers every answer under /ui carries.

Trace content is untrusted: users wrote the prompts and models the outputs. So every value
reaches a page through Jinja2 with autoescape on, templates never mark trace content `|safe`
(only the SVG charts, which `casebank.replay._report_html` builds escaping every text), and each
answer under /ui - pages, static files, redirects, errors, even a 404 from the router - carries
a Content-Security-Policy that allows no script at all, styles and images only from this server,
forms posting only back to it, and no framing: markup that slipped through would still be inert.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casebank.ui._views import readable

__all__ = ["SECURITY_HEADERS", "STATIC", "SecurityHeaders", "page"]

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


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer, and `no-store` unless it says otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        except HTTPException as exc:  # the router's 405: answered here, so that it carries the headers too
            message = f"{scope.get('method')} is not allowed on {scope.get('path')} ({exc.detail})"
            await PlainTextResponse(message, status_code=exc.status_code, headers=exc.headers)(
                scope, receive, with_headers
            )
