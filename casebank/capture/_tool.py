"""`@casebank.tool` and `casebank.span`: the steps inside an entry point, as child spans.

A tool call's span records the tool's name, its arguments by parameter name (a method's `self`
or `cls` left out: an object's repr means nothing to a replay), and its result or the exception
it raised (message and `module:qualname` of the type, so that a replay can raise it again).
`cases promote` keeps a trace's tool calls as the case's fixtures. `casebank.span(name, **attrs)`
records any other step the same way: `attrs` as its arguments and, through the handle it gives,
a result. Both go through capture's JSON (`recorded_json`) on the app's thread and through the
writer's redaction like every other attribute; both are plain calls before `init()` and never
raise into the app.

A replay answers tool calls from the case's fixtures through `answering(...)`: a context
variable, so that cases replaying at once (tasks, or threads started with a copy of the
context) each see only their own. The hook (`ToolAnswers`) lives in the replay package; this
module only asks it, so `import casebank` stays light.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from casebank._json import recorded_json
from casebank._runtime import state
from casebank.capture._attributes import (
    ERROR,
    EXECUTE_TOOL,
    OPERATION,
    STEP_ARGUMENTS,
    STEP_ERROR_TYPE,
    STEP_FROZEN,
    STEP_FUNCTION,
    STEP_KIND,
    STEP_NAME,
    STEP_RESULT,
    TOOL_NAME,
)
from casebank.capture._types import module_name

__all__ = ["Step", "ToolAnswers", "ToolFunction", "answering", "span", "tool"]

logger = logging.getLogger("casebank")
F = TypeVar("F", bound=Callable[..., Any])
_warned = False


class ToolFunction:
    """What a replay needs to know of a decorated tool: its name, where it lives, the function."""

    __slots__ = ("func", "function", "name", "signature", "skip_first")

    def __init__(self, func: Callable[..., Any], name: str | None) -> None:
        self.func = func
        self.function = f"{module_name(func.__module__)}:{func.__qualname__}"
        qualname = func.__qualname__.rpartition("<locals>.")[2]
        self.name = name or func.__name__
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
        params = list(self.signature.parameters) if self.signature is not None else []
        # A function defined in a class body whose first parameter is self/cls is a method.
        self.skip_first = "." in qualname and bool(params) and params[0] in ("self", "cls")

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The call's arguments by name as JSON text (a method's self/cls left out)."""
        if self.signature is None:
            return recorded_json({"args": args, "kwargs": kwargs})
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:  # the call itself is wrong; the tool will raise it, we just record
            return recorded_json({"args": args[1:] if self.skip_first else args, "kwargs": kwargs})
        bound.apply_defaults()
        values = bound.arguments
        if self.skip_first:
            values = dict(values)
            values.pop(next(iter(values)), None)
        return recorded_json(values)


class ToolAnswers(Protocol):
    """A replay's answers to tool calls (`casebank.replay`'s fixtures implement it)."""

    def answer(self, tool: ToolFunction, arguments: str) -> tuple[bool, Any]:
        """(True, result) to answer the call without running the tool, (False, None) to run it.

        May raise: the recorded exception, or that there is no recorded answer."""
        ...


_answers: contextvars.ContextVar[ToolAnswers | None] = contextvars.ContextVar("casebank_tool_answers", default=None)


def answering(answers: ToolAnswers | None) -> contextvars.Token[ToolAnswers | None]:
    """Answer tool calls in this context (and copies of it) from `answers`; reset with the token."""
    return _answers.set(answers)


def stop_answering(token: contextvars.Token[ToolAnswers | None]) -> None:
    _answers.reset(token)


# -- @casebank.tool ----------------------------------------------------------------------------------


@overload
def tool(func: F, /) -> F: ...
@overload
def tool(*, name: str | None = None) -> Callable[[F], F]: ...
def tool(func: F | None = None, /, *, name: str | None = None) -> F | Callable[[F], F]:
    """Mark a tool or retrieval step (sync or async, a function or a method): each call is recorded
    with its arguments and result, and a replay with `--frozen-tools` answers it from the case.

    Put it below `@classmethod`/`@staticmethod`. `name` defaults to the function's name."""
    if func is None:
        return lambda f: _wrap(f, name)
    return _wrap(func, name)


