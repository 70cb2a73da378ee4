"""Sending casebank's spans on to any OTLP/HTTP collector or backend, with the standard exporter.

The exporter is OpenTelemetry's own (`opentelemetry-exporter-otlp-proto-http`, the extra
`casebank[otlp]`), behind its own BatchSpanProcessor: a slow or dead collector costs the app a
queue append, exactly like the store writer, and never blocks casebank's store.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("casebank")


def traces_url(endpoint: str) -> str:
    """`http://host:4318` -> `http://host:4318/v1/traces`; a URL with a path is kept as it is."""
    return endpoint.rstrip("/") + "/v1/traces" if urlsplit(endpoint).path in ("", "/") else endpoint


def add_otlp_exporter(provider: Any, endpoint: str) -> Any:
    """Add an OTLP/HTTP exporter to `provider` and return its BatchSpanProcessor; None (with one
    warning) if it cannot be set up."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        logger.warning("casebank: OTLP export needs the otlp extra - pip install 'casebank[otlp]'")
        return None
    try:
        exporting = BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))
        provider.add_span_processor(exporting)
    except Exception as exc:
        logger.warning("casebank: OTLP export to %s is off - %s", endpoint, exc)
        return None
    return exporting
