"""Tool fixtures: a trace's recorded `@casebank.tool` calls, kept in its case and played back.

`cases promote` turns the tool spans of the incident's snapshot into the case file's `fixtures`
(`fixtures_from_spans`): the outermost tool calls only - a tool that calls a tool is answered
whole, so its inner calls would never be asked for - in the order they started, each with its
name, the function, its arguments, and its result or its error (`{"type": "module:qualname",
"message": ...}`).

A frozen replay answers each call (`CaseFixtures.answer`, asked by `casebank.capture._tool`)
by the tool's name and its canonical arguments (JSON with sorted keys), then by call order among
equal calls: the second `lookup("a")` gets the second recorded answer to `lookup("a")`. Arguments
are compared as recorded, i.e. after redaction: a call whose arguments held a secret is
recorded with its marker (`[REDACTED:api_key]`, ...) and does not match the live call (pass `--on-missing-fixture live`,
or keep secrets out of tool arguments). A call with no answer fails the case
(`MissingFixture`, raised into the app and remembered, so that an app that catches it still
fails), or runs the tool (`on_missing="live"`). Recorded calls the replay never made are
reported (`unused`).

A recorded result comes back as the tool's return annotation says, rebuilt by pydantic's
`TypeAdapter(...).validate_python` (a dataclass, a model, a list of them, a datetime); without
an annotation, as its JSON. A recorded error is raised again as its own type, built with the
recorded message, when that type still imports and takes one argument; else as
`casebank.errors.RecordedToolError` carrying the type's name and the message.
(The typed-inputs work rebuilds entry-point arguments the same way; the two are to share one
function.)
"""

from __future__ import annotations

import functools
import importlib
import threading
import typing
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from casebank.capture._attributes import ERROR, STEP_ARGUMENTS, STEP_ERROR_TYPE, STEP_FUNCTION, STEP_KIND, STEP_NAME
from casebank.capture._attributes import STEP_RESULT as RESULT
from casebank.capture._tool import ToolFunction
from casebank.errors import MissingFixture, RecordedToolError

__all__ = [
    "MISSING_FIXTURE_CHOICES",
    "CaseFixtures",
    "FixtureIndex",
    "canonical",
    "describe_call",
    "fixture_index",
    "fixtures_from_spans",
]

MISSING_FIXTURE_CHOICES = ("fail", "live")


def canonical(arguments: Any) -> bytes:
    """How two calls' arguments are compared: JSON with sorted keys."""
    return orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def describe_call(name: str, arguments: Any) -> str:
    """`lookup_policy({"topic":"refunds"})`, trimmed: how a report names one call."""
    text = canonical(arguments).decode()
    return f"{name}({text if len(text) <= 120 else text[:117] + '...'})"


# -- promote: spans -> fixtures --------------------------------------------------------------------


