"""Capture's life cycle: `start` (called by `casebank.init()`), `flush`, `shutdown`, `current_trace_id`.

casebank makes its own TracerProvider rather than replacing the app's global one: the app's
own spans are never collected, while casebank's spans still join the app's active trace,
because parent lookup goes through the shared OpenTelemetry context, not the provider. With
`tracer_provider=`, casebank adds its processor to the app's provider instead and keeps only
its own and LLM spans from it.

The OpenTelemetry SDK is imported here lazily, on `init()`, so that `import casebank` stays
cheap for a product that imports it everywhere but initialises it once. The state this sets up
lives in `casebank._runtime`, where the integrations read it too.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as otel_trace

from casebank._runtime import lock, state

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from casebank.store._open import StoreURL

logger = logging.getLogger("casebank")

OPEN_TIMEOUT_S = 10.0
ATEXIT_FLUSH_S = 5.0


def start(
    db: str | os.PathLike[str] | None,
    *,
    service_name: str | None,
    tracer_provider: Any,
    otlp_endpoint: str | None,
    capture_content: bool,
    also_drop: Callable[[ReadableSpan], bool] | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    redact: Sequence[str | Callable[[str], str]] | None = None,
) -> None:
    """Start capturing into the store at `db`, or into the casebank server at `endpoint` (also
    when `db` is an http(s):// URL); raises (for init to log) when it cannot.

    On the app's own provider only casebank's and LLM spans are kept, less those `also_drop`
    says are not the app's LLM calls (another instrumentation's second span for a call casebank
    records itself). `redact`: PII redactors by name and a team's callables (`_pii.py`), run
    after the secret nets wherever spans go (store writer, server export, OTLP export); None:
    the project config's `redact`. The caller holds `casebank._runtime.lock`."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    from casebank._config_file import configured_redact
    from casebank._version import __version__
    from casebank.capture._attributes import SCOPE
    from casebank.capture._pii import redactor
    from casebank.store import parse_store_url

    if endpoint and not endpoint.lower().startswith(("http://", "https://")):
        raise ValueError(f"endpoint '{endpoint}' is not a URL - pass http(s)://HOST:PORT of 'cases serve'")
    where = parse_store_url(endpoint or db).absolute()  # a later chdir in the app must not move a SQLite store
    server = where.url if where.backend == "http" else None  # init(db="http://...") sends there too
    owns = tracer_provider is None
    if owns:
        resource = Resource.create({"service.name": service_name} if service_name else {})
        provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, shutdown_on_exit=False)
    elif not hasattr(tracer_provider, "add_span_processor"):
        raise TypeError(f"tracer_provider {tracer_provider!r} is not an OpenTelemetry SDK TracerProvider")
    else:
        provider = tracer_provider
    keep = None if owns else _keep_from_shared_provider(also_drop)
    # Set before any span can end: the writer reads it for every batch.
    more = state.redactor = redactor(configured_redact() if redact is None else redact)
    processor: Any
    if server:
        from casebank.capture._export import exporting_processor

        processor = exporting_processor(server, token, keep=keep, redactor=more)  # no store: the server has it
    else:
        from casebank.capture._processor import StoreSpanProcessor

        processor = StoreSpanProcessor(where, keep=keep)
        problem = processor.wait_until_open(OPEN_TIMEOUT_S)
        if problem is not None:
            processor.shutdown()
            raise RuntimeError(problem)
    provider.add_span_processor(processor)
    also_to = otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    otlp = None
    if also_to and owns:
        from casebank.capture._otlp import add_otlp_exporter

        otlp = add_otlp_exporter(provider, also_to, more)
    state.capture_content = capture_content
    state.provider, state.processor, state.owns_provider, state.store = provider, processor, owns, where
    state.token = token if server else None
    state.otlp = otlp
    state.tracer = provider.get_tracer(SCOPE, __version__)
    atexit.register(_at_exit)


def _keep_from_shared_provider(also_drop: Callable[[ReadableSpan], bool] | None) -> Callable[[ReadableSpan], bool]:
    from casebank.capture._processor import keep_casebank_and_llm_spans

    if also_drop is None:
        return keep_casebank_and_llm_spans

    def keep(span: ReadableSpan) -> bool:
        return keep_casebank_and_llm_spans(span) and not also_drop(span)

    return keep


def configured_db() -> StoreURL | None:
    """The store `init()` writes to (for `init(endpoint=...)`, the server), if capture is on."""
    store: StoreURL | None = state.store
    return store


def configured_token() -> str | None:
    """The token `init(endpoint=..., token=...)` sends to the server, if capture is on."""
    token: str | None = state.token
    return token


def flush(timeout_s: float = 5.0) -> bool:
    """Write every span finished so far, and send it on to the OTLP endpoint if one is set;
    True if all of it was done within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    written = flush_store(timeout_s)
    otlp = state.otlp
    if otlp is None:
        return written  # on the app's provider, its other processors are the app's to flush
    # Only the exporter's processor: the provider's force_flush would flush the store again.
    return _flush_exporter(otlp, deadline) and written


def flush_store(timeout_s: float = 5.0) -> bool:
    """Write every span finished so far to the store; True if all were written within `timeout_s`."""
    processor = state.processor
    if processor is None:
        return True
    try:
        return processor.force_flush(int(timeout_s * 1000))
    except Exception:
        return False


def _flush_exporter(otlp: Any, deadline: float) -> bool:
    # The OTLP BatchSpanProcessor exports on the calling thread and ignores its timeout (OTel
    # Python #4568), so a hung collector would hold the app for the exporter's 10 s: flush it
    # on a helper thread and wait only until the deadline.
    done = threading.Event()
    result = [False]

    def run() -> None:
        try:
            result[0] = bool(otlp.force_flush(max(1, int((deadline - time.monotonic()) * 1000))))
        except Exception:
            result[0] = False
        finally:
            done.set()

    try:
        threading.Thread(target=run, name="casebank-flush", daemon=True).start()
    except RuntimeError:  # no thread to spare: the batch processor still exports on its own schedule
        return False
    return done.wait(max(0.0, deadline - time.monotonic())) and result[0]


def shutdown() -> None:
    """Write what is queued (bounded in time) and stop capturing. Safe to call twice."""
    with lock:
        processor, provider, owns = state.processor, state.provider, state.owns_provider
        if processor is None:
            return
        state.tracer = None
        state.processor = state.provider = state.store = None
        state.otlp = state.token = None
        atexit.unregister(_at_exit)
    try:
        processor.shutdown(ATEXIT_FLUSH_S)
        if owns:
            provider.shutdown()
    except Exception as exc:
        logger.warning("casebank: shutdown did not finish cleanly - %s", exc)


def _at_exit() -> None:
    shutdown()


def current_trace_id() -> str | None:
    """The 32-hex id of the active trace, to hand back with the answer so support can flag it."""
    ctx = otel_trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
