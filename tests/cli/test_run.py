"""`cases run` through a real subprocess: exit codes, what it prints, the files and rows it writes."""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.replay import Case, write_case
from casebank.store import open_store
from tests.cli.conftest import Cases, InProcess
from tests.fakes_openai_compat import FakeCompat

BOT = """
import asyncio

def answer(question):
    if question == "crash":
        raise RuntimeError("model unavailable")
    if question == "refund":
        return "We refund within 14 days."
    return "Happy to help."

async def answer_async(question):
    await asyncio.sleep(0)
    return answer(question)

def fixed(question):
    return "We refund within 30 days." if question == "refund" else "Happy to help."
"""


def write_project(root: Path, cases: list[tuple[str, str, str, Any]]) -> None:
    """shop_bot.py in `root` and one case file per (id, function, question, expected)."""
    (root / "shop_bot.py").write_text(textwrap.dedent(BOT))
    for case_id, function, question, expected in cases:
        write_case(
            Case(
                id=case_id,
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint=f"shop_bot:{function}",
                input={"question": question},
                expected=expected,
                grader={"name": "exact", "options": {}},
            ),
            root / "evals",
        )


def masked(text: str) -> str:
    """The run id masked and trailing spaces (rich pads a table's title) dropped."""
    return re.sub(r"\brun [0-9a-f]{12}\b", "run RUN_ID", "".join(line.rstrip() + "\n" for line in text.splitlines()))


def progress_of(err: str) -> list[str]:
    """The progress lines `cases run` writes to stderr when stdout is not a terminal, without the elapsed
    time; any other line on stderr fails the test."""
    lines = err.splitlines()
    shape = re.compile(r"(progress: \d+/\d+ done, \d+ failed), \d+:\d\d:\d\d elapsed")
    assert all(shape.fullmatch(line) for line in lines), err
    return [shape.sub(r"\1", line) for line in lines]


def run_id_of(out: str) -> str:
    match = re.search(r"\brun ([0-9a-f]{12}) recorded in", out)
    assert match, out
    return match.group(1)


