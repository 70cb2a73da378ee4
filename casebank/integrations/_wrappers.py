"""The wrapt wrappers around SDK methods, and the proxies that watch a stream for the app.

A plain call: span current around the SDK call, ended with the answer or the error (re-raised
unchanged). A streamed call: the SDK's stream comes back inside an `ObjectProxy` that hands the
app each item as soon as the SDK yields it, records it on the way, and ends the span exactly
once - when the stream is exhausted, closed, left through `__exit__`/`__aexit__`, raises, or is
garbage-collected (`__del__`: the app dropped it halfway). The proxy passes for the SDK's stream
(`isinstance` holds, every other attribute is the stream's own).

The SDKs' stream helpers (`client.chat.completions.stream(...)`, `client.messages.stream(...)`)
return a manager whose stream object reads the raw SDK stream from `_raw_stream`: OpenAI's is
built on `create(stream=True)`, so it is already our proxy; Anthropic's calls the HTTP layer
directly, so the manager proxy starts the span when the request is made (`__enter__`) and puts
our proxy in `_raw_stream` before the app reads anything. Either way the manager's `__exit__`
ends the span.

Raw-response modes (`with_raw_response`, `with_streaming_response`) are passed through for
streams; a raw plain answer is parsed through the SDK's own cached `parse()`.
"""

from __future__ import annotations

from typing import Any

import wrapt

from casebank._runtime import state
from casebank.integrations._call import Call, start
from casebank.integrations._failures import warn
from casebank.integrations._provider import Endpoint

RAW_HEADER = "X-Stainless-Raw-Response"

Wrapper = Any  # wrapt's (wrapped, instance, args, kwargs) -> result


def _raw_mode(kwargs: dict[str, Any]) -> Any:
    if "extra_headers" not in kwargs:  # the SDKs' raw-response modes put the header here
        return None
    headers = kwargs["extra_headers"]
    return headers.get(RAW_HEADER) if isinstance(headers, dict) else None


def _begin(
    endpoint: Endpoint, tracer: Any, instance: Any, kwargs: dict[str, Any]
) -> tuple[Call | None, dict[str, Any], bool]:
    """(call or None, kwargs to send, streamed?) for one SDK call."""
    streaming = kwargs.get("stream") is True
    raw = _raw_mode(kwargs)
    if raw is not None and (streaming or raw == "stream"):
        return None, kwargs, False  # the app reads the raw HTTP response: nothing for us to watch
    call = start(endpoint, tracer, kwargs, instance, streaming)
    if call is None or not streaming:
        return call, kwargs, False
    if endpoint.prepare is not None:
        try:
            kwargs, added = endpoint.prepare(kwargs)
            if added:
                call.hide = endpoint.hide
        except Exception as exc:
            warn(exc)
    if endpoint.accumulator is not None:
        try:
            call.acc = endpoint.accumulator()
        except Exception as exc:
            warn(exc)
    return call, kwargs, True


def _plain_result(call: Call, result: Any, kwargs: dict[str, Any]) -> None:
    if _raw_mode(kwargs) is not None:
        try:
            result = result.parse()  # `with_raw_response`: the SDK caches it, the app's parse() gets it
        except Exception as exc:
            warn(exc)
    call.finish(result)


def sync_call(endpoint: Endpoint) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tracer = state.tracer
        if tracer is None:
            return wrapped(*args, **kwargs)
        try:
            call, kwargs, streaming = _begin(endpoint, tracer, instance, kwargs)
        except Exception as exc:
            warn(exc)
            call = None
        if call is None:
            return wrapped(*args, **kwargs)
        token = call.activate()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.deactivate(token)
            call.fail(exc)
            raise
        call.deactivate(token)
        if streaming:
            return _watch(result, call)
        _plain_result(call, result, kwargs)
        return result

    return wrapper


def async_call(endpoint: Endpoint) -> Wrapper:
    async def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tracer = state.tracer
        if tracer is None:
            return await wrapped(*args, **kwargs)
        try:
            call, kwargs, streaming = _begin(endpoint, tracer, instance, kwargs)
        except Exception as exc:
            warn(exc)
            call = None
        if call is None:
            return await wrapped(*args, **kwargs)
        token = call.activate()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.deactivate(token)
            call.fail(exc)
            raise
        call.deactivate(token)
        if streaming:
            return _watch_async(result, call)
        _plain_result(call, result, kwargs)
        return result

    return wrapper


def _watch(result: Any, call: Call) -> Any:
    try:
        return SyncStream(result, call)
    except Exception as exc:
        warn(exc)
        call.end_stream("unwatched")
        return result


def _watch_async(result: Any, call: Call) -> Any:
    try:
        return AsyncStream(result, call)
    except Exception as exc:
        warn(exc)
        call.end_stream("unwatched")
        return result