def fixtures_from_spans(spans: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outermost `@casebank.tool` calls of a trace's spans (store rows, by start time), as fixtures."""
    by_id = {span.get("span_id"): span for span in spans}
    tools = [span for span in spans if _attributes(span).get(STEP_KIND) == "tool"]
    fixtures: list[dict[str, Any]] = []
    for span in sorted(tools, key=lambda s: s.get("start_ns") or 0):
        if _inside_a_tool(span, by_id):
            continue
        attributes = _attributes(span)
        fixture: dict[str, Any] = {
            "order": len(fixtures),
            "name": str(attributes.get(STEP_NAME) or span.get("name") or ""),
            "function": attributes.get(STEP_FUNCTION),
            "arguments": _json(attributes.get(STEP_ARGUMENTS), {}),
        }
        if attributes.get(STEP_ERROR_TYPE) or span.get("status") == "error":
            message = str(attributes.get(ERROR) or span.get("status_message") or "")
            fixture["error"] = {"type": attributes.get(STEP_ERROR_TYPE) or "", "message": message.partition(": ")[2]}
        else:
            fixture["result"] = _json(attributes.get(RESULT), None)
        fixtures.append(fixture)
    return fixtures


def _attributes(span: dict[str, Any]) -> dict[str, Any]:
    attributes = span.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def _inside_a_tool(span: dict[str, Any], by_id: dict[Any, dict[str, Any]]) -> bool:
    seen = set()
    parent = by_id.get(span.get("parent_span_id"))
    while parent is not None and id(parent) not in seen:
        if _attributes(parent).get(STEP_KIND) == "tool":
            return True
        seen.add(id(parent))
        parent = by_id.get(parent.get("parent_span_id"))
    return False


def _json(text: Any, default: Any) -> Any:
    if not isinstance(text, str):
        return default if text is None else text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


# -- run: answering calls --------------------------------------------------------------------------


FixtureIndex = dict[tuple[str, bytes], tuple[int, ...]]


def fixture_index(fixtures: Sequence[dict[str, Any]]) -> FixtureIndex:
    """Each (tool name, canonical arguments) and the positions of its recorded calls, in order.

    Built once per case and shared by its attempts: only which answers were taken is per attempt."""
    index: dict[tuple[str, bytes], list[int]] = {}
    for n, fixture in enumerate(fixtures):
        index.setdefault((str(fixture.get("name")), canonical(fixture.get("arguments"))), []).append(n)
    return {key: tuple(positions) for key, positions in index.items()}


class CaseFixtures:
    """One case's answers to its tool calls during one replay attempt (`ToolAnswers`).

    With `frozen` False every call runs live and is only counted. Thread-safe: an app may call
    tools from several threads of one case."""

    def __init__(
        self,
        fixtures: Sequence[dict[str, Any]],
        *,
        frozen: bool,
        on_missing: str = "fail",
        index: FixtureIndex | None = None,
    ) -> None:
        self.fixtures = fixtures
        self.frozen = frozen
        self.on_missing = on_missing
        self.answered = 0  # calls answered from fixtures
        self.live = 0  # calls that ran the tool
        self.problems: list[str] = []  # why the case fails: calls with no answer, results that do not rebuild
        self._index = index
        self._taken: dict[tuple[str, bytes], int] = {}  # answers given so far, per distinct call
        self._used: set[int] = set()
        self._lock = threading.Lock()

    def answer(self, tool: ToolFunction, arguments: str) -> tuple[bool, Any]:
        if not self.frozen:
            with self._lock:
                self.live += 1
            return False, None
        parsed = orjson.loads(arguments)
        key = (tool.name, canonical(parsed))
        with self._lock:
            if self._index is None:
                self._index = fixture_index(self.fixtures)
            positions = self._index.get(key, ())
            taken = self._taken.get(key, 0)
            if taken >= len(positions):
                if self.on_missing == "live":
                    self.live += 1
                    return False, None
                problem = f"no recorded answer for tool call {describe_call(tool.name, parsed)}"
                self.problems.append(problem)
                raise MissingFixture(f"{problem} - run without --frozen-tools, or pass --on-missing-fixture live")
            found = positions[taken]
            self._taken[key] = taken + 1
            self._used.add(found)
            self.answered += 1
        return True, self._play(tool, self.fixtures[found])

    def _play(self, tool: ToolFunction, fixture: dict[str, Any]) -> Any:
        error = fixture.get("error")
        if isinstance(error, dict):
            raise recorded_error(str(error.get("type") or ""), str(error.get("message") or ""))
        rebuild = _rebuilder(tool.func)
        try:
            return rebuild(fixture.get("result"))
        except Exception as exc:
            problem = (
                f"the recorded result of tool call {describe_call(tool.name, fixture.get('arguments'))} does not "
                f"rebuild as the tool's return type: {' '.join(str(exc).split())[:300]}"
            )
            with self._lock:
                self.problems.append(problem)
            raise MissingFixture(f"{problem} - promote a new case, or run without --frozen-tools") from None

    def unused(self) -> list[str]:
        """The recorded calls a frozen replay never made (none when the replay ran live)."""
        if not self.frozen:
            return []
        with self._lock:
            if len(self._used) == len(self.fixtures):  # the usual case: every recorded call was made
                return []
            return [
                describe_call(str(f.get("name")), f.get("arguments"))
                for n, f in enumerate(self.fixtures)
                if n not in self._used
            ]


def recorded_error(type_name: str, message: str) -> BaseException:
    """The recorded exception: its own type when it imports and takes a message, else RecordedToolError."""
    module, _, qualname = type_name.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, type) and issubclass(obj, Exception):
            error: BaseException = obj(message)
            return error
    except Exception:
        pass
    return RecordedToolError(type_name, message)


# JSON's own types: a recorded value of exactly that type is already what the tool returned, and a
# run whose tools return only these never imports pydantic (about 0.2 s, most of a small run).
_JSON_TYPES = (str, int, float, bool, dict, list)


@functools.lru_cache(maxsize=1024)
def _rebuilder(func: Callable[..., Any]) -> Callable[[Any], Any]:
    """How a recorded result becomes what `func` returns: by its return annotation, through pydantic."""
    try:
        hint = typing.get_type_hints(func).get("return", Any)
    except Exception:  # an annotation that no longer resolves: the recorded JSON as it is
        hint = Any
    origin = typing.get_origin(hint)
    if origin is not None and getattr(origin, "__name__", "") in ("Awaitable", "Coroutine"):
        hint = typing.get_args(hint)[-1]
    if hint is Any or hint is None or hint is type(None):
        return lambda value: value
    if hint in _JSON_TYPES:
        return lambda value: value if type(value) is hint else _validator(hint)(value)
    return _validator(hint)


def _validator(hint: Any) -> Callable[[Any], Any]:
    # The entry point's arguments and the tools' results are rebuilt by the same cached adapters.
    from casebank.replay._rebuild import type_adapter

    adapter = type_adapter(hint)
    return (lambda value: value) if adapter is None else adapter.validate_python