def test_run_exits_0_when_every_case_passes_and_records_the_run(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(
        tmp_path, [("c1", "answer", "hello", "Happy to help."), ("c2", "answer_async", "hi", "Happy to help.")]
    )

    # PYTHONSAFEPATH keeps Python from putting the current folder on sys.path itself (3.11+), as the
    # `cases` console script does not: the runner must do it.
    result = cases("run", env={"PYTHONSAFEPATH": "1"})

    assert result.code == 0, result.err
    # stdout is a pipe here, as in CI: progress lines on stderr, the report alone on stdout
    assert progress_of(result.err)[-1] == "progress: 2/2 done, 0 failed"
    assert masked(result.out) == (
        "2/2 passed (100.0%)\n"
        "pass rate 100.0% (95% CI 34.2-100.0%) over 2 cases\n"
        "power (80%, alpha 0.05): 2 cases at 100.0% cannot see a regression of less than 97 points\n"
        f"run RUN_ID recorded in {db}\n"
        "audit: freshness FAIL, size FAIL, graders ok - see 'cases audit freshness size'\n"
    )
    run_id = run_id_of(result.out)
    with open_store(db, create=False) as store:
        [run] = store.list_runs()
        results = store.run_results(run_id)
    assert (run["id"], run["suite"], run["total"], run["passed"], run["target"]) == (run_id, "evals", 2, 2, None)
    assert [(r["case_id"], r["passed"], r["output"]) for r in results] == [
        ("c1", 1, "Happy to help."),
        ("c2", 1, "Happy to help."),
    ]


def test_run_exits_1_when_a_case_fails_showing_expected_and_actual(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(
        tmp_path,
        [
            ("c1", "answer", "hello", "Happy to help."),
            ("c2", "answer", "refund", "We refund within 30 days."),
            ("c3", "answer_async", "crash", "Happy to help."),
        ],
    )

    result = cases("run", "--json", "out/run.json", "--junit", "out/junit.xml")

    assert result.code == 1, result.err
    assert masked(result.out) == (
        "2 of 3 cases did not pass\n"
        "┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┓\n"
        "┃ case                 ┃ expected         ┃ actual          ┃ why              ┃\n"
        "┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━┩\n"
        "│ c2                   │ We refund within │ We refund       │ expected 'We     │\n"
        "│ answer-c2.json       │ 30 days.         │ within 14 days. │ refund within 30 │\n"
        "│                      │                  │                 │ days.', got 'We  │\n"
        "│                      │                  │                 │ refund within 14 │\n"
        "│                      │                  │                 │ days.'           │\n"
        "│ c3                   │ Happy to help.   │ raised          │ the entry point  │\n"
        "│ answer_async-c3.json │                  │ RuntimeError:   │ raised           │\n"
        "│                      │                  │ model           │                  │\n"
        "│                      │                  │ unavailable     │                  │\n"
        "└──────────────────────┴──────────────────┴─────────────────┴──────────────────┘\n"
        "1/3 passed (33.3%) - 1 failed, 1 raised an exception\n"
        "pass rate 33.3% (95% CI 6.1-79.2%) over 3 cases\n"
        "power (80%, alpha 0.05): 3 cases at 33.3% cannot see any regression, even to 0%\n"
        f"run RUN_ID recorded in {db}\n"
        "wrote out/run.json\n"
        "wrote out/junit.xml\n"
        "audit: freshness FAIL, size FAIL, graders ok - see 'cases audit freshness size'\n"
    )
    report = orjson.loads((tmp_path / "out" / "run.json").read_bytes())
    assert (report["total"], report["passed"], report["failed"], report["errored"]) == (3, 1, 1, 1)
    assert [(r["case_id"], r["status"]) for r in report["results"]] == [
        ("c1", "passed"),
        ("c2", "failed"),
        ("c3", "errored"),
    ]
    assert report["results"][2]["error"] == "RuntimeError: model unavailable"
    junit = ET.fromstring((tmp_path / "out" / "junit.xml").read_text())
    [suite] = junit.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert [[child.tag for child in case] for case in suite.findall("testcase")] == [[], ["failure"], ["error"]]
    assert {case.get("classname") for case in suite.findall("testcase")} == {"shop_bot"}
    with open_store(db, create=False) as store:
        [run] = store.list_runs()
    assert run["id"] == report["id"] and (run["passed"], run["failed"], run["errored"]) == (1, 1, 1)


def test_the_report_file_options_keep_their_help(cases_in_process: InProcess) -> None:
    # The help of each option is the report format's own line (the registry's), in the same words as ever.
    out = cases_in_process("run", "--help", columns=200).out

    for line in (
        "--json PATH                     Also write the whole run as JSON here.",
        "--junit PATH                    Also write a JUnit XML report here.",
        "--markdown PATH                 Also write a pull-request comment here.",
    ):
        assert f"  {line}\n" in out


def test_target_replaces_every_cases_entry_point(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, [("c1", "answer", "refund", "We refund within 30 days.")])

    assert cases("run").code == 1
    result = cases("run", "--target", "shop_bot:fixed", "--concurrency", "2")

    assert result.code == 0, result.out + result.err
    assert result.out.startswith("1/1 passed (100.0%)\n")
    with open_store(db, create=False) as store:
        latest = max(store.list_runs(), key=lambda run: run["started_at"])
    assert (latest["target"], latest["concurrency"]) == ("shop_bot:fixed", 2)


def test_a_tampered_case_exits_2_naming_the_file(tmp_path: Path, db: Path, cases: Cases) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help."), ("c2", "answer", "hi", "Happy to help.")])
    path = tmp_path / "evals" / "answer-c2.json"
    path.write_text(path.read_text().replace("Happy to help.", "Anything goes."))

    result = cases("run")

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(
        f"error: case file '{Path('evals') / 'answer-c2.json'}' was modified after it was frozen"
    )
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not db.exists()  # nothing ran, nothing was recorded


@pytest.mark.parametrize(
    ("target", "error"),
    [
        pytest.param(
            "no_such_bot:answer",
            "error: cannot import target 'no_such_bot:answer': ModuleNotFoundError: No module named 'no_such_bot' - "
            "run 'cases run' from the project folder (it is put on the import path), or check the module's name\n",
            id="missing-module",
        ),
        pytest.param(
            "shop_bot:nope",
            "error: cannot import target 'shop_bot:nope': 'shop_bot' has no attribute 'nope' - check the name "
            "(e.g. 'support_bot.bot:answer')\n",
            id="missing-function",
        ),
        pytest.param(
            "shop_bot.answer",
            "error: target 'shop_bot.answer' is not MODULE:FUNCTION (e.g. 'support_bot.bot:answer')\n",
            id="no-colon",
        ),
    ],
)
def test_an_unimportable_target_exits_2_with_one_line(
    tmp_path: Path, db: Path, cases: Cases, target: str, error: str
) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help.")])

    result = cases("run", "--target", target)

    assert (result.code, result.out, result.err) == (2, "", error)
    with open_store(db, create=False) as store:
        assert store.list_runs() == []


def test_a_missing_suite_exits_2(tmp_path: Path, cases: Cases) -> None:
    result = cases("run", "--suite", "nowhere")

    assert (result.code, result.out) == (2, "")
    assert result.err == "error: suite folder 'nowhere' does not exist - promote a case with 'cases promote ID'\n"


def test_a_concurrency_below_one_exits_2(tmp_path: Path, cases: Cases) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help.")])

    result = cases("run", "--concurrency", "0")

    assert result.code == 2
    assert "--concurrency" in result.err


def test_run_creates_the_store_on_a_fresh_machine(tmp_path: Path, cases: Cases) -> None:
    write_project(tmp_path, [("c1", "answer", "hello", "Happy to help.")])
    fresh = tmp_path / "ci" / "store.db"

    result = cases("run", "--db", str(fresh))

    assert result.code == 0, result.err
    with open_store(fresh, create=False) as store:
        assert [run["total"] for run in store.list_runs()] == [1]


# -- issue 4: meaning graders -----------------------------------------------------------------------


def write_graded(root: Path, grader: dict[str, Any], cases: list[tuple[str, str, Any]]) -> None:
    """shop_bot.py and one case per (id, question, expected), each graded by `grader`."""
    (root / "shop_bot.py").write_text(textwrap.dedent(BOT))
    for case_id, question, expected in cases:
        write_case(
            Case(
                id=case_id,
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint="shop_bot:answer",
                input={"question": question},
                expected=expected,
                grader=grader,
            ),
            root / "evals",
        )


def test_a_second_run_takes_embeddings_from_the_store_not_the_endpoint(
    tmp_path: Path, db: Path, cases: Cases, fake: FakeCompat
) -> None:
    grader = {"name": "embedding", "options": {"base_url": fake.openai_url, "model": "embed-1", "threshold": 0.9}}
    write_graded(
        tmp_path,
        grader,
        [("e1", "hello", "Happy to help."), ("e2", "refund", "We refund within 30 days."), ("e3", "crash", "x")],
    )

    first = cases("run", "--epochs", "2", "--json", "first.json")
    after_first = [r.body["input"] for r in fake.on("/v1/embeddings")]
    second = cases("run")

    assert (first.code, second.code) == (1, 1), (first.err, second.err)
    # one batched request: the outputs and expected outputs of every case and epoch, each text once
    assert [sorted(texts) for texts in after_first] == [
        sorted(["Happy to help.", "We refund within 14 days.", "We refund within 30 days."])
    ]
    assert len(fake.on("/v1/embeddings")) == 1  # the second run asked nothing
    results = orjson.loads((tmp_path / "first.json").read_text())["results"]
    assert [(r["case_id"], r["epoch"], r["status"]) for r in results] == [
        ("e1", 0, "passed"),
        ("e1", 1, "passed"),
        ("e2", 0, "failed"),
        ("e2", 1, "failed"),
        ("e3", 0, "errored"),
        ("e3", 1, "errored"),
    ]
    assert results[2]["reason"] == "similarity 0.80 is below the threshold 0.9"
    assert "1/3 passed (33.3%) - 1 failed, 1 raised an exception" in second.out


def test_an_uncalibrated_judge_is_marked_unreliable_in_the_report_the_json_and_the_store(
    tmp_path: Path, db: Path, cases: Cases, fake: FakeCompat
) -> None:
    judge = {
        "name": "llm_judge",
        "options": {"rubric": 'must mention "30 days"', "model": "j", "base_url": fake.openai_url},
    }
    write_graded(tmp_path, judge, [("j1", "refund", "We refund within 30 days.")])

    result = cases("run", "--json", "run.json", "--markdown", "comment.md")

    assert result.code == 1, result.err
    footnote = (
        "† unreliable verdicts (1 result): judge not calibrated - run 'cases judge calibrate "
        "--grader-file FILE --suite evals' with its grader spec in FILE"
    )
    assert "│ j1 †" in result.out
    assert footnote + "\n" in result.out
    assert "- " + footnote + "\n" in (tmp_path / "comment.md").read_text()
    [data] = orjson.loads((tmp_path / "run.json").read_text())["results"]
    assert (data["status"], data["unreliable"]) == ("failed", footnote.partition(": ")[2])
    assert "does not mention '30 days'" in data["reason"]
    with open_store(db, create=False) as store:
        [stored] = store.run_results(store.resolve_run("latest")["id"])
    assert stored["unreliable"] == data["unreliable"]
