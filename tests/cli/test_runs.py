"""`cases runs`, `cases report`, `cases compare` and the gate of `cases run --baseline`, through real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest

from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT, Cases, assert_one_line_error
from tests.cli.test_run import run_id_of, write_project
from tests.replay.test_report_formats import team_plugin

CASES = [
    ("c1", "answer", "hello", "Happy to help."),
    ("c2", "answer", "refund", "We refund within 30 days."),
    ("c3", "answer", "hi", "Happy to help."),
]


def set_bot(root: Path, *, refund: str = "We refund within 14 days.", hello: str = "Happy to help.") -> None:
    (root / "shop_bot.py").write_text(
        textwrap.dedent(
            f"""
            def answer(question):
                if question == "refund":
                    return {refund!r}
                return {hello!r} if question == "hello" else "Happy to help."
            """
        )
    )


def test_runs_lists_each_run_and_report_re_renders_one_in_every_format(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, CASES)
    first = run_id_of(cases("run").out)
    set_bot(tmp_path, refund="We refund within 30 days.")
    second = run_id_of(cases("run", "--json", "second.json").out)

    listed = cases("runs")
    as_json = orjson.loads(cases("runs", "--json").out)
    table = cases("report", first[:5])
    latest_json = orjson.loads(cases("report", "latest", "--format", "json").out)
    junit = ET.fromstring(cases("report", second, "--format", "junit").out)
    markdown = cases("report", first, "--format", "markdown").out
    from_file = cases("report", "second.json", "--format", "json")

    assert listed.code == 0, listed.err
    assert listed.out.index(second) < listed.out.index(first)  # newest first
    assert "2/3" in listed.out and "3/3" in listed.out
    assert [(r["id"], r["passed"], r["status"], r["epochs"], r["origin"]) for r in as_json] == [
        (second, 3, "finished", 1, "cli"),
        (first, 2, "finished", 1, "cli"),
    ]
    assert listed.out.count("│ cli") == 2, listed.out
    assert table.code == 0 and "2/3 passed (66.7%) - 1 failed\n" in table.out and "14 days" in table.out, table.out
    assert latest_json["id"] == second and latest_json["summary"]["pass_rate"] == 1.0
    assert junit.find("testsuite") is not None and junit.find("testsuite").get("tests") == "3"  # type: ignore[union-attr]
    assert markdown.startswith("### ❌ casebank: 2/3 passed (66.7%) - 1 failed\n")
    assert orjson.loads(from_file.out)["results"] == latest_json["results"]


def test_runs_piped_to_a_file_keeps_every_cell_whole(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, CASES)
    run_id = run_id_of(cases("run", "--target", "shop_bot:answer").out)

    piped = cases("runs", env={"COLUMNS": ""})  # stdout is a pipe, and no width was asked for
    narrow = cases("runs")  # COLUMNS=80, as a terminal of 80 columns would say

    assert "…" not in piped.out, piped.out
    [row] = [line.split() for line in piped.out.splitlines() if line.startswith("│ " + run_id)]
    assert [cell for cell in row if cell != "│"][-5:] == ["shop_bot:answer", "2/3", "66.7%", "finished", "cli"]
    assert "…" in narrow.out  # the same table cut to 80 columns: what the pipe no longer does


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [
        pytest.param(("report", "latest"), 2, ("no runs in store",), id="no-runs-yet"),
        pytest.param(("report", "ffff"), 2, ("no run matches 'ffff'", "cases runs"), id="unknown-id"),
        pytest.param(("report", "zz"), 2, ("'zz' is not a run id",), id="not-hex"),
        pytest.param(("report", "latest", "--format", "pdf"), 2, ("--format 'pdf'",), id="bad-format"),
        pytest.param(("run", "--fail-on", "regression"), 2, ("--fail-on regression needs a baseline",), id="no-base"),
        pytest.param(("run", "--fail-on", "never"), 2, ("--fail-on 'never' is not one of",), id="bad-fail-on"),
        pytest.param(("run", "--baseline", "missing.json"), 2, ("cannot read baseline file 'missing.json'",), id="f"),
        pytest.param(("run", "--shard", "5/4"), 2, ("shard '5/4' is not I/N",), id="bad-shard"),
        pytest.param(
            ("report", "--merge", "nope.json", "other.json"), 2, ("cannot read merge file 'nope.json'",), id="merge"
        ),
        pytest.param(("report", "nope.json"), 2, ("cannot read run file 'nope.json'",), id="report-file"),
        pytest.param(
            ("compare", "nope.json", "no.json"), 2, ("cannot read baseline file 'nope.json'",), id="compare-a"
        ),
        pytest.param(("run", "--retry-on", "NotAnException"), 2, ("--retry-on 'NotAnException' is not",), id="retry"),
    ],
)
def test_bad_runs_and_options_exit_2_with_one_line(
    tmp_path: Path, db: Path, cases: Cases, args: tuple[str, ...], code: int, fragments: tuple[str, ...]
) -> None:
    write_project(tmp_path, CASES)
    open_store(db).close()

    assert_one_line_error(cases(*args), code, *fragments)


def test_a_team_s_report_format_plugs_in_through_its_installed_entry_point(tmp_path: Path, cases: Cases) -> None:
    write_project(tmp_path, CASES)
    ran = cases("run", "--json", "run.json")
    plugin = team_plugin(tmp_path / "site", "team_reports")
    installed = {"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(plugin.site)])}

    csv = cases("report", "run.json", "--format", "csv", env=installed)
    own_json = cases("report", "run.json", "--format", "json", env=installed)
    unknown = cases("report", "run.json", "--format", "pdf", env=installed)
    broken = cases("report", "run.json", "--format", "broken", env=installed)
    help_with = cases("report", "--help", env=installed)
    help_without = cases("report", "--help")

    assert csv.code == 0 and csv.out == "c1,passed\nc2,failed\nc3,passed\n", csv.out + csv.err
    assert orjson.loads(own_json.out)["id"] == run_id_of(ran.out)  # a plug-in's `json` does not replace casebank's
    names = "table, json, junit, markdown, html, csv, count, three, broken, missing"
    assert_one_line_error(unknown, 2, f"--format 'pdf' is not one of {names} - pick one")
    assert_one_line_error(
        broken,
        2,
        "report format 'broken' (team_reports_missing:render in entry point group casebank.reports) cannot be loaded",
        "fix or uninstall the package that provides it",
    )
    assert "--format table|json|junit|markdown|html|csv|count|three|broken|missing\n" in help_with.out
    assert "--format table|json|junit|markdown|html\n" in help_without.out


def test_the_baseline_gate_exits_by_fail_on(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, CASES)
    set_bot(tmp_path, refund="We refund within 30 days.")
    base = cases("run", "--json", "base.json")
    assert base.code == 0, base.out + base.err
    set_bot(tmp_path, refund="We refund within 30 days.", hello="Hi!")  # c1 regresses

    regression = cases("run", "--baseline", "latest")
    any_ = cases("run", "--baseline", base_id := run_id_of(base.out), "--fail-on", "any")
    significant = cases("run", "--baseline", "base.json", "--fail-on", "significant", "--markdown", "pr.md")
    compared = cases("compare", base_id, "latest", "--format", "markdown")
    gate = cases("compare", base_id, "latest", "--fail-on", "regression")

    assert regression.code == 1, regression.out + regression.err
    assert "regressions (passed before, not now): c1\n" in regression.out
    assert "McNemar exact test on 1 discordant pair (1 regression, 0 fixes): p = 1" in regression.out
    assert any_.code == 1
    assert significant.code == 0, significant.out + significant.err  # one regression is not significant
    assert "1 regression against baseline" in (tmp_path / "pr.md").read_text()
    assert compared.code == 0 and compared.out.startswith(f"### ❌ casebank: 1 regression against baseline `{base_id}`")
    assert gate.code == 1 and "regressions (passed before, not now): c1" in gate.out

    set_bot(tmp_path, refund="We refund within 30 days.")  # fixed again
    assert cases("run", "--baseline", base_id).code == 0


def test_epochs_tags_and_shards_from_the_command_line(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, CASES)

    epochs = cases("run", "--epochs", "2", "--junit", "j.xml")
    shards = [cases("run", "--shard", f"{i}/3", "--json", f"s{i}.json") for i in (1, 2, 3)]
    merged = cases("report", "--merge", "s1.json", "s2.json", "s3.json", "--format", "json")
    twice = cases("report", "--merge", "s1.json", "s1.json")
    one = cases("run", "--case", "c2")

    assert epochs.code == 1 and "2 epochs: mean pass rate 66.7%, passed every epoch (pass^2) 66.7%" in epochs.out
    testcases = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite/testcase")
    assert len(testcases) == 3 and "epoch 2: failed" in (testcases[1].find("failure").text or "")  # type: ignore[union-attr]
    ran = [
        case["case_id"] for i in (1, 2, 3) for case in orjson.loads((tmp_path / f"s{i}.json").read_bytes())["results"]
    ]
    assert sorted(ran) == ["c1", "c2", "c3"]
    assert all(s.code in (0, 1) for s in shards)
    assert merged.code == 0, merged.err
    assert sorted(r["case_id"] for r in orjson.loads(merged.out)["results"]) == ["c1", "c2", "c3"]
    assert_one_line_error(twice, 2, "given twice")
    assert one.code == 1 and "0/1 passed" in one.out


SLOW_BOT = """
import pathlib
import threading

