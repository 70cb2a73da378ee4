"""`cases config`, and the project config in the commands that take its settings, through the real `cases`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from casebank.replay import Case, write_case
from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT, Cases, Result, assert_one_line_error

BOT = """
def answer(question):
    return "We refund within 14 days." if question == "refund" else "Happy to help."
"""


def cases_in(folder: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The real `cases` started in `folder`, with no CASEBANK_DB unless `env` sets one."""
    full_env = {k: v for k, v in os.environ.items() if k != "CASEBANK_DB"}
    full_env.update({"PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "200", "NO_COLOR": "1"})
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "casebank", *args], cwd=folder, env=full_env, capture_output=True, text=True, timeout=120
    )
    return Result(code=proc.returncode, out=proc.stdout, err=proc.stderr)


def write_project(root: Path, config: str, *, suite: str = "evals", file: str = "pyproject.toml") -> None:
    (root / file).write_text(textwrap.dedent(config))
    (root / "refund_bot.py").write_text(textwrap.dedent(BOT))
    for case_id, question, expected in (("c1", "hello", "Happy to help."), ("c2", "refund", "30 days")):
        write_case(
            Case(
                id=case_id,
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint="refund_bot:answer",
                input={"question": question},
                expected=expected,
                grader={"name": "contains", "options": {}},
            ),
            root / suite,
        )


