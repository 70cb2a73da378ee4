"""`@casebank.trace`: the app's entry point becomes the root span a case replays.

The span records `module:qualname` (`module:Class.method` for a method), the arguments bound by
parameter name (defaults applied, so a replay calls with exactly what the product saw; a method's
`self` or `cls` left out, as the replay makes its own instance), the type of each argument that
is not plain JSON (`_types`), the return value, and any exception (status error, re-raised
unchanged). Before `init()` the wrapper is a plain call. Nothing casebank
does here may raise into the app: entering and leaving the span are each wrapped, and a failure
there is logged once and the app's function still runs.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from casebank._json import recorded_json
from casebank._runtime import state
from casebank.capture._attributes import ENTRYPOINT, ERROR, INPUT, INPUT_TYPES, IS_ROOT, OUTPUT
from casebank.capture._types import input_types_json, module_name

logger = logging.getLogger("casebank")

F = TypeVar("F", bound=Callable[..., Any])
_Handle = tuple[otel_trace.Span, object, "contextvars.Token[otel_trace.Span | None] | None"]

# The entry span (outermost @casebank.trace span) of the call in progress: a span started while
# it is set is nested, not a root; `set_attributes` puts the app's ids on it.
_entry_span: contextvars.ContextVar[otel_trace.Span | None] = contextvars.ContextVar("casebank_entry", default=None)


def current_entry_span() -> otel_trace.Span | None:
    """The entry span of the traced call in progress, if any."""
    return _entry_span.get()


_warned = False


@overload
def trace(func: F, /) -> F: ...
@overload
def trace(*, name: str | None = None) -> Callable[[F], F]: ...
def trace(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Mark the app's entry point (sync or async): its inputs and output are what a case replays."""
    if func is None:
        return lambda f: _wrap(f, name)
    return _wrap(func, name)


def _wrap(func: F, name: str | None) -> F:
    entrypoint = f"{module_name(func.__module__)}:{func.__qualname__}"
    span_name = name or func.__qualname__.rpartition("<locals>.")[2]
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    call = _Call(signature, _owner_parameter(func, signature))

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = state.tracer
            if tracer is None:
                return await func(*args, **kwargs)
            handle = _enter(tracer, span_name, entrypoint, call, args, kwargs)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                _leave(handle, error=exc)
                raise
            _leave(handle, result=result)
            return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        tracer = state.tracer
        if tracer is None:
            return func(*args, **kwargs)
        handle = _enter(tracer, span_name, entrypoint, call, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _leave(handle, error=exc)
            raise
        _leave(handle, result=result)
        return result

    return wrapper  # type: ignore[return-value]


class _Call:
    """How a call's arguments are recorded: bound by name, without a method's `self` or `cls`."""

    __slots__ = ("owner", "signature", "types")

    def __init__(self, signature: inspect.Signature | None, owner: str | None) -> None:
        self.signature = signature
        self.owner = owner
        self.types: dict[tuple[type, ...], str | None] = {}  # this function's input_types by argument classes

    def record(self, attributes: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Put the input into `attributes`: its JSON, and its types when some are not plain JSON."""
        if self.signature is None:
            attributes[INPUT] = recorded_json({"args": args, "kwargs": kwargs})
            return
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:  # the call itself is wrong; the function will raise it, we just record
            attributes[INPUT] = recorded_json({"args": args, "kwargs": kwargs})
            return
        bound.apply_defaults()
        arguments = bound.arguments
        if self.owner is not None:  # the instance is the replay's to make (a factory), not an argument
            arguments.pop(self.owner, None)
        attributes[INPUT] = recorded_json(arguments)
        try:
            types = input_types_json(arguments, self.types)
        except Exception as exc:  # the input is still worth recording without its types
            _warn_once(exc)
            types = None
        if types is not None:
            attributes[INPUT_TYPES] = types


def _owner_parameter(func: Callable[..., Any], signature: inspect.Signature | None) -> str | None:
    """The name of a method's `self` or `cls` parameter, or None for a plain function.

    At decoration time a method is still a plain function; what gives it away is its qualname
    (`Bot.answer`, not `make.<locals>.answer`) and a first parameter named as Python's
    convention names it. A staticmethod's first parameter is an argument like any other."""
    owner = func.__qualname__.rpartition(".")[0]
    if not owner or owner.endswith("<locals>") or signature is None:
        return None
    first = next(iter(signature.parameters.values()), None)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if first is not None and first.name in ("self", "cls") and first.kind in positional:
        return first.name
    return None


def _enter(
    tracer: otel_trace.Tracer,
    span_name: str,
    entrypoint: str,
    call: _Call,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Handle | None:
    try:
        attributes: dict[str, Any] = {ENTRYPOINT: entrypoint}
        call.record(attributes, args, kwargs)
        is_root = _entry_span.get() is None
        if is_root:
            attributes[IS_ROOT] = True
        span = tracer.start_span(span_name, attributes=attributes)
        token = otel_context.attach(otel_trace.set_span_in_context(span))
        return span, token, _entry_span.set(span) if is_root else None
    except Exception as exc:
        _warn_once(exc)
        return None


def _leave(handle: _Handle | None, *, result: Any = None, error: BaseException | None = None) -> None:
    if handle is None:
        return
    span, token, inside = handle
    try:
        if inside is not None:
            _entry_span.reset(inside)
        otel_context.detach(token)  # type: ignore[arg-type]
        if error is None:
            span.set_attribute(OUTPUT, recorded_json(result))
        else:
            message = f"{type(error).__name__}: {error}"
            span.set_attribute(ERROR, message)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, message))
        span.end()
    except Exception as exc:
        _warn_once(exc)


def _warn_once(exc: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("casebank: could not record a span (the app is unaffected): %r", exc)
