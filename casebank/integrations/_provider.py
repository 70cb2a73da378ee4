"""What a provider module declares: its endpoints (how a call becomes span attributes) and its
targets (which functions to wrap), gathered in one `Provider` that it registers.

A target is a function found by a dotted name inside a module: a method of an SDK class
(`openai.resources.chat.completions` + `Completions.create`) or a module-level function
(`litellm` + `completion`). Global instrumentation patches that name where it lives, so it
reaches every caller that looks the name up there: every client of a patched class, and every
`litellm.completion(...)`. A function imported by name before instrumenting
(`from litellm import completion`) is a reference to the original and stays unwrapped; one
imported while instrumented keeps casebank's wrapper after `uninstrument()`, as with any
instrumentation that patches attributes.

A method target can also name the path from a client to the object that has it
(`client_path=("chat", "completions")`), which lets `wrap(client)` instrument one client's
resources instead of the class. The wrappers read keyword arguments: the SDKs' methods take
nothing else; a module-level function called with positional arguments is recorded without them.

This module imports nothing heavy: `import casebank` loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Endpoint", "Provider", "Target", "resource_targets"]


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


@dataclass(frozen=True, kw_only=True)
class Target:
    """One function to wrap.

    `module`: where it is importable from; `qualname`: its dotted name in that module
    (`completion`, or `Completions.create` for a method); `endpoint`: how its calls become
    attributes; `is_async`: it returns an awaitable. `stream_helper`: it returns a stream
    helper's manager (`with client.messages.stream(...) as stream`) whose exit ends the span;
    its `endpoint` is None when the helper is built on another wrapped target, whose call it
    then ends. `client_path`: for a method, the attributes from a client to the object that
    has it, so that `wrap(client)` can instrument one client; None leaves it to global
    instrumentation.
    """

    module: str
    qualname: str
    endpoint: Endpoint | None
    is_async: bool = False
    stream_helper: bool = False
    client_path: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for field in ("module", "qualname"):
            value = getattr(self, field)
            if not isinstance(value, str) or not all(part.isidentifier() for part in value.split(".")):
                raise ValueError(
                    f"Target {field} {value!r} is not a dotted name like 'litellm' or 'Completions.create'"
                )
        if self.endpoint is None and not self.stream_helper:
            raise ValueError(
                f"Target {self.module}:{self.qualname} needs an endpoint (only a stream helper may lack one)"
            )
        if self.client_path is not None and self.qualname.count(".") != 1:
            raise ValueError(
                f"Target {self.module}:{self.qualname} has a client_path, which only a method"
                " ('Class.method') can have; leave it out for a module-level function"
            )


@dataclass(frozen=True, kw_only=True)
class Provider:
    """An LLM client package casebank can instrument: its targets, all in one package.

    `name` is what `instrument_installed([...])` and `casebank.init(instrument=[...])` take;
    the provider is installed when the top-level package of its targets can be imported.
    `sentinels`: `module:Class` of the SDK's markers for an argument the caller left out
    (openai's `Omit`, `NotGiven`), which the endpoints' `given()` then tells from a value.
    """

    name: str
    targets: tuple[Target, ...]
    sentinels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))  # a list is fine too
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Provider name {self.name!r} must be a non-empty string, like 'litellm'")
        if not self.targets or not all(isinstance(t, Target) for t in self.targets):
            raise ValueError(f"Provider {self.name!r} needs one Target or more, got {self.targets!r}")
        packages = sorted({t.module.split(".", 1)[0] for t in self.targets})
        if len(packages) > 1:
            raise ValueError(
                f"Provider {self.name!r} has targets in several packages ({', '.join(packages)}): one each"
            )
        for sentinel in self.sentinels:
            if sentinel.count(":") != 1:
                raise ValueError(f"Provider {self.name!r} sentinel {sentinel!r} is not 'module:Class'")

    @property
    def package(self) -> str:
        """The top-level package the targets live in."""
        return self.targets[0].module.split(".", 1)[0]


def resource_targets(
    module: str,
    cls: str,
    *,
    client_path: tuple[str, ...],
    calls: Mapping[str, Endpoint],
    stream_helpers: Mapping[str, Endpoint | None] | None = None,
) -> tuple[Target, ...]:
    """The targets of an SDK resource class and its `Async` twin (the shape of the openai and
    anthropic SDKs): `calls` {method: endpoint}, `stream_helpers` {method: endpoint or None}."""
    methods = [(m, e, False) for m, e in calls.items()] + [(m, e, True) for m, e in (stream_helpers or {}).items()]
    return tuple(
        Target(
            module=module,
            qualname=f"{name}.{method}",
            endpoint=endpoint,
            is_async=is_async,
            stream_helper=helper,
            client_path=client_path,
        )
        for name, is_async in ((cls, False), ("Async" + cls, True))
        for method, endpoint, helper in methods
    )
