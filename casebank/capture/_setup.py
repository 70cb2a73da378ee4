"""`init`, `flush`, `shutdown`, `current_trace_id`: the capture SDK's life cycle.

casebank makes its own TracerProvider rather than replacing the app's global one: the app's
own spans are never collected, while casebank's spans still join the app's active trace,
because parent lookup goes through the shared OpenTelemetry context, not the provider. With
`tracer_provider=`, casebank adds its processor to the app's provider instead and keeps only
its own and LLM spans from it.

The OpenTelemetry SDK is imported here lazily, on `init()`, so that `import casebank` stays
cheap for a product that imports it everywhere but initialises it once.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as otel_trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

    from casebank.capture._processor import StoreSpanProcessor
    from casebank.store._open import StoreURL

logger = logging.getLogger("casebank")

REPLAY_ENV = "CASEBANK_REPLAY"  # set by `cases run`: replays must not write production traces
OPEN_TIMEOUT_S = 10.0
ATEXIT_FLUSH_S = 5.0


@dataclass
class _State:
    tracer: otel_trace.Tracer | None = None
    capture_content: bool = True
    provider: Any = None
    processor: StoreSpanProcessor | None = None
    owns_provider: bool = False
    store_url: StoreURL | None = None
    otlp: Any = None  # the BatchSpanProcessor of an OTLP exporter on casebank's own provider


state = _State()
_lock = threading.RLock()


def init(
    db: str | os.PathLike[str] | None = None,
    *,
    service_name: str | None = None,
    tracer_provider: TracerProvider | None = None,
    instrument: bool | Sequence[str] = True,
    capture_content: bool = True,
    otlp_endpoint: str | None = None,
) -> None:
    """Start capturing: call once at start-up. Never raises; if the store cannot be opened,
    logs one warning and the app runs untraced. A second call does nothing.

    `db`: the store, a path or URL (see `casebank.store.open_store`); by default `CASEBANK_DB`,
    else `.casebank/casebank.db`. `instrument`: True instruments every supported LLM client
    package that is installed, a list of names (e.g. `["openai"]`) picks some, False none.
    `capture_content=False` keeps metadata and drops message content. `otlp_endpoint` (or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) also sends casebank's spans over OTLP/HTTP."""
    with _lock:
        if state.tracer is not None:
            return
        if os.environ.get(REPLAY_ENV):
            logger.debug("casebank: %s is set, capture stays off during replay", REPLAY_ENV)
            return
        try:
            state.capture_content = capture_content
            _start(db, service_name, tracer_provider, otlp_endpoint)
        except Exception as exc:  # init must never break the app
            logger.warning("casebank: capture is off - %s", exc)
            return
        if instrument:
            _instrument(instrument)


def _instrument(which: bool | Sequence[str]) -> None:
    try:
        from casebank.integrations import instrument_installed

        instrument_installed(None if which is True else list(which))  # type: ignore[arg-type]
    except Exception as exc:
        logger.warning("casebank: LLM client instrumentation is off - %s", exc)


def attach(
    tracer_provider: Any,
    db: str | os.PathLike[str] | None = None,
    *,
    instrument: bool | Sequence[str] = True,
    capture_content: bool = True,
) -> None:
    """Capture into casebank through the app's own OpenTelemetry provider.

    The same as `casebank.init(db, tracer_provider=provider, ...)`: casebank adds its processor
    to `tracer_provider` and stores its own spans and the LLM spans of any instrumentation on
    that provider (OpenLLMetry, OpenInference, OTel contrib), shown by `cases show` as its
    own. The app's other spans are not stored. Never raises; a second call does nothing."""
    init(db, tracer_provider=tracer_provider, instrument=instrument, capture_content=capture_content)


def _start(
    db: str | os.PathLike[str] | None, service_name: str | None, tracer_provider: Any, otlp_endpoint: str | None
) -> None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    from casebank import __version__
    from casebank.capture._attributes import SCOPE
    from casebank.capture._processor import StoreSpanProcessor
    from casebank.store import parse_store_url

    where = parse_store_url(db).absolute()  # a later chdir in the app must not move a SQLite store
    owns = tracer_provider is None
    if owns:
        resource = Resource.create({"service.name": service_name} if service_name else {})
        provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, shutdown_on_exit=False)
    elif not hasattr(tracer_provider, "add_span_processor"):
        raise TypeError(f"tracer_provider {tracer_provider!r} is not an OpenTelemetry SDK TracerProvider")
    else:
        provider = tracer_provider
    processor = StoreSpanProcessor(where, keep=None if owns else _keep_from_shared_provider())
    problem = processor.wait_until_open(OPEN_TIMEOUT_S)
    if problem is not None:
        processor.shutdown()
        raise RuntimeError(problem)
    provider.add_span_processor(processor)
    endpoint = otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    otlp = None
    if endpoint and owns:
        from casebank.capture._otlp import add_otlp_exporter

        otlp = add_otlp_exporter(provider, endpoint)
    state.provider, state.processor, state.owns_provider, state.store_url = provider, processor, owns, where
    state.otlp = otlp
    state.tracer = provider.get_tracer(SCOPE, __version__)
    atexit.register(_at_exit)


def _keep_from_shared_provider() -> Callable[[ReadableSpan], bool]:
    from casebank.capture._processor import keep_casebank_and_llm_spans
    from casebank.integrations._core import repeats_a_call

    def keep(span: ReadableSpan) -> bool:
        # casebank's spans and LLM spans, but not another instrumentation's second span for a call
        # casebank records itself (see `casebank.integrations._core`)
        return keep_casebank_and_llm_spans(span) and not repeats_a_call(span)

    return keep


def configured_db() -> StoreURL | None:
    """The store `init()` writes to, if capture is on."""
    return state.store_url


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
    with _lock:
        processor, provider, owns = state.processor, state.provider, state.owns_provider
        if processor is None:
            return
        state.tracer = None
        state.processor = state.provider = state.store_url = None
        state.otlp = None
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
