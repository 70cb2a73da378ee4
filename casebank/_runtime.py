"""The capture SDK's state at run time, shared by capture and the integrations: a leaf both read.

Neither side owns it: `casebank.init()` (`casebank/_init.py`) fills it by starting capture, and
the integrations' wrappers read the tracer and the content setting from it on every LLM call.
It imports nothing of casebank's, so that capture and integrations never import each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["REPLAY_ENV", "Runtime", "SpanWriter", "lock", "state"]

REPLAY_ENV = "CASEBANK_REPLAY"  # set by `cases run`: a replay must not write production traces


class SpanWriter(Protocol):
    """What the rest of the SDK asks of capture's span processor."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool: ...
    def shutdown(self, timeout_s: float = 5.0) -> None: ...


@dataclass
class Runtime:
    tracer: Tracer | None = None  # None: capture is off, and every casebank wrapper is a plain call
    capture_content: bool = True
    provider: Any = None  # the OpenTelemetry SDK TracerProvider casebank's spans go through
    processor: SpanWriter | None = None
    owns_provider: bool = False  # False when casebank shares the app's provider (`attach`)
    store: Any = None  # the StoreURL capture writes to
    otlp: Any = None  # the BatchSpanProcessor of an OTLP exporter on casebank's own provider
    token: str | None = None  # the bearer token of `init(endpoint=...)`, for `casebank.flag()` to that server
    redactor: Any = None  # `init(redact=...)`'s redaction after the secret nets (capture/_pii.py), or None


state = Runtime()
lock = threading.RLock()  # held while capture starts or stops
