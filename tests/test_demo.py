"""`cases demo`: the whole loop on the bundled example bot, run for real.

The demo is itself a script of subprocesses; these tests check that it runs from the installed
command, that each step shows, that --keep leaves a usable folder, and that a step which does
not behave as expected makes it fail loudly instead of printing a happy ending.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from casebank._demo import example_source, run_demo


def test_cases_demo_runs_the_whole_loop_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "CASEBANK_DB": str(tmp_path / "not-the-demo-store.db")}
    done = subprocess.run(
        [sys.executable, "-m", "casebank", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    trace_id = re.search(r"^\$ cases flag ([0-9a-f]{32}) --reason ", out, re.M)
    assert trace_id, out
    assert f'"trace_id": "{trace_id.group(1)}"' in out  # the id the bot printed with its answer
    incident_id = re.search(r"^\$ cases show (\S+)$", out, re.M)
    assert incident_id, out
    case = incident_id.group(1)
    for step in (
        "$ python -m support_bot tickets.jsonl",
        f"$ cases annotate {case} --expected 'within 14 days' --grader contains --tag refunds --frozen-tools",
        f"$ cases promote {case}",
        f"evals/answer-{case}.json",
        '+    Fact("returns", ("refund", "return", "money"), "Refunds are accepted within 14 days of delivery."),',
        '+  "returns": "Over the holidays, anything bought in December can be returned until 31 January."',
        "$ cases status",
        "Every step behaved as expected.",
    ):
        assert step in out
    # The case keeps what the policy lookup returned in production: no rule for returns that day.
    promoted = out.split(f"$ cat evals/answer-{case}.json\n")[1].split("\n## ")[0]
    assert '"name": "lookup_policy"' in promoted and '"result": null' in promoted
    assert '"frozen_tools": true' in promoted
    fixed, frozen, regressed = out.split("$ cases run\n")[1:]
    assert "1/1 passed" in fixed
    # The policy service changed: the frozen replay still passes, a live one quotes the new rule and fails.
    assert "1/1 passed" in frozen and "tool calls: 1 from fixtures, 0 live" in frozen
    live = frozen.split("$ cases run --live-tools\n")[1]
    assert case in live and "0/1 passed" in live and "holidays" in live
    assert "tool calls: 0 from fixtures, 1 live" in live
    # The code regression is caught by the frozen replay, for its own reason (the 30-day exchange fact).
    assert case in regressed and "Exchange" in regressed and "tool calls: 1 from fixtures" in regressed
    # The demo's store is its own: the caller's CASEBANK_DB is neither used nor created.
    assert not (tmp_path / "not-the-demo-store.db").exists()
    # Without --keep, nothing is left behind.
    assert list(tmp_path.iterdir()) == []


def test_demo_keep_leaves_the_folder_with_its_store_and_case(tmp_path: Path) -> None:
    out = io.StringIO()

    assert run_demo(keep=True, out=out, parent=tmp_path) == 0

    [folder] = tmp_path.glob("casebank-demo-*")
    assert f"The demo folder is kept: cd {folder}" in out.getvalue()
    assert (folder / ".casebank" / "casebank.db").is_file()
    assert len(list((folder / "evals").glob("answer-*.json"))) == 1


def test_demo_fails_loudly_when_the_bot_does_not_show_its_bug(tmp_path: Path) -> None:
    source = tmp_path / "support_bot"
    shutil.copytree(example_source(), source, ignore=shutil.ignore_patterns("__pycache__"))
    knowledge = source / "knowledge.py"
    knowledge.write_text(knowledge.read_text().replace("within 30 days", "within 14 days"))
    out = io.StringIO()

    assert run_demo(out=out, source=source, parent=tmp_path) == 1

    assert "demo failed: no answer quoted the wrong refund window" in out.getvalue()
    assert "the demo folder is kept for a look:" in out.getvalue()


def test_demo_fails_loudly_when_a_command_exits_with_the_wrong_code(tmp_path: Path) -> None:
    # A bot whose answers do not depend on its knowledge: the fix cannot make the case pass.
    source = tmp_path / "support_bot"
    shutil.copytree(example_source(), source, ignore=shutil.ignore_patterns("__pycache__"))
    model = source / "model.py"
    model.write_text(model.read_text() + "\n\ndef complete(ticket, context):  # noqa\n    return 'within 30 days'\n")
    out = io.StringIO()

    assert run_demo(out=out, source=source, parent=tmp_path) == 1

    assert re.search(r"demo failed: 'cases run' exited 1, expected 0", out.getvalue()), out.getvalue()


def test_demo_help_shows_an_example() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "casebank", "demo", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert "cases demo --keep" in done.stdout
