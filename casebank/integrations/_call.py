"""One LLM call = one span, recorded once when the call ends.

Everything here runs on the app's request path, so it does the least it can. When the call
starts: one look at the current span (for duplicates), the tracer's sampler, fresh ids, and the
request attributes. While the SDK works, a non-recording span with those ids is current, so
spans opened inside the call nest under it and the request carries its trace context. When the
call ends: the answer's attributes, and the finished span goes to the tracer's span processors
as one `ReadableSpan`. That skips the SDK's live-span machinery (attribute validation and a lock
per attribute), most of what an SDK span costs and so most of what an instrumentation
costs; the processors (casebank's store writer, an OTLP exporter, the app's own when casebank
shares its provider) see the same finished span. They get no `on_start` for it.

When another instrumentation's span already covers the call, `start` returns a call that records
no span of its own and only lends that span the messages (see `_duplicates`).

Message content is converted to the GenAI semconv shape (role + parts) and serialised once with
orjson, only when `capture_content` is on. Nothing here may raise into the app: a failure is
logged once, counted, and the app's call goes on (`_failures`).

Attributes follow the OpenTelemetry GenAI semantic conventions v1.37 (`gen_ai.provider.name`,
`gen_ai.input.messages`, ...); casebank's own fields are `casebank.*`.
"""

from __future__ import annotations

import contextvars
import time
import traceback
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from casebank._runtime import state
from casebank.capture._attributes import OPERATION, PROVIDER, SCOPE, SEMCONV_VERSION
from casebank.integrations._attributes import (
    ERROR_TYPE,
    FIRST_CHUNK_MS,
    HTTP_STATUS,
    SEMCONV,
    SERVER_ADDRESS,
    SERVER_PORT,
    STREAM,
    STREAM_END,
)
from casebank.integrations._duplicates import already_captured, lend_content, remember
from casebank.integrations._failures import warn
from casebank.integrations._provider import Endpoint
from casebank.integrations._server import server_of

__all__ = ["Call", "start"]

# True while a casebank wrapper runs the SDK call: a second casebank wrapper below it (a client
# wrapped and also instrumented globally, a provider's function calling an SDK that is also
# instrumented, or a wrapper another package's unwrap left behind) must not record the same call
# again, whatever spans other instrumentation opened in between.
_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("casebank_llm_call", default=False)


class Pending(NonRecordingSpan):
    """The current span while an SDK call runs: the context of the span casebank records when the
    call ends, so that spans opened inside the call (HTTP clients, the SDK's own) nest under it
    and the request carries its trace context."""


class Call:
    """One LLM call: its span's identity and request attributes, taken when the call starts, and
    for a stream what has arrived so far. The span is recorded once, when the call ends.

    Ids come from the tracer's id generator and the sampler is the tracer's (see the module
    docstring for why the span is recorded after the fact).
    """

    __slots__ = (
        "acc",
        "attributes",
        "capture",
        "context",
        "endpoint",
        "first_ns",
        "hide",
        "last_ns",
        "name",
        "open",
        "parent",
        "start_ns",
        "started_in",
        "target",
        "tracer",
    )

    def __init__(
        self,
        tracer: Any,
        endpoint: Endpoint,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        started_in: otel_context.Context,
        attributes: dict[str, Any],
        capture: bool,
    ) -> None:
        self.tracer = tracer
        self.endpoint = endpoint
        self.name = name
        self.context = context
        self.parent = parent
        self.started_in = started_in  # the OTel context current when the call started
        self.attributes = attributes
        self.capture = capture
        self.open = True
        self.acc: Any = None
        self.hide: Callable[[Any], bool] | None = None
        self.first_ns = 0
        self.last_ns = 0
        self.target: Any = None  # another instrumentation's enclosing span, when it is the call's span
        self.start_ns = time.time_ns()

    def activate(self) -> tuple[object, object]:
        """Make the call's span current for the duration of the SDK call (which starts right after
        `start()`, in the same context)."""
        if self.target is not None:  # the enclosing span stays current: it is the call's span
            return None, _inside.set(True)
        active = otel_trace.set_span_in_context(Pending(self.context), self.started_in)
        return otel_context.attach(active), _inside.set(True)

    @staticmethod
    def deactivate(tokens: tuple[object, object]) -> None:
        _inside.reset(tokens[1])  # type: ignore[arg-type]
        if tokens[0] is not None:
            otel_context.detach(tokens[0])  # type: ignore[arg-type]

    def _record(self, status: Status, events: tuple[Event, ...] = (), end_ns: int | None = None) -> None:
        if self.target is not None:
            lend_content(self.target, self.attributes)
            return
        try:
            tracer = self.tracer
            span = ReadableSpan(
                name=self.name,
                context=self.context,
                parent=self.parent,
                resource=tracer.resource,
                attributes=self.attributes,
                events=events,
                kind=SpanKind.CLIENT,
                status=status,
                start_time=self.start_ns,
                end_time=end_ns or time.time_ns(),
                instrumentation_scope=_scope(),
            )
            tracer.span_processor.on_end(span)
        except Exception as exc:  # a processor that raises must not reach the app
            warn(exc)

    def finish(self, result: Any) -> None:
        """End a plain (not streamed) call with its answer."""
        if not self.open:
            return
        self.open = False
        end_ns = time.time_ns()
        try:
            self.attributes.update(self.endpoint.response(result, self.capture))
        except Exception as exc:
            warn(exc)
        self._record(_OK, end_ns=end_ns)

    def fail(self, exc: BaseException) -> None:
        """End the call with the error the SDK raised (the caller re-raises it unchanged)."""
        if not self.open:
            return
        self.open = False
        end_ns = time.time_ns()
        events: tuple[Event, ...] = ()
        try:
            attributes = self.attributes
            attributes[ERROR_TYPE] = type(exc).__qualname__
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                attributes[HTTP_STATUS] = status
            if self.acc is not None:
                attributes.update(self.acc.attributes(self.capture))
                attributes[STREAM_END] = "error"
            events = (_exception_event(exc, end_ns),)
        except Exception as own:
            warn(own)
        self._record(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"), events, end_ns)

    # -- streams -----------------------------------------------------------------------------------

    def chunk(self, item: Any) -> bool:
        """Record one streamed item; True when the app must not see it (a usage chunk we asked for)."""
        now = time.time_ns()
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now
        hidden = False
        if self.hide is not None:
            try:
                hidden = self.hide(item)
            except Exception as exc:
                self.hide = None
                warn(exc)
        acc = self.acc
        if acc is not None:
            try:
                acc.add(item)
            except Exception as exc:
                self.acc = None  # stop accumulating; the span still ends with what it has
                warn(exc)
        return hidden

    def end_stream(self, how: str) -> None:
        if not self.open:
            return
        self.open = False
        end_ns = time.time_ns()
        if how == "collected" and self.last_ns:
            end_ns = self.last_ns  # the app stopped reading then; collection came later
        try:
            attributes = self.attributes
            attributes[STREAM_END] = how
            if self.acc is not None:
                attributes.update(self.acc.attributes(self.capture))
            if self.first_ns:
                attributes[FIRST_CHUNK_MS] = round((self.first_ns - self.start_ns) / 1e6, 3)
        except Exception as exc:
            warn(exc)
        self._record(_OK, end_ns=end_ns)


_OK = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)
_scope_cache: list[InstrumentationScope] = []


