"""The Starlette application of `cases serve`: routes, error answers, the store's life.

One store serves every request (a SQLite connection, or PostgreSQL's pool); the server keeps
nothing else, so any number of servers may serve one store. The lifespan starts the retention
thread and, when uvicorn has drained the requests in flight, stops it and closes the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from casebank.server._api import api_routes
from casebank.server._auth import Auth
from casebank.server._body import DEFAULT_MAX_BODY
from casebank.server._calls import StoreCalls
from casebank.server._errors import HANDLERS, HTTPError
from casebank.server._ingest import ingest_route
from casebank.server._openapi import openapi
from casebank.server._retention import Retention
from casebank.store import Store

__all__ = ["ExtraRoutes", "create_app"]

# Routes another package adds (the review pages, `casebank.ui`), made from the server's own store
# calls and token checks: the server mounts them without importing what they need (replay).
ExtraRoutes = Callable[[StoreCalls, Auth], Sequence[BaseRoute]]


def create_app(
    store: Store,
    *,
    admin_token: str | None,
    serialize: bool,
    max_body: int = DEFAULT_MAX_BODY,
    retention_days: int | None = None,
    extra_routes: ExtraRoutes | None = None,
) -> Starlette:
    """The server over `store`, which it closes on shutdown. `serialize`: the store's calls must
    take turns (one SQLite connection). `retention_days`: prune older traces once a day.
    `extra_routes`: more routes, made from the store calls and token checks (the review pages)."""
    calls = StoreCalls(store, serialize=serialize)
    auth = Auth(admin_token, calls)
    retention = Retention(calls, retention_days) if retention_days else None

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        try:
            await calls(store.ping)
        except Exception as exc:
            raise HTTPError(503, f"the store is not answering: {exc}") from None
        return JSONResponse({"status": "ready"})

    spec = openapi()

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(spec)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if retention is not None:
            retention.start()
        try:
            yield
        finally:
            if retention is not None:
                await calls.off_loop(retention.stop)
            await calls(store.close)

    routes: list[Any] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        ingest_route(auth, calls, max_body),
        *api_routes(auth, calls),
        *(extra_routes(calls, auth) if extra_routes is not None else ()),
    ]
    return Starlette(routes=routes, exception_handlers=dict(HANDLERS), lifespan=lifespan)
