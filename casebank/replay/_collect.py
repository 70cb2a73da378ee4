"""What a case did while it replayed: its spans, collected in memory, never written to the store.

During a run `casebank.init()` does nothing (`REPLAY_ENV`), so nothing reaches the store. For
the span graders the run still traces: `replay_tracing()` puts a tracer of its own in the SDK's
runtime state (where `@casebank.trace`, `@casebank.tool`, `casebank.span` and the openai /
anthropic instrumentation look for it), instruments the installed LLM client packages, and
hands every finished span to an in-memory collector. It puts the app's tracer back afterwards;
instrumentation stays, and with no tracer its wrappers are plain calls.

Each replay attempt of a case is one `CaseSession`: it starts a root span (so that every span
of the case, however deep, shares its trace id - that id is how the collector keeps cases apart)
and binds the case's tool answers (`CaseFixtures`) in a context variable. Both live in the
context of the attempt: async targets run in it, sync targets in a copy of it (the runner's
`_call`), so fifty cases in flight never see each other's spans or fixtures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from casebank._runtime import lock, state
from casebank._version import __version__
from casebank.capture._attributes import SCOPE
from casebank.capture._tool import answering, stop_answering
from casebank.replay._fixtures import CaseFixtures
from casebank.replay.graders import Replay

__all__ = ["CaseSession", "ReplayTracing", "replay_tracing", "span_dict"]

REPLAY_SPAN = "casebank.replay"


class _Collector(SpanProcessor):
    """Finished spans to the bucket of their trace (a case in flight); others are dropped."""

    def __init__(self, buckets: dict[int, list[ReadableSpan]]) -> None:
        self._buckets = buckets

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None:
            return
        bucket = self._buckets.get(context.trace_id)
        if bucket is not None:
            bucket.append(span)  # atomic under the GIL: spans end in the cases' threads


class ReplayTracing:
    """The run's tracer and the buckets its spans are collected in."""

    def __init__(self) -> None:
        self.buckets: dict[int, list[ReadableSpan]] = {}
        self.provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
        self.provider.add_span_processor(_Collector(self.buckets))
        self.tracer = self.provider.get_tracer(SCOPE, __version__)

    def session(self, fixtures: CaseFixtures) -> CaseSession:
        return CaseSession(self, fixtures)


class CaseSession:
    """One attempt at one case: `begin()` and `end()` in the same context (the attempt's task)."""

    def __init__(self, tracing: ReplayTracing, fixtures: CaseFixtures) -> None:
        self.tracing = tracing
        self.fixtures = fixtures
        self.spans: list[ReadableSpan] = []
        self._root: Any = None
        self._tokens: tuple[Any, Any] | None = None

    def begin(self) -> None:
        root = self.tracing.tracer.start_span(REPLAY_SPAN)
        self._root = root
        self.tracing.buckets[root.get_span_context().trace_id] = self.spans
        self._tokens = (otel_context.attach(otel_trace.set_span_in_context(root)), answering(self.fixtures))

    def end(self) -> None:
        if self._tokens is None:
            return
        context_token, answers_token = self._tokens
        self._tokens = None
        stop_answering(answers_token)
        otel_context.detach(context_token)
        self.tracing.buckets.pop(self._root.get_span_context().trace_id, None)
        self._root.end()

    def replay(self, latency_ms: float) -> Replay:
        """What the span graders read of this attempt."""
        return Replay(spans=[span_dict(span) for span in list(self.spans)], latency_ms=latency_ms)


def span_dict(span: ReadableSpan) -> dict[str, Any]:
    """A collected span in the shape the store gives a trace's spans (`Store.trace_spans`)."""
    context, parent = span.context, span.parent
    start, end = span.start_time or 0, span.end_time or span.start_time or 0
    return {
        "span_id": format(context.span_id, "016x") if context is not None else None,
        "parent_span_id": format(parent.span_id, "016x") if parent is not None else None,
        "name": span.name,
        "start_ns": start,
        "duration_ms": (end - start) / 1e6,
        "status": "error" if span.status.status_code is otel_trace.StatusCode.ERROR else "ok",
        "status_message": span.status.description,
        "attributes": dict(span.attributes or {}),
    }


@contextlib.contextmanager
def replay_tracing() -> Iterator[ReplayTracing]:
    """For the length of a run: casebank's spans and the LLM clients' go to the replay's collector."""
    tracing = ReplayTracing()
    with lock:
        saved = (state.tracer, state.owns_provider, state.capture_content)
        state.tracer, state.owns_provider, state.capture_content = tracing.tracer, True, True
    _instrument()
    try:
        yield tracing
    finally:
        with lock:
            if state.tracer is tracing.tracer:
                state.tracer, state.owns_provider, state.capture_content = saved


def _instrument() -> None:
    try:
        from casebank.integrations import instrument_installed

        instrument_installed()
    except Exception:  # the span graders then see no LLM calls; the replay itself is unaffected
        pass
