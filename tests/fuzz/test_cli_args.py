"""CLI arguments: any command with any options and values exits 0, 1 or 2, with no traceback.

The property runs `casebank.cli.main(argv)` in this process (a subprocess per example would take
minutes); a few spot checks run the real `cases` command, whose stdout and stderr encode text
strictly, as a terminal's would."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casebank.cli import main
from tests.cli.conftest import Cases

# Every command but those that run for long by design (`serve`, `demo`) or load a model.
COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("import",): ["--entrypoint", "--format", "--grader", "--option", "--tag", "--suite", "--db"],
    ("status",): ["--db", "--suite", "--json"],
    ("traces",): ["--db", "--limit", "--json", "--uncovered", "--days", "--suite"],
    ("flag",): ["--reason", "--where", "--by", "--db"],
    ("audit",): ["--suite", "--prompts", "--days", "--stale-days", "--json", "--strict", "--db"],
    ("list",): ["--db", "--status", "--json"],
    ("show",): ["--db", "--json"],
    ("annotate",): ["--expected", "--expected-json", "--expected-file", "--grader", "--option", "--tag", "--suite"],
    ("dismiss",): ["--reason", "--db"],
    ("promote",): ["--suite", "--force", "--db"],
    ("label",): ["--good", "--bad", "--note", "--db"],
    ("prune",): ["--older-than", "--dry-run", "--db"],
    ("run",): ["--suite", "--concurrency", "--epochs", "--timeout", "--retries", "--tag", "--case", "--shard"],
    ("runs",): ["--limit", "--db", "--json"],
    ("report",): ["--format", "--merge", "--db"],
    ("compare",): ["--format", "--fail-on", "--db"],
    ("holdout",): ["--fraction", "--force", "--suite"],
    ("verify",): ["--suite", "--db"],
    ("config",): ["--suite", "--db", "--concurrency", "--timeout", "--epochs", "--fail-on", "--json"],
    ("db", "copy"): [],
    ("judge", "calibrate"): ["--grader-file", "--suite", "--db", "--json"],
    ("token", "create"): ["--name", "--scope", "--db"],
    ("token", "list"): ["--db", "--json"],
    ("token", "revoke"): ["--db"],
}
_NAMES = sorted(COMMANDS)

# Values: anything a shell can pass (argv comes decoded with surrogateescape, so lone surrogates
# are possible; NUL is not), and the shapes the options parse.
_SHAPES = st.sampled_from(
    ["0", "-1", "1e309", "nan", "0.5", "x=", "=y", "k=v", "[1", "{}", "..", "../../etc", "/", "evals", "-", "--",
     "a" * 300, "2024-13-45", "30d", "x:y", "nosuchmodule:f", ":", "exact", "contains", "table", "json"]
)  # fmt: skip
_TEXT = st.text(st.characters(codec=None, exclude_characters="\x00"), max_size=12).filter(lambda t: "://" not in t)
_VALUE = _SHAPES | _TEXT


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(_NAMES))
    options = COMMANDS[command]
    argv = list(command)
    for _ in range(draw(st.integers(0, 4))):
        if options and draw(st.booleans()):
            argv.append(draw(st.sampled_from(options)))
        argv.append(draw(_VALUE))
    if draw(st.booleans()):
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(["--help", "--bogus", "-x"])))
    return argv


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """(exit code, stderr) of `cases ARGV`; any exception but SystemExit escapes (a traceback)."""
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, capsys.readouterr().err


@given(argv=argvs())
def test_any_arguments_exit_0_1_or_2_without_a_traceback(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, err = run_in_process(argv, capsys)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["show", "\udcff\udcfe"], id="undecodable-bytes-as-an-id"),
        pytest.param(["flag", "zz", "--reason", "\udcff"], id="undecodable-reason"),
        pytest.param(["run", "--suite", "../../../.."], id="suite-far-up"),
        pytest.param(["verify", "--db", "postgresql://casebank@127.0.0.1:1/x"], id="postgres-refusing"),
        pytest.param(["import", "nowhere.jsonl", "--entrypoint", "x:../../y"], id="import-climbing-out"),
        pytest.param(["traces", "--limit", "99999999999999999999999"], id="huge-limit"),
    ],
)
def test_the_real_command_exits_cleanly_on_strange_arguments(cases: Cases, argv: list[str]) -> None:
    result = cases(*argv)
    assert result.code in (1, 2) and "Traceback" not in result.err, result
    assert (result.err or result.out).strip()  # it says why


def test_undecodable_bytes_on_the_real_command_line_are_not_a_traceback(tmp_path: Path) -> None:
    from tests.server.conftest import child_env

    proc = subprocess.run(
        [sys.executable.encode(), b"-m", b"casebank", b"show", b"\xff\xfe"],
        cwd=tmp_path,
        env={**child_env(), "CASEBANK_DB": str(tmp_path / "casebank.db"), "LC_ALL": "C.UTF-8"},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode in (1, 2) and b"Traceback" not in proc.stderr, proc.stderr
