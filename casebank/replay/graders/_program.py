"""Program graders: python_compiles, python_tests.

The output is Python source; a reply that holds a Markdown code fence is graded on the first
fenced block, since that is where a chat model puts the code. `python_tests` runs the expected
test code against the output in a limited child process (see `_sandbox` for what is and is not
prevented): the output runs as module `solution`, then the tests run in its namespace, then each
`test*` function the tests define is called. Every test passing passes the case; the score is the
share of tests that passed.

The expected output is the test code (`--expected-file tests.py`). The reference solution the
promote-time check runs the tests against - to prove that they pass a good answer and fail the
bad one - is option `solution` (code) or `solution_file` (relative to the suite folder). Without
one, `reference()` says that it is missing and how to add it, and promote refuses the case. An
older case file holds `{"tests": CODE, "solution": CODE}` as its expected output; that replays as
it always did.
"""

from __future__ import annotations

from typing import Any

from casebank._words import a, count
from casebank.errors import InvalidInput
from casebank.replay.graders._base import Grader, NoReference, Verdict, as_text, fenced_source, shorten
from casebank.replay.graders._options import File, Integer, Number, Text

__all__ = ["PythonCompiles", "PythonTests", "code_of"]


def code_of(output: Any) -> str | None:
    """The Python source in an output: the first fenced block if there is one, else the whole text."""
    return fenced_source(output, "python3?|py")


def _not_code(output: Any) -> Verdict:
    return Verdict(passed=False, score=0.0, reason=f"output is {a(type(output).__name__)}, not Python source text")


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
        return Verdict(passed=True, score=1.0, reason=f"output compiles ({count(len(code.splitlines()), 'line')})")


_TESTS_EXAMPLE = "--expected-file tests.py --option solution_file=solution.py"


class PythonTests(Grader):
    """The expected test code passes against the output, run in a sandboxed subprocess."""

    name = "python_tests"
    summary = "the expected test code passes against the output, sandboxed (time, memory, no network)"
    expected_help = (
        "the test code (`--expected-file tests.py`); a reference solution goes in `solution_file=` or `solution=`"
    )
    timeout = Number(10.0, minimum=0.1, maximum=600, above="use at most 600 seconds", help="seconds the tests may run")
    memory_mb = Integer(512, minimum=64, help="memory the test process may use, in MB")
    solution = Text(help="a reference solution the tests must pass (promote checks it)", placeholder="CODE")
    solution_file = File(help="the reference solution in a file")

    def prepare(self) -> None:
        if self.solution is not None and self.solution_file is not None:
            raise InvalidInput(
                "grader 'python_tests' takes one of --option solution=CODE or --option solution_file=PATH, not both"
            )

    def check_expected(self, expected: Any) -> None:
        if not isinstance(_tests_of(expected), str):
            raise InvalidInput(_needs_tests(expected))
        if isinstance(expected, dict) and "solution" in expected and (self.solution or self.solution_file):
            raise InvalidInput(
                "grader 'python_tests' got a reference solution twice (in the expected JSON and as an option) - "
                f"give it once: {_TESTS_EXAMPLE}"
            )

    def reference(self, expected: Any) -> Any:
        if isinstance(expected, dict) and isinstance(expected.get("solution"), str):
            return expected["solution"]
        if self.solution is not None:
            return self.solution
        if self.solution_file is not None:
            return self.solution_file.read_text(encoding="utf-8")
        return NoReference(
            why="there is no reference solution to check that the tests pass a good answer",
            fix="cases annotate {id} --grader python_tests " + _TESTS_EXAMPLE,
        )

    def grade(self, output: Any, expected: Any) -> Verdict:
        tests = _tests_of(expected)
        if tests is None:
            return Verdict(passed=False, score=0.0, reason=_needs_tests(expected))
        code = code_of(output)
        if code is None:
            return _not_code(output)
        from casebank.replay.graders._sandbox import run_python_tests

        result = run_python_tests(code, tests, timeout=self.timeout, memory_mb=self.memory_mb)
        score = result.tests_passed / result.tests_total if result.tests_total else (1.0 if result.passed else 0.0)
        return Verdict(passed=result.passed, score=score, reason=shorten(result.reason, 200))


def _tests_of(expected: Any) -> str | None:
    tests = expected.get("tests") if isinstance(expected, dict) else expected
    return tests if isinstance(tests, str) and tests.strip() else None


def _needs_tests(expected: Any) -> str:
    return (
        "grader 'python_tests' needs test code as the expected output, not "
        f"{shorten(as_text(expected), 40)!r} - annotate with {_TESTS_EXAMPLE}"
    )
