"""POST /v1/traces: the OTLP/HTTP traces receiver.

The body is checked (content type, size, gzip), decoded and turned into rows in the thread pool
without the store's lock, then written as one transaction; the answer goes out after the commit,
so an exporter that got 2xx may forget the batch. An empty or wholly refused request writes
nothing and still answers 200 with its partial success, as the OTLP specification says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from casebank.server import _otlp
from casebank.server._auth import Auth
from casebank.server._body import content_type, read_body
from casebank.server._calls import StoreCalls
from casebank.store import PreparedSpans, Store

__all__ = ["ingest_route"]

logger = logging.getLogger("casebank.server")


def ingest_route(auth: Auth, calls: StoreCalls, max_body: int, redactor: Callable[[str], str] | None = None) -> Route:
    store = calls.store
    # Decoding and redacting hold the GIL: two requests doing it at once take as long as one after
    # the other, and every extra thread wanting the GIL delays the flags and reads in between.
    # One converts while another writes (the store's C code lets the GIL go).
    converting = anyio.Semaphore(1)

    async def ingest(request: Request) -> Response:
        await auth.require(request, "ingest")
        media = content_type(request, (_otlp.PROTOBUF, _otlp.JSON))
        logger.debug("casebank: receiving OTLP (%s bytes)", request.headers.get("content-length", "chunked"))
        body = await read_body(request, max_body)
        async with converting:
            decoded, prepared = await calls.off_loop(_prepare, store, body, media, redactor)
        if prepared is not None:
            await calls.bulk(store.write_prepared, prepared)
        return Response(_otlp.answer(decoded, media), media_type=media)

    return Route("/v1/traces", ingest, methods=["POST"])


def _prepare(
    store: Store, body: bytes, media: str, redactor: Callable[[str], str] | None
) -> tuple[_otlp.Decoded, PreparedSpans | None]:
    decoded = _otlp.decode(body, media)
    if not decoded.spans:
        return decoded, None
    spans, traces = _otlp.rows_of(decoded, redactor)
    return decoded, store.prepare_spans(spans, traces)
