"""Program graders: python_compiles, python_tests.

The output is Python source; a reply that holds a Markdown code fence is graded on the first
fenced block, since that is where a chat model puts the code. `python_tests` runs the expected
test code against the output in a limited child process (see `_sandbox` for what is and is not
prevented): the output runs as module `solution`, then the tests run in its namespace, then each
`test*` function the tests define is called. Every test passing passes the case; the score is the
share of tests that passed.

The expected output is the test code, or `{"tests": CODE, "solution": CODE}`: with a reference
solution the promote-time check can prove that the tests pass a good answer and fail the bad one.
"""

from __future__ import annotations

from typing import Any

from casebank.replay.graders._base import Grader, Verdict, fenced_source, shorten
from casebank.replay.graders._options import Integer, Number

__all__ = ["PythonCompiles", "PythonTests", "code_of"]


def code_of(output: Any) -> str | None:
    """The Python source in an output: the first fenced block if there is one, else the whole text."""
    return fenced_source(output, "python3?|py")


def _not_code(output: Any) -> Verdict:
    return Verdict(passed=False, score=0.0, reason=f"output is a {type(output).__name__}, not Python source text")


class PythonCompiles(Grader):
    """The output is Python source that compiles (it is not run)."""

    name = "python_compiles"
    summary = "the output is Python source that compiles (it is not run)"

    def grade(self, output: Any, expected: Any) -> Verdict:
        code = code_of(output)
        if code is None:
            return _not_code(output)
        if not code.strip():
            return Verdict(passed=False, score=0.0, reason="output is empty, not Python source")
        try:
            compile(code, "<output>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = f" at line {exc.lineno}" if exc.lineno else ""
            return Verdict(passed=False, score=0.0, reason=f"output does not compile{line}: {exc.msg}")
        except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, absurd nesting
            return Verdict(passed=False, score=0.0, reason=f"output does not compile: {type(exc).__name__}: {exc}")
        return Verdict(passed=True, score=1.0, reason=f"output compiles ({len(code.splitlines())} lines)")


class PythonTests(Grader):
    """The expected test code passes against the output, run in a sandboxed subprocess."""

    name = "python_tests"
    summary = "the expected test code passes against the output, sandboxed (time, memory, no network)"
    expected_help = 'the test code, or `{"tests": CODE, "solution": CODE}`'
    timeout = Number(10.0, minimum=0.1, maximum=600, above="use at most 600 seconds", help="seconds the tests may run")
    memory_mb = Integer(512, minimum=64, help="memory the test process may use, in MB")

    def reference(self, expected: Any) -> Any:
        if isinstance(expected, dict) and isinstance(expected.get("solution"), str):
            return expected["solution"]
        return expected

    def grade(self, output: Any, expected: Any) -> Verdict:
        tests = expected.get("tests") if isinstance(expected, dict) else expected
        if not isinstance(tests, str) or not tests.strip():
            return Verdict(
                passed=False,
                score=0.0,
                reason="grader 'python_tests' needs test code as the expected output (text, or "
                '{"tests": CODE, "solution": CODE}) - annotate with --expected-file tests.py',
            )
        code = code_of(output)
        if code is None:
            return _not_code(output)
        if output == tests:
            return Verdict(
                passed=False,
                score=0.0,
                reason="no reference solution to run the tests against - annotate with --expected-json "
                '\'{"tests": CODE, "solution": CODE}\' so promote can check the tests pass a good answer',
            )
        from casebank.replay.graders._sandbox import run_python_tests

        result = run_python_tests(code, tests, timeout=self.timeout, memory_mb=self.memory_mb)
        score = result.tests_passed / result.tests_total if result.tests_total else (1.0 if result.passed else 0.0)
        return Verdict(passed=result.passed, score=score, reason=shorten(result.reason, 200))
