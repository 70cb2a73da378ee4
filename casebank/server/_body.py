"""Reading a request body within limits: size (413), encoding (gzip), content type (415).

The size limit holds for the body as sent and again after gunzip, so a small gzip bomb is
refused like a large body. A body over the limit is read to its end (up to a bound) before the
413 goes out, so that the client reads the answer instead of a reset connection.
"""

from __future__ import annotations

import zlib

import orjson
from starlette.requests import Request

from casebank.server._errors import HTTPError

__all__ = ["DEFAULT_MAX_BODY", "content_type", "read_body", "read_json"]

# The OpenTelemetry Collector's OTLP receiver takes 20 MiB by default: what a Collector sends fits.
DEFAULT_MAX_BODY = 20 * 1024 * 1024
_DRAIN_FACTOR = 4  # past this many limits, stop reading and let the connection close


def content_type(request: Request, accepted: tuple[str, ...]) -> str:
    """The request's media type if it is one of `accepted`; HTTPError 415 otherwise."""
    given = request.headers.get("content-type", "")
    media = given.split(";", 1)[0].strip().lower()
    if media == "application/protobuf":
        media = "application/x-protobuf"
    if media not in accepted:
        raise HTTPError(415, f"Content-Type '{given or '(none)'}' is not accepted here - send {' or '.join(accepted)}")
    return media


async def read_body(request: Request, limit: int) -> bytes:
    """The body, gunzipped when Content-Encoding says gzip; 413 past `limit` bytes, 400 for a
    corrupt or cut gzip stream, 415 for another encoding."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise HTTPError(415, f"Content-Encoding '{encoding}' is not supported - send gzip or no encoding")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > limit * _DRAIN_FACTOR:
            break  # read enough of it: uvicorn closes the connection after the answer
    if size > limit:
        raise _too_large(limit)
    body = b"".join(chunks)
    return _gunzip(body, limit) if encoding == "gzip" else body


async def read_json(request: Request, limit: int) -> object:
    """A JSON body (an API call's); 400 naming the problem when it does not parse."""
    if request.headers.get("content-type"):
        content_type(request, ("application/json",))
    body = await read_body(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPError(400, f"the body is not JSON ({exc}) - send a JSON object") from None


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, f"the body is over the server's limit of {limit // (1024 * 1024)} MiB - send smaller batches")


def _gunzip(body: bytes, limit: int) -> bytes:
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(body, limit + 1)
    except zlib.error as exc:
        raise HTTPError(400, f"the gzip body is corrupt ({exc}) - send it whole, or without Content-Encoding") from None
    if len(data) > limit:
        raise _too_large(limit)
    if not inflate.eof:
        raise HTTPError(400, "the gzip body is cut short - send it whole, or without Content-Encoding")
    return data
