"""Capture into a casebank server (`casebank.init(endpoint=...)`): OTLP/HTTP export, redacted first.

No store and no local file: casebank's spans go to the server's `/v1/traces` through
OpenTelemetry's own exporter (`opentelemetry-exporter-otlp-proto-http`, the extra
`casebank[otlp]`) behind its BatchSpanProcessor, with the bearer token in the `Authorization`
header. Secrets never leave the process: the exporter is handed copies of the spans redacted as
the store writer redacts its rows (`_rows.py`, `_redact.py`, and `init(redact=...)`'s `_pii.py`),
on the batch thread, never the app's. `init(otlp_endpoint=...)`'s exporter gets the same wrapper.

With the server down the app notices nothing: the exporter's retries run on the batch thread, a
full queue drops, and both losses are counted in `dropped_total` (as the store writer's
processor counts its own), with one warning. The BatchSpanProcessor exports on the calling thread
in `force_flush` and ignores its timeout (OTel Python #4568), so flush and shutdown run it on a
helper thread and wait only as long as they were asked to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from casebank.capture._attributes import SCOPE
from casebank.capture._rows import Redact, _plain, _redacted, redacted_text

__all__ = ["ExportingProcessor", "RedactingExporter", "exporting_processor"]

logger = logging.getLogger("casebank")


def traces_url(endpoint: str) -> str:
    """`http://host:4318` -> `http://host:4318/v1/traces`; a URL with a path is kept as it is."""
    return endpoint.rstrip("/") + "/v1/traces" if urlsplit(endpoint).path in ("", "/") else endpoint


class _Drops:
    """A thread-safe count of spans lost on the way, that warns once."""

    def __init__(self, endpoint: str) -> None:
        self.total = 0
        self._endpoint = endpoint
        self._lock = threading.Lock()

    def add(self, n: int, why: str) -> None:
        with self._lock:
            first = self.total == 0
            self.total += n
        if first:
            logger.warning("casebank: spans are being dropped - %s (sending to %s)", why, self._endpoint)


def redacted_copy(span: ReadableSpan, more: Redact | None = None) -> ReadableSpan:
    """A copy of `span` whose name, attributes, events (names too), links and status text hold no
    secrets (and, with `more`, no PII): names are free text that apps format (`fetch {url}`)."""
    scope = span.instrumentation_scope
    ours = scope is not None and scope.name.startswith(SCOPE)
    status = span.status
    if status.description:
        status = Status(status.status_code, redacted_text(status.description, more))
    return ReadableSpan(
        name=redacted_text(span.name, more),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_redacted(_plain(span.attributes), ours=ours, more=more),
        events=[
            Event(redacted_text(e.name, more), _redacted(_plain(e.attributes), more=more), e.timestamp)
            for e in span.events
        ],
        links=[Link(link.context, _redacted(_plain(link.attributes), more=more)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=scope,
    )


class RedactingExporter(SpanExporter):
    """Hands `inner` redacted copies of the spans; counts the spans of every failed export."""

    def __init__(self, inner: SpanExporter, drops: _Drops, redactor: Redact | None = None) -> None:
        self._inner = inner
        self._drops = drops
        self._more = redactor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export([redacted_copy(span, self._more) for span in spans])
        except Exception as exc:  # an exporter bug must not kill the batch thread
            self._drops.add(len(spans), f"the export failed: {exc!r}")
            return SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self._drops.add(len(spans), "the server did not take them (is it up, and is the token right?)")
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


class ExportingProcessor(SpanProcessor):
    """The span processor of `init(endpoint=...)`: a BatchSpanProcessor, counted and bounded in time.

    `keep` filters spans on a provider the app shares (casebank's and LLM spans only)."""

    def __init__(
        self, batch: Any, drops: _Drops, *, keep: Callable[[ReadableSpan], bool] | None = None, endpoint: str
    ) -> None:
        self._batch = batch
        self._drops = drops
        self._keep = keep
        self.endpoint = endpoint
        # The queue the BatchSpanProcessor drops from when full, if this SDK keeps one where we look.
        queue = getattr(getattr(batch, "_batch_processor", None), "_queue", None)
        self._queue = queue if queue is not None and getattr(queue, "maxlen", None) else None
        self._shutdown = False

    @property
    def dropped_total(self) -> int:
        """Spans lost since init: queue full, or the server did not take them."""
        return self._drops.total

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self._shutdown or (self._keep is not None and not self._keep(span)):
            return
        queue = self._queue
        if queue is not None and len(queue) >= queue.maxlen:
            self._drops.add(1, "the export queue is full")
        self._batch.on_end(span)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        if self._shutdown:
            return True
        return _within(timeout_millis / 1000, lambda: bool(self._batch.force_flush(timeout_millis)))

    def shutdown(self, timeout_s: float = 5.0) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        _within(timeout_s, lambda: self._batch.shutdown() or True)


def _within(timeout_s: float, work: Callable[[], bool]) -> bool:
    """`work()` on a helper thread; its result if it finished within `timeout_s`, else False."""
    done = threading.Event()
    result = [False]

    def run() -> None:
        try:
            result[0] = work()
        except Exception:
            result[0] = False
        finally:
            done.set()

    try:
        threading.Thread(target=run, name="casebank-export-flush", daemon=True).start()
    except RuntimeError:  # no thread to spare: the batch thread still exports on its own schedule
        return False
    return done.wait(max(0.0, timeout_s)) and result[0]


def exporting_processor(
    endpoint: str,
    token: str | None,
    *,
    keep: Callable[[ReadableSpan], bool] | None = None,
    redactor: Redact | None = None,
) -> ExportingProcessor:
    """The processor that sends casebank's spans to the server at `endpoint` (`http://host:4318`).

    ImportError naming the extra when the OTLP exporter is not installed."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise ImportError(
            "sending to a casebank server needs the OTLP exporter - pip install 'casebank[otlp]'"
        ) from None
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    headers = {"Authorization": f"Bearer {token}"} if token else None
    drops = _Drops(endpoint)
    exporter = RedactingExporter(OTLPSpanExporter(endpoint=traces_url(endpoint), headers=headers), drops, redactor)
    return ExportingProcessor(BatchSpanProcessor(exporter), drops, keep=keep, endpoint=endpoint)