def test_cases_config_shows_each_setting_and_where_it_came_from(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
        [tool.casebank]
        suite = "qa"
        concurrency = 16
        timeout = 30
        frozen_tools = true

        [tool.casebank.factories]
        "invoice_app.bot:Bot" = "invoice_app.bot:make_bot"
        """,
        suite="qa",
    )
    pyproject = tmp_path / "pyproject.toml"

    result = cases_in(tmp_path, "config", "--epochs", "3", env={"CASEBANK_DB": "/srv/cb/cases.db"})

    assert result.code == 0, result.err
    assert result.out == textwrap.dedent(
        f"""\
        file: {pyproject}
        suite           qa                                                      {pyproject}
        db              /srv/cb/cases.db                                        env CASEBANK_DB
        concurrency     16                                                      {pyproject}
        timeout         30                                                      {pyproject}
        epochs          3                                                       flag --epochs
        fail_on         regression with --baseline, else any                    default
        frozen_tools    true                                                    {pyproject}
        factories       {{ "invoice_app.bot:Bot" = "invoice_app.bot:make_bot" }}  {pyproject}
        pytest          false                                                   default
        retention_days  none (keep every trace)                                 default
        redact          [] (secrets only)                                       default
        """
    )


def test_cases_config_without_a_file_says_so_and_shows_the_defaults_as_json(tmp_path: Path) -> None:
    result = cases_in(tmp_path, "config", "--json")

    assert result.code == 0, result.err
    shown = orjson.loads(result.out)
    assert shown["file"] is None
    assert {key: (s["value"], s["source"]) for key, s in shown["settings"].items()} == {
        "suite": ("evals", "default"),
        "db": (None, "default"),
        "concurrency": (8, "default"),
        "timeout": (None, "default"),
        "epochs": (1, "default"),
        "fail_on": (None, "default"),
        "frozen_tools": (False, "default"),
        "factories": ({}, "default"),
        "pytest": (False, "default"),
        "retention_days": (None, "default"),
        "redact": ([], "default"),
    }
    text = cases_in(tmp_path, "config")
    assert (
        text.out.splitlines()[0]
        == "file: none (no casebank.toml, nor pyproject.toml with [tool.casebank], here or above)"
    )


def test_a_bad_config_is_one_line_and_exit_2_for_every_command(tmp_path: Path) -> None:
    (tmp_path / "casebank.toml").write_text('concurency = 4\nfail_on = "any"\n')

    for args in (("config",), ("run",), ("status",), ("list",)):
        assert_one_line_error(
            cases_in(tmp_path, *args), 2, f"'{tmp_path / 'casebank.toml'}': unknown key 'concurency'", "did you mean"
        )


def test_cases_run_takes_suite_db_concurrency_and_epochs_from_the_file_from_a_subfolder(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        """
        [tool.casebank]
        suite = "qa"
        db = "store/cases.db"
        concurrency = 3
        epochs = 2
        """,
        suite="qa",
    )
    (tmp_path / "docs").mkdir()

    # From a subfolder: the file is found upwards and its paths are the project's. The entry points
    # import from the current folder, so the bot goes on the path as a CI job would put it.
    result = cases_in(tmp_path / "docs", "run", env={"PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{tmp_path}"})

    assert result.code == 1, result.err  # c2 expects 30 days
    with open_store(tmp_path / "store" / "cases.db", create=False) as store:
        [run] = store.list_runs()
        results = store.run_results(run["id"])
    assert (run["suite"], run["concurrency"], run["total"]) == (str(tmp_path / "qa"), 3, 2)
    assert sorted((r["case_id"], r["epoch"], r["passed"]) for r in results) == [
        ("c1", 0, 1),
        ("c1", 1, 1),
        ("c2", 0, 0),
        ("c2", 1, 0),
    ]


def test_flags_win_over_the_file(tmp_path: Path, cases: Cases, db: Path) -> None:
    write_project(tmp_path, '[tool.casebank]\nsuite = "nowhere"\nconcurrency = 3\nepochs = 2\n')

    result = cases("run", "--suite", "evals", "--concurrency", "5", "--epochs", "1")

    assert result.code == 1, result.err
    with open_store(db, create=False) as store:
        [run] = store.list_runs()
    assert (run["suite"], run["concurrency"], run["total"]) == ("evals", 5, 2)


def test_the_file_s_fail_on_is_the_gate_of_a_run_against_a_baseline(tmp_path: Path, cases: Cases) -> None:
    write_project(tmp_path, '[tool.casebank]\nfail_on = "significant"\n')
    assert cases("run", "--json", "base.json").code == 1  # without a baseline the gate is any: c2 fails
    (tmp_path / "refund_bot.py").write_text("def answer(question):\n    return 'no'\n")  # c1 regresses

    significant = cases("run", "--baseline", "base.json")
    regression = cases("run", "--baseline", "base.json", "--fail-on", "regression")

    assert significant.code == 0, significant.out  # one regression is no significant drop
    assert regression.code == 1, regression.out


def test_a_timeout_in_the_file_bounds_each_case(tmp_path: Path, cases: Cases, db: Path) -> None:
    write_project(tmp_path, "[tool.casebank]\ntimeout = 0.2\n")
    (tmp_path / "refund_bot.py").write_text(
        "import threading\n\ndef answer(question):\n    threading.Event().wait()  # never answers\n"
    )

    result = cases("run")

    assert result.code == 1
    with open_store(db, create=False) as store:
        [run] = store.list_runs()
        reasons = {r["reason"] for r in store.run_results(run["id"])}
    assert reasons == {"timed out after 0.2 s"}


def test_promote_import_and_status_use_the_file_s_suite(tmp_path: Path, cases: Cases, annotated: str) -> None:
    write_project(tmp_path, '[tool.casebank]\nsuite = "qa"\n', suite="qa")
    (tmp_path / "golden.jsonl").write_text('{"input": "refund?", "expected": "14 days"}\n')

    promoted = cases("promote", annotated)
    imported = cases("import", "golden.jsonl", "--entrypoint", "refund_bot:answer")
    status = cases("status", "--json")

    assert promoted.out == f"qa/answer-{annotated}.json\n", promoted.err
    assert imported.code == 0 and imported.out.splitlines()[1].startswith("  qa/"), imported.err
    assert (orjson.loads(status.out)["suite"], orjson.loads(status.out)["cases"]) == ("qa", 4)