def _scope() -> InstrumentationScope:
    if not _scope_cache:
        from casebank._version import __version__

        _scope_cache.append(InstrumentationScope(SCOPE, __version__))
    return _scope_cache[0]


def _exception_event(exc: BaseException, timestamp: int) -> Event:
    """The `exception` event, as the SDK's `Span.record_exception` writes it."""
    module, qualname = type(exc).__module__, type(exc).__qualname__
    return Event(
        "exception",
        {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exc),
            "exception.stacktrace": "".join(traceback.format_exception(exc)),
            "exception.escaped": "False",
        },
        timestamp,
    )


def start(endpoint: Endpoint, tracer: Any, kwargs: dict[str, Any], instance: Any, stream: bool) -> Call | None:
    """Begin one call, or None: the tracer's sampler drops it, or casebank's own code failed. When
    another instrumentation's span already covers it (and reaches casebank's store), the call
    records no span, only the messages for that one (None if content is not captured)."""
    try:
        if _inside.get():
            return None
        started_in = otel_context.get_current()  # read once: for the parent, the sampler and activate()
        current = otel_trace.get_current_span(started_in)
        capture = state.capture_content
        shared = not state.owns_provider
        if shared and already_captured(current, endpoint.provider):
            return _lending(endpoint, tracer, kwargs, current, started_in) if capture else None
        model, attributes = endpoint.request(kwargs, capture)
        attributes[OPERATION] = endpoint.operation
        attributes[PROVIDER] = endpoint.provider
        attributes[SEMCONV] = SEMCONV_VERSION
        if stream:
            attributes[STREAM] = True
        server = server_of(instance)
        if server is not None:
            attributes[SERVER_ADDRESS], attributes[SERVER_PORT] = server
        name = f"{endpoint.operation} {model}" if isinstance(model, str) and model else endpoint.operation
        found = current.get_span_context()
        parent = found if found.is_valid else None
        ids = tracer.id_generator
        trace_id = found.trace_id if parent is not None else ids.generate_trace_id()
        sampler = tracer.sampler
        if sampler is ALWAYS_ON:  # casebank's own provider: nothing to ask
            context = SpanContext(trace_id, ids.generate_span_id(), False, _SAMPLED, found.trace_state)
        else:
            sampled = sampler.should_sample(started_in, trace_id, name, SpanKind.CLIENT, attributes)
            decision = sampled.decision
            if not decision.is_recording():
                return None
            if sampled.attributes:
                attributes.update(sampled.attributes)
            flags = _SAMPLED if decision.is_sampled() else _UNSAMPLED
            context = SpanContext(trace_id, ids.generate_span_id(), False, flags, sampled.trace_state)
        if shared:
            remember(context.span_id)
        return Call(tracer, endpoint, name, context, parent, started_in, attributes, capture)
    except Exception as exc:
        warn(exc)
        return None


def _lending(endpoint: Endpoint, tracer: Any, kwargs: dict[str, Any], enclosing: Any, started_in: Any) -> Call:
    """A call that records no span of its own, only the messages for the enclosing one."""
    _, attributes = endpoint.request(kwargs, True)
    call = Call(tracer, endpoint, "", enclosing.get_span_context(), None, started_in, attributes, True)
    call.target = enclosing
    return call