class SyncStream(wrapt.ObjectProxy[Any]):
    """The SDK's stream, as the app sees it, with each item recorded on its way through."""

    def __init__(self, wrapped: Any, call: Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_next = wrapped.__next__

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        call = self._self_call
        try:
            while True:
                item = self._self_next()
                if not call.chunk(item):
                    return item
        except StopIteration:
            call.end_stream("exhausted")
            raise
        except BaseException as exc:
            call.fail(exc)
            raise

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_call.end_stream("closed")

    def __enter__(self) -> SyncStream:
        self.__wrapped__.__enter__()
        return self  # so that `with create(stream=True) as s: for c in s` reads through us

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_call.end_stream("exited")

    def __del__(self) -> None:
        call = getattr(self, "_self_call", None)
        if call is not None and call.open:
            try:
                call.end_stream("collected")
            except Exception as exc:
                warn(exc)


class AsyncStream(wrapt.ObjectProxy[Any]):
    """The async twin of `SyncStream`."""

    def __init__(self, wrapped: Any, call: Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_anext = wrapped.__anext__

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        call = self._self_call
        try:
            while True:
                item = await self._self_anext()
                if not call.chunk(item):
                    return item
        except StopAsyncIteration:
            call.end_stream("exhausted")
            raise
        except BaseException as exc:
            call.fail(exc)
            raise

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_call.end_stream("closed")

    async def __aenter__(self) -> AsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_call.end_stream("exited")

    def __del__(self) -> None:
        call = getattr(self, "_self_call", None)
        if call is not None and call.open:
            try:
                call.end_stream("collected")
            except Exception as exc:
                warn(exc)


# -- stream helpers -----------------------------------------------------------------------------------


def _adopt(stream: Any, call: Call | None, proxy: type[Any]) -> Call | None:
    """The call behind a helper's stream object: ours already (OpenAI), or put in now (Anthropic)."""
    raw = getattr(stream, "_raw_stream", None)
    if isinstance(raw, (SyncStream, AsyncStream)):
        found: Call = raw._self_call
        return found
    if call is not None and raw is not None:
        try:
            stream._raw_stream = proxy(raw, call)
        except Exception as exc:
            warn(exc)
    return call


def _open(endpoint: Endpoint | None, manager: HelperManager | AsyncHelperManager) -> Call | None:
    tracer = state.tracer
    if endpoint is None or tracer is None:
        return None
    call = start(endpoint, tracer, manager._self_kwargs, manager._self_instance, True)
    if call is not None:
        try:
            call.acc = endpoint.accumulator() if endpoint.accumulator is not None else None
        except Exception as exc:
            warn(exc)
    return call


class HelperManager(wrapt.ObjectProxy[Any]):
    """A stream helper's manager (`with client.messages.stream(...) as s`): its exit ends the span.

    With an `endpoint` (Anthropic), the span starts at `__enter__`, when the request is made."""

    def __init__(self, wrapped: Any, endpoint: Endpoint | None, instance: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(wrapped)
        self._self_endpoint = endpoint
        self._self_instance = instance
        self._self_kwargs = kwargs
        self._self_call: Call | None = None

    def __enter__(self) -> Any:
        call = _open(self._self_endpoint, self)
        if call is None:
            stream = self.__wrapped__.__enter__()
        else:
            token = call.activate()
            try:
                stream = self.__wrapped__.__enter__()
            except BaseException as exc:
                call.deactivate(token)
                call.fail(exc)
                raise
            call.deactivate(token)
        self._self_call = _adopt(stream, call, SyncStream)
        return stream

    def __exit__(self, *exc_info: Any) -> Any:
        call = self._self_call
        if call is not None:
            call.end_stream("exited")  # first: the manager's exit closes the stream, which would say "closed"
        return self.__wrapped__.__exit__(*exc_info)


class AsyncHelperManager(wrapt.ObjectProxy[Any]):
    """The async twin of `HelperManager`."""

    def __init__(self, wrapped: Any, endpoint: Endpoint | None, instance: Any, kwargs: dict[str, Any]) -> None:
        super().__init__(wrapped)
        self._self_endpoint = endpoint
        self._self_instance = instance
        self._self_kwargs = kwargs
        self._self_call: Call | None = None

    async def __aenter__(self) -> Any:
        call = _open(self._self_endpoint, self)
        if call is None:
            stream = await self.__wrapped__.__aenter__()
        else:
            token = call.activate()
            try:
                stream = await self.__wrapped__.__aenter__()
            except BaseException as exc:
                call.deactivate(token)
                call.fail(exc)
                raise
            call.deactivate(token)
        self._self_call = _adopt(stream, call, AsyncStream)
        return stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        call = self._self_call
        if call is not None:
            call.end_stream("exited")
        return await self.__wrapped__.__aexit__(*exc_info)


def helper(endpoint: Endpoint | None, *, is_async: bool) -> Wrapper:
    """Wrap a stream helper method. `endpoint` None: the helper is built on a wrapped `create`."""
    manager_type = AsyncHelperManager if is_async else HelperManager

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if state.tracer is None and endpoint is not None:
            return manager
        try:
            return manager_type(manager, endpoint, instance, kwargs)
        except Exception as exc:
            warn(exc)
            return manager

    return wrapper
