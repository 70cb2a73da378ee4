"""The program graders: python_compiles, and python_tests in its sandboxed subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import NoReference, Verdict, make_grader

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "def test_add():\n    assert add(2, 3) == 5\n\ndef test_zero():\n    assert add(-1, 1) == 0\n"
HUGE_COMMENT = "# " + "x" * 1_100_000 + "\n"


@pytest.mark.parametrize(
    ("output", "passed", "reason"),
    [
        pytest.param(ADD, True, "output compiles (2 lines)", id="compiles"),
        pytest.param("Here you go:\n```python\n" + ADD + "```\nEnjoy!", True, "output compiles", id="fenced"),
        pytest.param("def add(a, b) return a + b", False, "output does not compile at line 1: expected ':'", id="bad"),
        pytest.param("def café(ü):\n    return 'ß'\n", True, "output compiles", id="unicode"),
        pytest.param("", False, "output is empty, not Python source", id="empty-output"),
        pytest.param("x = 1\x00", False, "output does not compile", id="null-byte"),
        pytest.param({"code": ADD}, False, "output is a dict, not Python source text", id="not-text"),
        pytest.param(HUGE_COMMENT + ADD, True, "output compiles", id="huge-output"),
        pytest.param("while True:\n    pass\n", True, "output compiles", id="a-loop-is-not-run"),
    ],
)
def test_python_compiles(output: Any, passed: bool, reason: str) -> None:
    verdict = make_grader({"name": "python_compiles"}).grade(output, None)
    assert verdict.passed is passed
    assert verdict.reason.startswith(reason), verdict.reason


def run_tests(output: Any, expected: Any = TESTS, **options: Any) -> Any:
    return make_grader({"name": "python_tests", "options": {"timeout": 2, **options}}).grade(output, expected)


@pytest.mark.parametrize(
    ("output", "passed", "score", "reason"),
    [
        pytest.param(ADD, True, 1.0, "2 of 2 tests passed", id="passes"),
        pytest.param(
            "def add(a, b):\n    return a - b\n",
            False,
            0.0,
            "2 of 2 tests failed: test_add: AssertionError (line 2 of the tests) (+1 more)",
            id="fails",
        ),
        pytest.param(
            "def add(a, b):\n    return 5 if a == 2 else 1\n",
            False,
            0.5,
            "1 of 2 tests failed: test_zero: AssertionError (line 5 of the tests)",
            id="half",
        ),
        pytest.param("```python\n" + ADD + "```", True, 1.0, "2 of 2 tests passed", id="fenced"),
        pytest.param("def add(a, b):\n    return a + b  # ½ ☕ ß\n", True, 1.0, "2 of 2 tests passed", id="unicode"),
        pytest.param("", False, 0.0, "1 of 1 tests failed: test_add: NameError", id="empty-output"),
        pytest.param(HUGE_COMMENT + ADD, True, 1.0, "2 of 2 tests passed", id="huge-output"),
        pytest.param("def add(a, b) return", False, 0.0, "the output raised on import: SyntaxError", id="syntax"),
        pytest.param("raise SystemExit(0)\n", False, 0.0, "the output raised on import: SystemExit: 0", id="exit"),
        pytest.param(
            "import os\nos._exit(0)\n",
            False,
            0.0,
            "the test process exited with code 0 before reporting",
            id="hard-exit-cannot-fake-a-pass",
        ),
    ],
)
def test_python_tests_verdicts(output: str, passed: bool, score: float, reason: str) -> None:
    expected = TESTS if output != "" else "def test_add():\n    assert add(2, 3) == 5\n"
    verdict = run_tests(output, expected)
    assert (verdict.passed, verdict.score) == (passed, score), verdict.reason
    assert verdict.reason.startswith(reason), verdict.reason


def test_plain_assertions_without_test_functions_count_as_one_test() -> None:
    assert run_tests(ADD, "assert add(1, 1) == 2\n").reason == "1 of 1 tests passed"
    assert run_tests(ADD, "assert add(1, 1) == 3\n").reason.startswith("the tests raised: AssertionError")


def test_the_tests_can_import_the_output_as_module_solution() -> None:
    assert run_tests(ADD, "from solution import add\nassert add(1, 2) == 3\n").passed


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        pytest.param("while True:\n    pass\n", "the tests did not finish within 1 s - killed", id="infinite-loop"),
        pytest.param(ADD, "the tests did not finish within 1 s", id="infinite-loop-in-the-tests"),
        pytest.param(
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            "the tests did not finish within 1 s",
            id="fork-bomb",
        ),
    ],
)
def test_a_runaway_output_is_killed_and_fails(output: str, reason: str) -> None:
    tests = "while True:\n    pass\n" if output == ADD else TESTS
    verdict = run_tests(output, tests, timeout=1)
    assert not verdict.passed
    assert verdict.reason.startswith(reason), verdict.reason


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        pytest.param("import os\nos.fork()\n", "os.fork is not allowed", id="fork"),
        pytest.param("import subprocess\nsubprocess.run(['true'])\n", "importing _posixsubprocess", id="subprocess"),
        pytest.param("import os\nos.system('true')\n", "os.system is not allowed", id="system"),
        pytest.param("import os\nos.execv('/bin/true', ['true'])\n", "os.exec is not allowed", id="exec"),
        pytest.param("import multiprocessing as m\nm.Process(target=print).start()\n", "not allowed", id="multiproc"),
        pytest.param("import socket\nsocket.socket()\n", "socket.__new__ is not allowed", id="socket"),
        pytest.param("import socket\nsocket.getaddrinfo('example.com', 80)\n", "getaddrinfo", id="dns"),
        pytest.param("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", "os.kill is not allowed", id="kill"),
        pytest.param("import ctypes\n", "importing ctypes is not allowed", id="ctypes"),
        pytest.param("x = bytearray(4 * 1024 ** 3)\n", "MemoryError", id="memory"),
        pytest.param("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", "not allowed", id="rlim"),
    ],
)
def test_a_hostile_output_is_refused_and_fails(code: str, refused: str) -> None:
    verdict = run_tests(code + ADD)
    assert not verdict.passed
    assert verdict.reason.startswith("the output raised on import:"), verdict.reason
    assert refused in verdict.reason


@pytest.mark.parametrize(
    "write",
    [
        pytest.param("open({p!r}, 'w').write('pwned')", id="open-write"),
        pytest.param("open({p!r}, 'a').write('pwned')", id="open-append"),
        pytest.param("import os\nos.close(os.open({p!r}, os.O_WRONLY | os.O_CREAT))", id="os-open"),
        pytest.param("import pathlib\npathlib.Path({p!r}).write_text('pwned')", id="pathlib"),
        pytest.param("import os\nos.symlink('/etc', 'link')\nopen('link/../' + {p!r}, 'w')", id="via-symlink"),
        pytest.param("import os\nos.chdir('/')\nopen({p!r}.lstrip('/'), 'w')", id="after-chdir"),
        pytest.param("import sqlite3\nsqlite3.connect({p!r})", id="sqlite"),
    ],
)
def test_writing_outside_the_scratch_folder_fails_and_writes_nothing(write: str, tmp_path: Path) -> None:
    target = tmp_path / "escape.txt"
    verdict = run_tests(write.format(p=str(target)) + "\n" + ADD)
    assert not verdict.passed
    assert "not allowed" in verdict.reason, verdict.reason
    assert not target.exists()


def test_writing_inside_the_scratch_folder_is_allowed() -> None:
    code = "import os\nos.mkdir('data')\nwith open('data/x.txt', 'w') as f:\n    f.write('ok')\n" + ADD
    assert run_tests(code, TESTS + "def test_file():\n    assert open('data/x.txt').read() == 'ok'\n").passed


def test_output_printed_by_the_code_does_not_confuse_the_verdict() -> None:
    code = 'print(\'{"stage": "done", "passed": 9, "total": 9, "failures": []}\')\n' + ADD.replace("+", "-")
    assert not run_tests(code).passed


def test_reference_solution_in_the_expected_output_is_what_promote_checks() -> None:
    grader = make_grader({"name": "python_tests", "options": {"timeout": 2}})
    expected = {"tests": TESTS, "solution": ADD}
    assert grader.reference(expected) == ADD
    assert grader.grade(grader.reference(expected), expected).passed
    assert not grader.grade("def add(a, b):\n    return 0\n", expected).passed


def test_without_a_reference_solution_there_is_no_reference_and_the_fix_is_the_command_that_adds_one() -> None:
    reference = make_grader({"name": "python_tests"}).reference(TESTS)
    assert isinstance(reference, NoReference)
    assert reference.why == "there is no reference solution to check that the tests pass a good answer"
    assert reference.fix == (
        "cases annotate {id} --grader python_tests --expected-file tests.py --option solution_file=solution.py"
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"solution": ADD}, TESTS, id="solution-option"),
        pytest.param({"solution_file": "solution.py"}, TESTS, id="solution-file-in-the-suite-folder"),
        pytest.param({}, {"tests": TESTS, "solution": ADD}, id="older-case-files-expected-json"),
    ],
)
def test_the_reference_solution_is_what_the_tests_must_pass(
    tmp_path: Path, options: dict[str, Any], expected: Any
) -> None:
    (tmp_path / "solution.py").write_text(ADD)
    grader = make_grader({"name": "python_tests", "options": {"timeout": 5, **options}}, base_dir=tmp_path)
    grader.check_expected(expected)
    assert grader.reference(expected) == ADD
    assert grader.grade(grader.reference(expected), expected).passed


@pytest.mark.parametrize(
    ("options", "expected", "message"),
    [
        pytest.param(
            {},
            {"solution": ADD},
            "grader 'python_tests' needs test code as the expected output, not ",
            id="no-tests",
        ),
        pytest.param(
            {"solution": ADD},
            {"tests": TESTS, "solution": ADD},
            "got a reference solution twice (in the expected JSON and as an option) - give it once: "
            "--expected-file tests.py --option solution_file=solution.py",
            id="solution-twice",
        ),
    ],
)
def test_check_expected_refuses_what_python_tests_cannot_run(
    options: dict[str, Any], expected: Any, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "python_tests", "options": options}).check_expected(expected)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"timeout": 0}, "option timeout='0' - use a number >= 0.1", id="timeout-zero"),
        pytest.param({"timeout": 601}, "option timeout='601' - use at most 600 seconds", id="timeout-huge"),
        pytest.param({"memory_mb": 8}, "option memory_mb='8' - use a number >= 64", id="memory-small"),
        pytest.param({"network": True}, "has no option 'network'", id="unknown"),
        pytest.param(
            {"solution": ADD, "solution_file": "s.py"},
            "takes one of --option solution=CODE or --option solution_file=PATH, not both",
            id="two-solutions",
        ),
        pytest.param(
            {"solution_file": "nope.py"}, "option solution_file='nope.py' - no file at", id="no-solution-file"
        ),
    ],
)
def test_python_tests_refuses_bad_options(options: dict[str, Any], message: str, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(ADD)
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "python_tests", "options": options}, base_dir=tmp_path)
    assert message in str(raised.value)


def test_python_tests_needs_test_code_as_the_expected_output() -> None:
    verdict = run_tests(ADD, {"solution": ADD})
    assert verdict.reason.startswith("grader 'python_tests' needs test code as the expected output")


def test_a_child_that_dies_by_a_signal_fails_with_the_signal_named() -> None:
    verdict = run_tests("import os\nos.abort()\n")
    assert not verdict.passed
    assert verdict.reason.startswith("the test process was killed by SIGABRT before reporting"), verdict.reason


@pytest.mark.parametrize(
    "output",
    [
        pytest.param("Install it:\n```bash\npip install adder\n```\nThen:\n```python\n" + ADD + "```", id="bash-first"),
        pytest.param("```text\nnotes\n```\n```py\n" + ADD + "```", id="text-right-before"),
        pytest.param("```python title=add.py\n" + ADD + "```", id="info-after-the-tag"),
    ],
)
def test_the_python_block_is_found_after_a_block_in_another_language(output: str) -> None:
    # The fence that closes the first block is not the opening of an untagged one.
    assert make_grader({"name": "python_compiles"}).grade(output, None) == Verdict(
        passed=True, score=1.0, reason="output compiles (2 lines)"
    )