def _wrap(func: F, name: str | None) -> F:
    info = ToolFunction(func, name)

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            answers = _answers.get()
            tracer = state.tracer
            if answers is None and tracer is None:
                return await func(*args, **kwargs)
            handle, answered, result = _enter(tracer, answers, info, args, kwargs)
            if not answered:
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
        answers = _answers.get()
        tracer = state.tracer
        if answers is None and tracer is None:
            return func(*args, **kwargs)
        handle, answered, result = _enter(tracer, answers, info, args, kwargs)
        if not answered:
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                _leave(handle, error=exc)
                raise
        _leave(handle, result=result)
        return result

    return wrapper  # type: ignore[return-value]


_Handle = tuple[otel_trace.Span, object]


def _enter(
    tracer: otel_trace.Tracer | None,
    answers: ToolAnswers | None,
    info: ToolFunction,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[_Handle | None, bool, Any]:
    """Start the call's span: (its handle, whether a replay answered the call, the answer).

    A replay's answer is asked for first, so that the span starts knowing whether it was frozen;
    a recorded exception the answer raises ends the span and goes to the app as the tool's own."""
    try:
        arguments = info.arguments(args, kwargs)
    except Exception as exc:
        _warn_once(exc)
        return None, False, None
    answered, result, error = False, None, None
    if answers is not None:
        try:
            answered, result = answers.answer(info, arguments)
        except BaseException as exc:
            answered, error = True, exc
    handle = None
    if tracer is not None:
        attributes: dict[str, Any] = {
            STEP_KIND: "tool",
            STEP_NAME: info.name,
            STEP_FUNCTION: info.function,
            STEP_ARGUMENTS: arguments,
            OPERATION: EXECUTE_TOOL,
            TOOL_NAME: info.name,
        }
        if answered:
            attributes[STEP_FROZEN] = True
        handle = _start(tracer, f"{EXECUTE_TOOL} {info.name}", attributes)  # the GenAI span name
    if error is not None:
        _leave(handle, error=error)
        raise error
    return handle, answered, result


def _start(tracer: otel_trace.Tracer, name: str, attributes: dict[str, Any]) -> _Handle | None:
    try:
        span = tracer.start_span(name, attributes=attributes)
        return span, otel_context.attach(otel_trace.set_span_in_context(span))
    except Exception as exc:
        _warn_once(exc)
        return None


def _leave(
    handle: _Handle | None, *, result: Any = None, error: BaseException | None = None, keep: bool = True
) -> None:
    """End the span: with the result (unless `keep` is False: a block that set none), or the error."""
    if handle is None:
        return
    span, token = handle
    try:
        otel_context.detach(token)  # type: ignore[arg-type]
    except Exception as exc:  # left in another context than it was entered in: the span still ends
        _warn_once(exc)
    try:
        if error is None:
            if keep:
                span.set_attribute(STEP_RESULT, recorded_json(result))
        else:
            message = f"{type(error).__name__}: {error}"
            kind = type(error)
            span.set_attribute(ERROR, message)
            span.set_attribute(STEP_ERROR_TYPE, f"{kind.__module__}:{kind.__qualname__}")
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, message))
        span.end()
    except Exception as exc:
        _warn_once(exc)


# -- casebank.span -----------------------------------------------------------------------------------


class Step:
    """The handle `casebank.span(...)` gives: a context manager (`with` or `async with`)."""

    __slots__ = ("_arguments", "_handle", "_has_result", "_name", "_result")

    def __init__(self, name: str, arguments: dict[str, Any]) -> None:
        self._name = name
        self._arguments = arguments
        self._handle: _Handle | None = None
        self._result: Any = None
        self._has_result = False

    def set_result(self, value: Any) -> None:
        """Record `value` as the step's result when the block ends."""
        self._result, self._has_result = value, True

    def __enter__(self) -> Step:
        tracer = state.tracer
        if tracer is not None:
            try:
                attributes = {STEP_KIND: "span", STEP_NAME: self._name, STEP_ARGUMENTS: recorded_json(self._arguments)}
            except Exception as exc:
                _warn_once(exc)
            else:
                self._handle = _start(tracer, self._name, attributes)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        handle, self._handle = self._handle, None
        _leave(handle, result=self._result, error=error, keep=self._has_result)

    async def __aenter__(self) -> Step:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, error, tb)


def span(name: str, /, **attributes: Any) -> Step:
    """Record a step of the entry point as a child span: `with casebank.span("rerank", k=5) as step:`
    (or `async with`); `step.set_result(value)` records what it produced, an exception is recorded
    and re-raised unchanged. The keyword arguments are recorded as the step's arguments."""
    return Step(name, attributes)


def _warn_once(exc: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning("casebank: could not record a step (the app is unaffected): %r", exc)
