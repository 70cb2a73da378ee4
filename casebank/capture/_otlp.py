"""Sending casebank's spans on to any OTLP/HTTP collector or backend, with the standard exporter.

The exporter is OpenTelemetry's own (`opentelemetry-exporter-otlp-proto-http`, the extra
`casebank[otlp]`), behind its own BatchSpanProcessor: a slow or dead collector costs the app a
queue append, exactly like the store writer, and never blocks casebank's store. The exporter is
handed redacted copies of the spans, as the store writer redacts its rows (`_export.RedactingExporter`):
a collector is no place for a secret either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from casebank.capture._export import RedactingExporter, _Drops, traces_url

logger = logging.getLogger("casebank")


def add_otlp_exporter(provider: Any, endpoint: str, redactor: Callable[[str], str] | None = None) -> Any:
    """Add an OTLP/HTTP exporter to `provider` and return its BatchSpanProcessor; None (with one
    warning) if it cannot be set up."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning("casebank: OTLP export needs the otlp extra - pip install 'casebank[otlp]'")
        return None
    try:
        exporter = RedactingExporter(OTLPSpanExporter(endpoint=traces_url(endpoint)), _Drops(endpoint), redactor)
        exporting = BatchSpanProcessor(exporter)
        provider.add_span_processor(exporting)
    except Exception as exc:
        logger.warning("casebank: OTLP export to %s is off - %s", endpoint, exc)
        return None
    return exporting