def answer(question):
    if question == "hello":
        return "Happy to help."
    pathlib.Path(f"started-{question}").touch()
    threading.Event().wait()  # hangs until the process goes
"""


def spawn(tmp_path: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CASEBANK_DB": str(db), "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "casebank", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)  # polling for a file the child writes, not a guess at timing


def test_ctrl_c_stores_the_partial_run_marked_interrupted_and_prints_it(tmp_path: Path, db: Path) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help."), ("c2", "answer", "slow", "x")])
    (tmp_path / "shop_bot.py").write_text(SLOW_BOT)
    proc = spawn(tmp_path, db, "run", "--concurrency", "1")
    wait_for(tmp_path / "started-slow", proc)

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert "interrupted: a partial run - 1 case finished before Ctrl-C" in out
    assert "1/1 passed (100.0%)" in out
    with open_store(db, create=False) as store:
        [run] = store.list_runs()
    assert (run["status"], run["total"], run["passed"]) == ("interrupted", 1, 1)


# A target that holds on after the first Ctrl-C cancels it, as one stuck in its own clean-up would.
# A second cancellation ends it, and the run then ends the first Ctrl-C's way: recorded and printed.
# So a process that exits 130 having printed nothing, with the target never cancelled twice, was
# ended by the second Ctrl-C's immediate exit and by nothing else.
STUBBORN_BOT = """
import asyncio
import pathlib

