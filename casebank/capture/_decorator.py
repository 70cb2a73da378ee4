"""`@casebank.trace`: the app's entry point becomes the root span a case replays.

The span records `module:qualname`, the arguments bound by parameter name (defaults applied, so
a replay calls with exactly what the product saw), the return value, and any exception (status
error, re-raised unchanged). Before `init()` the wrapper is a plain call. Nothing casebank
does here may raise into the app: entering and leaving the span are each wrapped, and a failure
there is logged once and the app's function still runs.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from casebank._json import recorded_json
from casebank._runtime import state
from casebank.capture._attributes import ENTRYPOINT, ERROR, INPUT, IS_ROOT, OUTPUT

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


def _module_name(func: Callable[..., Any]) -> str:
    """The importable name of the function's module: `__main__` means nothing to a replay."""
    module = func.__module__
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return str(spec.name)
    path = getattr(main, "__file__", None)
    return Path(path).stem if path else module


def _wrap(func: F, name: str | None) -> F:
    entrypoint = f"{_module_name(func)}:{func.__qualname__}"
    span_name = name or func.__qualname__.rpartition("<locals>.")[2]
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = state.tracer
            if tracer is None:
                return await func(*args, **kwargs)
            handle = _enter(tracer, span_name, entrypoint, signature, args, kwargs)
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
        handle = _enter(tracer, span_name, entrypoint, signature, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _leave(handle, error=exc)
            raise
        _leave(handle, result=result)
        return result

    return wrapper  # type: ignore[return-value]


def _bind(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if signature is None:
        return recorded_json({"args": args, "kwargs": kwargs})
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:  # the call itself is wrong; the function will raise it, we just record
        return recorded_json({"args": args, "kwargs": kwargs})
    bound.apply_defaults()
    return recorded_json(bound.arguments)


def _enter(
    tracer: otel_trace.Tracer,
    span_name: str,
    entrypoint: str,
    signature: inspect.Signature | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Handle | None:
    try:
        attributes: dict[str, Any] = {ENTRYPOINT: entrypoint, INPUT: _bind(signature, args, kwargs)}
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
