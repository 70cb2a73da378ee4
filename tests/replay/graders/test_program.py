"""The program graders: python_compiles, and python_tests in its sandboxed subprocess."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from casebank.errors import InvalidInput
from casebank.replay.graders import NoReference, Verdict, make_grader
from casebank.replay.graders._sandbox import _death

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
        pytest.param("", False, 0.0, "1 of 1 test failed: test_add: NameError", id="empty-output"),
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
    assert run_tests(ADD, "assert add(1, 1) == 2\n").reason == "1 of 1 test passed"
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


# -- whole verdicts: what a report shows ---------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "verdict"),
    [
        pytest.param(ADD, Verdict(passed=True, score=1.0, reason="output compiles (2 lines)"), id="compiles"),
        pytest.param(
            "", Verdict(passed=False, score=0.0, reason="output is empty, not Python source"), id="empty-output"
        ),
        pytest.param(
            {"code": ADD},
            Verdict(passed=False, score=0.0, reason="output is a dict, not Python source text"),
            id="not-text",
        ),
        pytest.param(
            "def add(a, b) return a + b",
            Verdict(passed=False, score=0.0, reason="output does not compile at line 1: expected ':'"),
            id="syntax-error",
        ),
        pytest.param(
            "x = 1\x00",
            Verdict(
                passed=False, score=0.0, reason="output does not compile: source code string cannot contain null bytes"
            ),
            id="null-byte-has-no-line",
        ),
    ],
)
def test_python_compiles_whole_verdicts(output: Any, verdict: Verdict) -> None:
    assert make_grader({"name": "python_compiles"}).grade(output, None) == verdict


def test_python_compiles_fails_code_too_deep_for_the_compiler() -> None:
    verdict = make_grader({"name": "python_compiles"}).grade("-" * 100_000 + "1", None)
    assert (verdict.passed, verdict.score) == (False, 0.0)
    # Which error the compiler gives up with depends on the Python version.
    assert re.fullmatch(r"output does not compile(: (MemoryError|RecursionError): .*| at line \d+: .+)", verdict.reason)


@pytest.mark.parametrize(
    ("output", "tests", "verdict"),
    [
        pytest.param(
            "def add(a, b):\n    return 5 if a == 2 else 1\n",
            TESTS,
            Verdict(
                passed=False,
                score=0.5,
                reason="1 of 2 tests failed: test_zero: AssertionError (line 5 of the tests)",
            ),
            id="one-failure-no-more",
        ),
        pytest.param(
            ADD,
            "def test_long():\n    assert False, '" + "y" * 300 + "'\n",
            Verdict(
                passed=False,
                score=0.0,
                reason="1 of 1 test failed: test_long: AssertionError: " + "y" * 150 + "...",  # 200 of it
            ),
            id="reason-shows-200-characters",
        ),
        pytest.param(
            "while True:\n    pass\n",
            TESTS,
            Verdict(passed=False, score=0.0, reason="the tests did not finish within 1 s - killed (a loop?)"),
            id="timeout",
        ),
        pytest.param(
            ADD,
            "assert add(1, 1) == 3\n",
            Verdict(passed=False, score=0.0, reason="the tests raised: AssertionError (line 1 of the tests)"),
            id="tests-raise",
        ),
        pytest.param(
            "import os\nos.write(2, b'first\\n\\xff boom\\n')\nos._exit(3)\n",
            TESTS,
            Verdict(
                passed=False,
                score=0.0,
                reason="the test process exited with code 3 before reporting: \ufffd boom",
            ),
            id="death-quotes-the-last-line-of-stderr",
        ),
        pytest.param(
            "import os\nos.write(2, b'boom')\nos._exit(3)\n",
            TESTS,
            Verdict(passed=False, score=0.0, reason="the test process exited with code 3 before reporting: boom"),
            id="death-with-one-short-line",
        ),
        pytest.param(
            "import os\nos._exit(3)\n",
            TESTS,
            Verdict(passed=False, score=0.0, reason="the test process exited with code 3 before reporting"),
            id="death-without-stderr",
        ),
        pytest.param(
            5,
            TESTS,
            Verdict(passed=False, score=0.0, reason="output is an int, not Python source text"),
            id="not-text",
        ),
        pytest.param(
            ADD,
            {"solution": ADD, "tests": "  "},
            Verdict(
                passed=False,
                score=0.0,
                reason="grader 'python_tests' needs test code as the expected output, not "
                """'{"solution":"def add(a, b):\\\\n    retu...' - annotate with """
                "--expected-file tests.py --option solution_file=solution.py",
            ),
            id="no-test-code",
        ),
    ],
)
def test_python_tests_whole_verdicts(output: Any, tests: Any, verdict: Verdict) -> None:
    assert run_tests(output, tests, timeout=1) == verdict


def test_the_test_process_is_isolated_in_its_own_session_with_a_fixed_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")  # the runner's secrets stay with the runner
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    code = (
        "import os, sys\n"
        "ENV = dict(os.environ)\n"
        "FLAGS = (sys.flags.isolated, sys.flags.utf8_mode, os.getsid(0) == os.getpid())\n"
        "CWD = os.getcwd()\n"
    )
    tests = (
        "def test_environment():\n"
        "    assert ENV == {'PATH': '/usr/bin:/bin', 'HOME': CWD, 'LANG': 'C.UTF-8', 'PYTHONHASHSEED': '0'}, ENV\n"
        "def test_flags():\n"
        "    assert FLAGS == (1, 1, True), FLAGS\n"
    )
    assert run_tests(code, tests, timeout=5) == Verdict(passed=True, score=1.0, reason="2 of 2 tests passed")


def test_python_tests_refuses_two_reference_solutions_and_blank_test_code(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text(ADD)
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "python_tests", "options": {"solution": ADD, "solution_file": "s.py"}}, base_dir=tmp_path)
    assert str(raised.value) == (
        "grader 'python_tests' takes one of --option solution=CODE or --option solution_file=PATH, not both"
    )
    with pytest.raises(InvalidInput) as raised:
        make_grader({"name": "python_tests"}).check_expected("  ")
    assert str(raised.value) == (
        "grader 'python_tests' needs test code as the expected output, not '  ' - annotate with "
        "--expected-file tests.py --option solution_file=solution.py"
    )


@pytest.mark.parametrize(
    ("code", "err", "reason"),
    [
        pytest.param(
            -signal.SIGXCPU,
            "",
            "the test process was killed by SIGXCPU (CPU time limit) before reporting",
            id="cpu-limit",
        ),
        pytest.param(
            -signal.SIGKILL,
            "first\n" + "z" * 300 + "\n\n",
            "the test process was killed by SIGKILL before reporting: " + "z" * 200,
            id="last-line-cut-at-200",
        ),
        pytest.param(-200, "", "the test process was killed by 200 before reporting", id="unknown-signal"),
        pytest.param(None, "", "the test process exited with code None before reporting", id="no-code"),
    ],
)
def test_a_child_that_dies_before_reporting_says_how(code: int | None, err: str, reason: str) -> None:
    # Deaths a test cannot cause on purpose: a CPU limit that the wall-clock limit always beats, a signal
    # number that no signal has.
    assert _death(code, err) == reason