async def answer_async(question):
    pathlib.Path("started").touch()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pathlib.Path("cancelled-once").touch()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        pathlib.Path("cancelled-twice").touch()
        raise
"""


def test_a_second_ctrl_c_exits_at_once(tmp_path: Path, db: Path) -> None:
    write_project(tmp_path, [("c1", "answer_async", "stuck", "x")])
    (tmp_path / "shop_bot.py").write_text(STUBBORN_BOT)
    proc = spawn(tmp_path, db, "run")
    wait_for(tmp_path / "started", proc)

    proc.send_signal(signal.SIGINT)
    # The first Ctrl-C was handled (the case was cancelled) and the run is still waiting on it:
    # the second one cannot merge into the first, nor reach a handler already removed.
    wait_for(tmp_path / "cancelled-once", proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert out == "", out  # the first Ctrl-C's way would print the partial run and where it was recorded
    assert not (tmp_path / "cancelled-twice").exists()
    assert "Traceback" not in err


def test_a_case_over_timeout_fails_and_the_command_exits_even_with_a_hung_thread(tmp_path: Path, cases: Cases) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help."), ("c2", "answer", "slow", "x")])
    (tmp_path / "shop_bot.py").write_text(SLOW_BOT)

    result = cases("run", "--timeout", "0.2", "--junit", "j.xml")

    assert result.code == 1, result.out + result.err
    assert "timed out after 0.2 s" in result.out and "timed out: 1\n" in result.out
    assert ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase/failure").get("type") == "timeout"  # type: ignore[union-attr]
