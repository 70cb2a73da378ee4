"""`Endpoint`: how one API method's request and answer become span attributes.

A provider module declares one for each method it instruments; the wrappers hand each call's
keyword arguments and its answer (or streamed items) to it. This module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Endpoint"]


class Endpoint:
    """One API method: how its request and its answer become span attributes.

    `provider` and `operation` are the GenAI `gen_ai.provider.name` and `gen_ai.operation.name`;
    `request(kwargs, capture)` -> (model, attributes); `response(result, capture)` -> attributes;
    `accumulator()` -> an object whose `add(item)` takes each streamed item and whose
    `attributes(capture)` describes the answer so far; `prepare(kwargs)` -> (kwargs to send,
    whether casebank added a request the app did not make), for streams; `hide(item)` -> True
    for a streamed item the app would not have had without that addition. `capture` says whether
    message content is recorded. Each runs on the app's request path: keep them cheap.
    """

    __slots__ = ("accumulator", "hide", "operation", "prepare", "provider", "request", "response")

    def __init__(
        self,
        *,
        provider: str,
        operation: str,
        request: Callable[[dict[str, Any], bool], tuple[Any, dict[str, Any]]],
        response: Callable[[Any, bool], dict[str, Any]],
        accumulator: Callable[[], Any] | None = None,
        prepare: Callable[[dict[str, Any]], tuple[dict[str, Any], bool]] | None = None,
        hide: Callable[[Any], bool] | None = None,
    ) -> None:
        self.provider = provider
        self.operation = operation
        self.request = request
        self.response = response
        self.accumulator = accumulator
        self.prepare = prepare
        self.hide = hide
