"""Span graders: judge what the replay did, not only what it answered.

    tool_called      a tool was called (name=, optional arguments= as a JSON subset, times=)
    tool_not_called  a tool was not called (name=, optional arguments=)
    llm_calls        at most max= model calls
    tokens           at most max_input= / max_output= tokens over the model calls
    latency          the replay took at most max_ms= milliseconds

They read a `Replay` (`grade_replay`): the spans a replay collected in memory (`cases run`), or
at promote time the flagged trace's recorded spans, so promote refuses a case whose span grader
would not have caught the incident. With no spans at hand (the promote-time check's good half
grades the expected output, which no replay produced) they have nothing to check and pass,
saying so; called without a `Replay` at all they fail, saying why. The expected output means
nothing to them: combine them with an output grader, `all` of `contains` and `tool_called`.
Each reason says what was seen: "called lookup_policy 0 times; expected at least 1".
"""

from __future__ import annotations

from typing import Any

from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, NoReference, Verdict, as_text, shorten
from casebank.replay.graders._options import REQUIRED, Json, Number, Text
from casebank.replay.graders._replay import Replay

__all__ = ["Latency", "LlmCalls", "SpanGrader", "Tokens", "ToolCalled", "ToolNotCalled"]

_NOTHING = "nothing to check: no replay's spans (the expected output was not replayed)"


class SpanGrader(Grader):
    """A grader of the replay's spans; subclasses implement `check(replay)`."""

    expected_help = "ignored: it grades what the replay did (combine it with an output grader in `all`)"
    instant = True

    def reads_replay(self) -> bool:
        return True

    def reference(self, expected: Any) -> Any:
        return NoReference(why=f"grader '{self.name}' checks what the replay did, not its output")

    def grade(self, output: Any, expected: Any) -> Verdict:
        return Verdict(passed=False, reason=f"grader '{self.name}' reads the replay's spans, and none were given")

    def grade_replay(self, output: Any, expected: Any, replay: Replay) -> Verdict:
        if replay.spans is None:
            return Verdict(passed=True, reason=_NOTHING)
        return self.check(replay)

    def check(self, replay: Replay) -> Verdict:
        raise NotImplementedError


def _subset(part: Any, whole: Any) -> bool:
    """Whether JSON `part` is inside `whole`: objects by their keys, lists item by item, else equal."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and _subset(v, whole[k]) for k, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(part) == len(whole) and all(map(_subset, part, whole))
    return bool(part == whole)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


class _ToolGrader(SpanGrader):
    tool = Text(
        REQUIRED,
        option="name",
        help="the tool's name (as @casebank.tool records it)",
        placeholder="TOOL",
        missing="grader '{name}' needs --option name=TOOL (the name @casebank.tool records)",
    )
    arguments = Json(None, types=(dict,), help="count only calls whose arguments hold this JSON object")

    def count(self, replay: Replay) -> int:
        return sum(
            1
            for call in replay.tool_calls()
            if call.name == self.tool and (self.arguments is None or _subset(self.arguments, call.arguments))
        )

    def called(self) -> str:
        if self.arguments is None:
            return str(self.tool)
        return f"{self.tool} with {shorten(as_text(self.arguments), 80)}"


class ToolCalled(_ToolGrader):
    """The replay called a tool (with arguments holding `arguments`), at least once or exactly `times`."""

    name = "tool_called"
    summary = "the replay called a tool (option arguments: a JSON subset; times: exactly N)"
    times = Number(None, help="exactly this many calls (default: at least one)")

    def check(self, replay: Replay) -> Verdict:
        seen = self.count(replay)
        if self.times is None:
            passed, wanted = seen >= 1, "at least once"
        else:
            passed, wanted = seen == int(self.times), f"exactly {_times(int(self.times))}"
        return Verdict(
            passed=passed, score=float(passed), reason=f"called {self.called()} {_times(seen)}; expected {wanted}"
        )


class ToolNotCalled(_ToolGrader):
    """The replay never called a tool (with arguments holding `arguments`)."""

    name = "tool_not_called"
    summary = "the replay never called a tool (option arguments: a JSON subset)"

    def check(self, replay: Replay) -> Verdict:
        seen = self.count(replay)
        return Verdict(
            passed=seen == 0, score=float(seen == 0), reason=f"called {self.called()} {_times(seen)}; expected never"
        )


class LlmCalls(SpanGrader):
    """The replay made at most `max` model calls."""

    name = "llm_calls"
    summary = "the replay made at most max= model calls"
    most = Number(None, option="max", help="the most model calls allowed", placeholder="N")

    def prepare(self) -> None:
        if self.most is None:
            raise InvalidInput("grader 'llm_calls' needs --option max=N (the most model calls allowed)")

    def check(self, replay: Replay) -> Verdict:
        seen = len(replay.llm_calls())
        passed = seen <= (self.most or 0)
        noun = "LLM call" if seen == 1 else "LLM calls"
        return Verdict(passed=passed, score=float(passed), reason=f"made {seen} {noun}; expected at most {self.most:g}")


class Tokens(SpanGrader):
    """The replay's model calls used at most `max_input` input and `max_output` output tokens."""

    name = "tokens"
    summary = "the model calls used at most max_input= input / max_output= output tokens"
    max_input = Number(None, help="the most input tokens over all model calls", placeholder="N")
    max_output = Number(None, help="the most output tokens over all model calls", placeholder="N")

    def prepare(self) -> None:
        if self.max_input is None and self.max_output is None:
            raise InvalidInput("grader 'tokens' needs --option max_input=N, --option max_output=N or both")

    def check(self, replay: Replay) -> Verdict:
        used_in, used_out = replay.tokens()
        over = []
        if self.max_input is not None and used_in > self.max_input:
            over.append(f"input {used_in} > {self.max_input:g}")
        if self.max_output is not None and used_out > self.max_output:
            over.append(f"output {used_out} > {self.max_output:g}")
        limits = ", ".join(
            f"{kind} at most {limit:g}"
            for kind, limit in (("input", self.max_input), ("output", self.max_output))
            if limit is not None
        )
        seen = f"used {used_in} input and {used_out} output tokens over {len(replay.llm_calls())} LLM calls"
        return Verdict(passed=not over, score=float(not over), reason=f"{seen}; expected {limits}")


class Latency(SpanGrader):
    """The replay took at most `max_ms` milliseconds."""

    name = "latency"
    summary = "the replay took at most max_ms= milliseconds"
    max_ms = Number(None, help="the most milliseconds the replay may take", placeholder="MS")

    def prepare(self) -> None:
        if self.max_ms is None:
            raise InvalidInput("grader 'latency' needs --option max_ms=MS (the most milliseconds the replay may take)")

    def check(self, replay: Replay) -> Verdict:
        if replay.latency_ms is None:
            return Verdict(passed=False, reason="no latency was measured")
        passed = replay.latency_ms <= (self.max_ms or 0)
        return Verdict(
            passed=passed,
            score=float(passed),
            reason=f"took {replay.latency_ms:.0f} ms; expected at most {self.max_ms:g} ms",
        )
