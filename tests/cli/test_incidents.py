"""`cases list / show / annotate / dismiss / promote`, through the real command in a subprocess.

Exit codes and error lines are checked on a real process; after every refused command the whole
store (and the suite folder) is compared with what it held before: bad input changes nothing.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from casebank.cli import main
from casebank.replay._case import load_case
from casebank.store import open_store
from tests.cli.conftest import PROJECT_ROOT, Cases, InProcess, TraceMaker, assert_one_line_error, store_snapshot

REASON = "wrong refund window: policy says 30 days"


def incident(db: Path, incident_id: str) -> dict[str, object]:
    with open_store(db) as store:
        return store.get_incident(incident_id).as_dict()


# -- list ------------------------------------------------------------------------------------------


@pytest.fixture
def four_incidents(db: Path, make_trace: TraceMaker) -> dict[str, str]:
    """One incident in each status, keyed by status."""
    ids = {}
    with open_store(db) as store:
        for status in ("flagged", "annotated", "promoted", "dismissed"):
            ids[status] = store.flag(make_trace(), f"bad {status}").id
        store.annotate(ids["annotated"], expected="x", grader={"name": "exact"}, tags=[])
        store.annotate(ids["promoted"], expected="x", grader={"name": "exact"}, tags=[])
        store.mark_promoted(ids["promoted"], case_id=ids["promoted"], case_path="evals/x.json")
        store.dismiss(ids["dismissed"], "not a bug")
    return ids


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        pytest.param([], {"flagged", "annotated"}, id="default-open"),
        pytest.param(["--status", "open"], {"flagged", "annotated"}, id="open"),
        pytest.param(["--status", "all"], {"flagged", "annotated", "promoted", "dismissed"}, id="all"),
        pytest.param(["--status", "promoted"], {"promoted"}, id="promoted"),
        pytest.param(["-s", "dismissed"], {"dismissed"}, id="dismissed"),
    ],
)
def test_list_json_filters_by_status(
    cases: Cases, four_incidents: dict[str, str], args: list[str], shown: set[str]
) -> None:
    result = cases("list", *args, "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {r["status"] for r in rows} == shown
    assert {r["id"] for r in rows} == {four_incidents[s] for s in shown}
    assert all("spans" not in r and r["span_count"] == 2 for r in rows)


def test_list_table_shows_id_status_entry_point_and_latest_reason(
    cases: Cases, db: Path, four_incidents: dict[str, str]
) -> None:
    with open_store(db) as store:
        store.flag(store.get_incident(four_incidents["flagged"]).trace_id, "and rude too")
    result = cases("list", env={"COLUMNS": "120"})
    assert result.code == 0, result.err
    assert four_incidents["flagged"] in result.out and four_incidents["annotated"] in result.out
    assert four_incidents["promoted"] not in result.out and four_incidents["dismissed"] not in result.out
    assert "support_bot:answer" in result.out
    assert "(2x) and rude too" in result.out


def test_list_with_nothing_open_says_how_to_flag(cases: Cases, db: Path) -> None:
    open_store(db).close()
    result = cases("list")
    assert result.code == 0
    assert "no open incidents" in result.out and "cases flag" in result.out


def test_list_refuses_an_unknown_status(cases: Cases, four_incidents: dict[str, str]) -> None:
    result = cases("list", "--status", "closed")
    assert result.code == 2
    assert "closed" in result.err and "Traceback" not in result.err


# -- show ------------------------------------------------------------------------------------------


def test_show_by_prefix_has_reasons_input_bad_output_spans_and_annotation(
    cases: Cases, annotated: str, make_trace: TraceMaker
) -> None:
    make_trace()  # another trace in the store is not shown
    result = cases("show", annotated[:5])
    assert result.code == 0, result.err
    out = result.out
    assert f"incident   {annotated} (annotated)" in out
    assert "ana: " + REASON in out
    assert '"question": "How long do I have to return shoes?"' in out
    assert "bad output\n  We refund within 14 days." in out
    assert "answer  support_bot:answer  1000.0 ms\n└── chat gpt-4o-mini  812.5 ms\n" in out
    assert "expected\n  We refund within 30 days." in out
    assert "grader     exact" in out and "tags       refunds" in out
    assert f"next: cases promote {annotated}" in out


def test_show_json_is_the_whole_incident_including_the_span_snapshot(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("show", flagged, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data == json.loads(orjson.dumps(incident(db, flagged)))
    assert data["status"] == "flagged" and data["expected"] is None
    assert [s["name"] for s in data["spans"]] == ["answer", "chat gpt-4o-mini"]


def test_show_accepts_a_trace_id_prefix_too(cases: Cases, db: Path, flagged: str) -> None:
    trace_id = str(incident(db, flagged)["trace_id"])
    result = cases("show", trace_id[:10], "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["id"] == flagged


def test_show_in_process_prints_the_error_of_a_failed_trace(
    db: Path, make_trace: TraceMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id = make_trace(status="error", error="TimeoutError: model did not answer", children=[("chat", 5.0, "error")])
    with open_store(db) as store:
        incident_id = store.flag(trace_id, "no answer").id
    with pytest.raises(SystemExit) as exit_info:
        main(["show", incident_id, "--db", str(db)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "bad output\n  (none: the call raised)" in out
    assert "error\n  TimeoutError: model did not answer" in out
    assert f"next: cases annotate {incident_id}" in out


# -- ids -------------------------------------------------------------------------------------------


@pytest.fixture
def crowded(db: Path, make_trace: TraceMaker) -> tuple[str, list[str]]:
    """17 incidents, so at least two share a first hex digit: (that digit, their ids)."""
    with open_store(db) as store:
        ids = [store.flag(make_trace(), "bad").id for _ in range(17)]
    digit, _ = Counter(i[0] for i in ids).most_common(1)[0]
    return digit, [i for i in ids if i.startswith(digit)]


@pytest.mark.parametrize("command", ["show", "annotate"])
def test_an_ambiguous_prefix_is_a_one_line_usage_error_naming_the_candidates(
    cases: Cases, db: Path, crowded: tuple[str, list[str]], command: str
) -> None:
    digit, candidates = crowded
    extra = {"annotate": ["--expected", "x"], "dismiss": ["--reason", "x"]}.get(command, [])
    before = store_snapshot(db)
    result = cases(command, digit, *extra)
    assert_one_line_error(result, 2, f"'{digit}' is ambiguous", candidates[0], "type more characters")
    assert store_snapshot(db) == before


@pytest.mark.parametrize(
    ("command", "given", "fragment"),
    [
        pytest.param("show", "ffffffffffff", "no incident matches 'ffffffffffff'", id="show-unknown"),
        pytest.param("annotate", "ffffffffffff", "no incident matches 'ffffffffffff'", id="annotate-unknown"),
        pytest.param("dismiss", "ffffffffffff", "no incident matches 'ffffffffffff'", id="dismiss-unknown"),
        pytest.param("promote", "ffffffffffff", "no incident matches 'ffffffffffff'", id="promote-unknown"),
        pytest.param("show", "not-an-id", "'not-an-id' is not an incident id", id="show-not-hex"),
    ],
)
def test_an_unknown_id_is_a_one_line_usage_error(
    cases: Cases, db: Path, flagged: str, command: str, given: str, fragment: str
) -> None:
    extra = {"annotate": ["--expected", "x"], "dismiss": ["--reason", "x"]}.get(command, [])
    before = store_snapshot(db)
    assert_one_line_error(cases(command, given, *extra), 2, fragment, "cases list")
    assert store_snapshot(db) == before


# -- annotate --------------------------------------------------------------------------------------


def test_annotate_with_text_records_expected_grader_and_tags(cases: Cases, db: Path, flagged: str) -> None:
    result = cases(
        "annotate", flagged[:6], "--expected", "We refund within 30 days.", "--tag", "refunds", "-t", "policy"
    )
    assert result.code == 0, result.err
    assert f"annotated incident {flagged} (grader exact)" in result.out
    assert f"next: cases promote {flagged}" in result.out
    data = incident(db, flagged)
    assert data["status"] == "annotated"
    assert data["expected"] == "We refund within 30 days."
    assert data["grader"] == {"name": "exact", "options": {}}
    assert data["tags"] == ["policy", "refunds"]


@pytest.mark.parametrize(
    ("options", "stored"),
    [
        pytest.param(["normalize=whitespace"], {"normalize": "whitespace"}, id="text-value"),
        pytest.param(['normalize="both"'], {"normalize": "both"}, id="json-string-value"),
    ],
)
def test_annotate_grader_options_are_json_when_they_parse_else_text(
    cases: Cases, db: Path, flagged: str, options: list[str], stored: dict[str, object]
) -> None:
    args = [a for o in options for a in ("--option", o)]
    result = cases("annotate", flagged, "--expected", "We refund within 30 days.", *args)
    assert result.code == 0, result.err
    assert incident(db, flagged)["grader"] == {"name": "exact", "options": stored}


def test_annotate_with_contains_and_a_json_option(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("annotate", flagged, "--expected", "30 DAYS", "--grader", "contains", "-o", "ignore_case=true")
    assert result.code == 0, result.err
    assert incident(db, flagged)["grader"] == {"name": "contains", "options": {"ignore_case": True}}


def test_annotate_with_regex_takes_the_pattern_as_text(cases: Cases, db: Path, flagged: str) -> None:
    result = cases(
        "annotate", flagged, "--expected", "within 30 days", "--grader", "regex", "--option", r"pattern=\b30 days\b"
    )
    assert result.code == 0, result.err
    assert incident(db, flagged)["grader"] == {"name": "regex", "options": {"pattern": r"\b30 days\b"}}


def test_annotate_with_expected_json(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("annotate", flagged, "--expected-json", '{"days": 30, "refund": true}')
    assert result.code == 0, result.err
    assert incident(db, flagged)["expected"] == {"days": 30, "refund": True}


def test_annotate_finds_a_graders_file_in_the_suite_folder_it_is_given(
    cases: Cases, db: Path, flagged: str, tmp_path: Path
) -> None:
    (tmp_path / "qa").mkdir()
    schema = {"type": "object", "required": ["days"], "properties": {"days": {"const": 30}}}
    (tmp_path / "qa" / "refund.json").write_text(json.dumps(schema))
    args = ("--grader", "json_schema", "--option", "schema_file=refund.json", "--expected-json", '{"days": 30}')
    result = cases("annotate", flagged, "--suite", "qa", *args)
    assert result.code == 0, result.err
    assert "warning" not in result.err
    promoted = cases("promote", flagged, "--suite", "qa")
    assert promoted.code == 0, promoted.err
    assert Path(promoted.out.strip()).parent.name == "qa"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("expected.txt", "We refund within 30 days.\n", "We refund within 30 days.", id="text"),
        pytest.param("expected.md", "line one\n\nline two\n\n", "line one\n\nline two\n", id="one-newline-dropped"),
        pytest.param("expected.json", '{"days": 30}\n', {"days": 30}, id="json"),
    ],
)
def test_annotate_with_expected_file(
    cases: Cases, db: Path, flagged: str, tmp_path: Path, name: str, content: str, expected: object
) -> None:
    (tmp_path / name).write_text(content)
    result = cases("annotate", flagged, "--expected-file", name)
    assert result.code == 0, result.err
    assert incident(db, flagged)["expected"] == expected


def test_annotating_a_dismissed_incident_is_refused_without_reopen(cases: Cases, db: Path, flagged: str) -> None:
    assert cases("dismiss", flagged, "--reason", "not a bug").code == 0
    before = store_snapshot(db)

    result = cases("annotate", flagged, "--expected", "We refund within 30 days.")

    assert_one_line_error(result, 2, f"incident {flagged} is dismissed (not a bug) - pass --reopen")
    assert store_snapshot(db) == before


def test_annotating_a_dismissed_incident_with_reopen_reopens_it_and_says_so(
    cases: Cases, db: Path, flagged: str
) -> None:
    assert cases("dismiss", flagged, "--reason", "not a bug").code == 0

    result = cases("annotate", flagged[:5], "--reopen", "--expected", "We refund within 30 days.")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"annotated incident {flagged} (grader exact) - reopened: it was dismissed"
    assert incident(db, flagged)["status"] == "annotated"


def test_reopen_changes_nothing_for_an_incident_that_is_not_dismissed(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("annotate", flagged, "--reopen", "--expected", "We refund within 30 days.")

    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == f"annotated incident {flagged} (grader exact)"


def test_annotate_warns_when_promote_would_refuse(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("annotate", flagged, "--expected", "We refund within 14 days.")
    assert result.code == 0, result.err
    assert "warning: the grader passes the flagged bad output" in result.err
    assert incident(db, flagged)["status"] == "annotated"


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [
        pytest.param(["--expected-json", "{bad"], 2, ["--expected-json '{bad' is not valid JSON"], id="malformed-json"),
        pytest.param(["--expected-json", "We refund"], 2, ["is not valid JSON", "needs quotes"], id="unquoted-json"),
        pytest.param(
            ["--expected", "a", "--expected-json", '"b"'],
            2,
            ["pass only one of --expected, --expected-json"],
            id="two-expected-options",
        ),
        pytest.param([], 2, ["--expected TEXT", "terminal"], id="no-expected-and-no-terminal"),
        pytest.param(["--expected", "x", "--grader", "judge"], 2, ["unknown grader 'judge'", "exact"], id="no-grader"),
        pytest.param(["--expected", "x", "--option", "normalize"], 2, ["'normalize' is not KEY=VALUE"], id="no-equals"),
        pytest.param(["--expected", "x", "--option", "nomalize=case"], 2, ["no option 'nomalize'"], id="typo-option"),
        pytest.param(["--expected", "x", "-o", "normalize=upper"], 2, ["normalize='upper'"], id="bad-option-value"),
        pytest.param(
            ["--expected", ".*", "--grader", "regex"],
            2,
            ["pattern '.*' matches an empty output", "e.g. --expected '\\d+ days'"],
            id="regex-matches-empty",
        ),
        pytest.param(
            ["--expected", "(", "--grader", "regex"],
            2,
            ["pattern '(' does not compile", "fix it, e.g. --expected '\\d+ days'"],
            id="regex-expected-does-not-compile",
        ),
        pytest.param(
            ["--expected-json", '{"a": 1}', "--grader", "not_contains"],
            2,
            ["needs the text the output must not contain", "annotate with --expected '14 days'"],
            id="not-contains-not-text",
        ),
        pytest.param(
            ["--expected-json", '{"solution": "x = 1"}', "--grader", "python_tests"],
            2,
            ["needs test code as the expected output", "--expected-file tests.py --option solution_file=solution.py"],
            id="python-tests-without-tests",
        ),
        pytest.param(
            ["--expected", "x", "--grader", "regex", "--option", "pattern=("], 2, ["does not compile"], id="bad-regex"
        ),
        pytest.param(
            ["--expected-file", "missing.txt"], 2, ["cannot read --expected-file 'missing.txt'"], id="no-file"
        ),
        pytest.param(["--expected-file", "bad.json"], 2, ["'bad.json' is not valid JSON"], id="bad-json-file"),
    ],
)
def test_bad_annotate_input_is_a_one_line_error_and_stores_nothing(
    cases: Cases, db: Path, annotated: str, tmp_path: Path, args: list[str], code: int, fragments: list[str]
) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    before = store_snapshot(db)
    result = cases("annotate", annotated, *args)
    assert_one_line_error(result, code, *fragments)
    assert store_snapshot(db) == before


def test_a_promoted_incident_cannot_be_annotated_or_dismissed(
    cases: Cases, db: Path, annotated: str, tmp_path: Path
) -> None:
    assert cases("promote", annotated).code == 0
    before = store_snapshot(db)
    assert_one_line_error(cases("annotate", annotated, "--expected", "x"), 2, "already promoted", "frozen")
    assert_one_line_error(cases("dismiss", annotated, "--reason", "x"), 2, "already promoted")
    assert store_snapshot(db) == before


def test_cases_help_lists_the_incident_commands_in_the_loops_order(cases: Cases) -> None:
    # annotate lives in its own module but is registered between show and dismiss.
    listed = [line.split()[0] for line in cases("--help").out.splitlines() if line.startswith("  ")]
    loop = ["list", "show", "annotate", "dismiss", "promote"]
    assert [name for name in listed if name in loop] == loop
    assert listed.index("promote") - listed.index("list") == 4


# -- what --expected is to regex, not_contains and python_tests (issue 13, section 6) ----------------


def case_file(tmp_path: Path, promoted: str) -> dict[str, object]:
    data: dict[str, object] = orjson.loads((tmp_path / promoted.strip()).read_bytes())
    return data


@pytest.mark.parametrize(
    ("args", "grader", "expected"),
    [
        pytest.param(["--grader", "regex", "--expected", r"\b30 days\b"], "regex", r"\b30 days\b", id="regex"),
        pytest.param(["-g", "not_contains", "--expected", "14 days"], "not_contains", "14 days", id="not-contains"),
        pytest.param(
            ["-g", "not_contains", "--expected-json", '["14 days", "60 days"]'],
            "not_contains",
            ["14 days", "60 days"],
            id="not-contains-list",
        ),
    ],
)
def test_a_pattern_or_forbidden_text_in_expected_is_checked_on_the_bad_output_only_and_promoted(
    cases: Cases, db: Path, flagged: str, tmp_path: Path, args: list[str], grader: str, expected: object
) -> None:
    result = cases("annotate", flagged, *args)
    assert result.code == 0, result.err
    assert result.err == ""
    what = "pattern an output must match" if grader == "regex" else "text an output must not contain"
    assert result.out.splitlines()[1] == (
        "the grader fails the flagged output; only that half was checked, as there is no good output to grade: "
        f"the expected value is the {what}, not an example of one - next: cases promote {flagged}"
    )
    assert incident(db, flagged)["grader"] == {"name": grader, "options": {}}
    promoted = cases("promote", flagged)
    assert promoted.code == 0, promoted.err
    case = case_file(tmp_path, promoted.out)
    assert case["expected"] == expected
    assert case["source"]["sanity_check"] == {  # type: ignore[index]
        "expected_passes": None,
        "bad_output_fails": True,
        "forced": False,
    }


def test_a_pattern_the_bad_output_matches_is_refused_at_promote_saying_only_that_half_was_checked(
    cases: Cases, db: Path, flagged: str
) -> None:
    result = cases("annotate", flagged, "--grader", "regex", "--expected", r"within \d+ days")
    assert result.code == 0, result.err
    assert result.err == (
        "warning: the grader passes the flagged bad output (output does match /within \\d+ days/); only that half "
        "could be checked: the expected value is the pattern an output must match, not an example of one - "
        "promote would refuse this case\n"
    )
    before = store_snapshot(db)
    refused = cases("promote", flagged)
    assert_one_line_error(refused, 1, "this case would not have caught the incident", "only that half could be checked")
    assert store_snapshot(db) == before


def test_the_pattern_option_keeps_its_meaning_the_expected_output_is_an_example(cases: Cases, flagged: str) -> None:
    result = cases("annotate", flagged, "-g", "regex", "-o", "pattern=30 days", "--expected", "within 30 days")
    assert result.code == 0, result.err
    assert "the grader passes the expected output and fails the flagged one" in result.out


TESTS_PY = "def test_refund_window():\n    assert refund_days() == 30\n"
SOLUTION_PY = "def refund_days():\n    return 30\n"


def test_python_tests_without_a_solution_warns_and_promote_refuses_with_the_command_that_works(
    cases: Cases, db: Path, flagged: str, tmp_path: Path
) -> None:
    (tmp_path / "tests.py").write_text(TESTS_PY)
    result = cases("annotate", flagged, "--grader", "python_tests", "--expected-file", "tests.py")
    assert result.code == 0, result.err
    fix = f"cases annotate {flagged} --grader python_tests --expected-file tests.py --option solution_file=solution.py"
    assert result.err == (
        "warning: there is no reference solution to check that the tests pass a good answer - add one: "
        f"{fix} - promote would refuse this case\n"
    )
    before = store_snapshot(db)
    refused = cases("promote", flagged)
    assert_one_line_error(refused, 1)
    assert refused.err == (
        f"error: refused to promote incident {flagged}: there is no reference solution to check that the tests pass "
        f"a good answer - add one: {fix} (or pass --force to promote it unchecked)\n"
    )
    assert store_snapshot(db) == before

    # The command it gives works as it stands, once solution.py is in the suite folder.
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "solution.py").write_text(SOLUTION_PY)
    again = cases(*fix.split()[1:])
    assert again.code == 0, again.err
    assert "the grader passes the expected output and fails the flagged one" in again.out
    promoted = cases("promote", flagged)
    assert promoted.code == 0, promoted.err
    case = case_file(tmp_path, promoted.out)
    assert case["expected"] == TESTS_PY.rstrip("\n")
    assert case["grader"] == {"name": "python_tests", "options": {"solution_file": "solution.py"}}
    assert case["source"]["sanity_check"]["expected_passes"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--expected", TESTS_PY, "--option", f"solution={SOLUTION_PY}"], id="solution-option"),
        pytest.param(["--expected-json", json.dumps({"tests": TESTS_PY, "solution": SOLUTION_PY})], id="older-json"),
    ],
)
def test_python_tests_with_a_solution_is_promoted(cases: Cases, flagged: str, args: list[str]) -> None:
    result = cases("annotate", flagged, "--grader", "python_tests", *args)
    assert result.code == 0, result.err
    assert "the grader passes the expected output and fails the flagged one" in result.out
    assert cases("promote", flagged).code == 0


# -- annotate in $EDITOR ---------------------------------------------------------------------------

EDITOR = """\
import shutil, sys
path = sys.argv[1]
shutil.copy(path, {copy!r})
with open(path, "a") as fh:
    fh.write({text!r})
"""


def run_on_a_terminal(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run `cases` with stdin and stdout on a pseudo-terminal, as a person at a terminal would."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "casebank", *args], stdin=follower, stdout=follower, stderr=follower, cwd=cwd, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: every holder of the terminal's other end has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(chunks).decode(errors="replace")


def editor_env(tmp_path: Path, db: Path, text: str) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR.format(copy=str(tmp_path / "template.txt"), text=text))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VISUAL")}
    env.update(
        {
            "EDITOR": f"{sys.executable} {script}",
            "CASEBANK_DB": str(db),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    return env


def test_annotate_on_a_terminal_opens_the_editor_on_a_template(tmp_path: Path, db: Path, flagged: str) -> None:
    with open_store(db) as store:
        store.flag(store.get_incident(flagged).trace_id, "rude,\nand wrong")
    env = editor_env(tmp_path, db, "\nWe refund within 30 days.\n\n")
    code, out = run_on_a_terminal(["annotate", flagged, "--tag", "refunds"], cwd=tmp_path, env=env)
    assert code == 0, out
    template = (tmp_path / "template.txt").read_text()
    assert f"# Write the expected output for incident {flagged}" in template
    assert "#   - " + REASON in template
    assert "#   - rude, and wrong" in template
    assert '#     "question": "How long do I have to return shoes?"' in template
    assert "# bad output:\n#   We refund within 14 days." in template
    data = incident(db, flagged)
    assert data["expected"] == "We refund within 30 days."
    assert data["tags"] == ["refunds"] and data["status"] == "annotated"


def test_annotate_in_the_editor_parses_json_when_the_flagged_output_was_structured(
    tmp_path: Path, db: Path, make_trace: TraceMaker
) -> None:
    with open_store(db) as store:
        incident_id = store.flag(make_trace(output={"days": 14}), "wrong").id
    env = editor_env(tmp_path, db, '{"days": 30}\n')
    code, out = run_on_a_terminal(["annotate", incident_id], cwd=tmp_path, env=env)
    assert code == 0, out
    assert "as JSON" in (tmp_path / "template.txt").read_text()
    assert incident(db, incident_id)["expected"] == {"days": 30}


def test_annotate_in_the_editor_left_empty_changes_nothing(tmp_path: Path, db: Path, flagged: str) -> None:
    before = store_snapshot(db)
    code, out = run_on_a_terminal(["annotate", flagged], cwd=tmp_path, env=editor_env(tmp_path, db, "# just a note\n"))
    assert code == 0, out
    assert f"no expected output given - incident {flagged} is unchanged" in out
    assert store_snapshot(db) == before


# -- dismiss ---------------------------------------------------------------------------------------


def test_dismiss_records_the_reason_and_closes_the_incident(cases: Cases, db: Path, flagged: str) -> None:
    result = cases("dismiss", flagged[:4], "--reason", "the customer misread the answer")
    assert result.code == 0, result.err
    assert result.out == f"dismissed incident {flagged}\n"
    data = incident(db, flagged)
    assert data["status"] == "dismissed" and data["dismissed_reason"] == "the customer misread the answer"
    assert json.loads(cases("list", "--json").out) == []
    assert "dismissed: the customer misread the answer" in cases("show", flagged).out


def test_dismiss_needs_a_reason(cases: Cases, db: Path, flagged: str) -> None:
    before = store_snapshot(db)
    assert_one_line_error(cases("dismiss", flagged, "--reason", " "), 2, "--reason is empty")
    assert cases("dismiss", flagged).code == 2
    assert store_snapshot(db) == before


# -- promote ---------------------------------------------------------------------------------------


def test_promote_writes_a_frozen_case_and_prints_its_path(
    cases: Cases, db: Path, annotated: str, tmp_path: Path
) -> None:
    result = cases("promote", annotated[:5])
    assert result.code == 0, result.err
    assert result.out == f"evals/answer-{annotated}.json\n"
    case = load_case(tmp_path / result.out.strip())
    assert case.id == annotated
    assert case.entrypoint == "support_bot:answer"
    assert case.input == {"question": "How long do I have to return shoes?"}
    assert case.expected == "We refund within 30 days."
    assert case.tags == ["refunds"]
    assert case.source["bad_output"] == "We refund within 14 days."
    assert case.source["reasons"] == [REASON]
    assert case.source["sanity_check"] == {"expected_passes": True, "bad_output_fails": True, "forced": False}
    data = incident(db, annotated)
    assert data["status"] == "promoted" and data["case_path"] == result.out.strip()
    assert "1 promoted" in cases("status").out and "1 in evals" in cases("status").out


def test_promote_into_another_suite_folder(cases: Cases, annotated: str, tmp_path: Path) -> None:
    result = cases("promote", annotated, "--suite", "tests/evals")
    assert result.code == 0, result.err
    assert (tmp_path / result.out.strip()).parent == tmp_path / "tests" / "evals"


@pytest.mark.parametrize(
    ("annotate_args", "problem"),
    [
        pytest.param(
            ["--expected", "We refund within 14 days."],
            "the grader passes the flagged bad output",
            id="bad-output-passes",
        ),
        pytest.param(
            ["--expected", "We refund within 30 days.", "--grader", "contains", "--option", "substring=refund"],
            "the grader passes the flagged bad output",
            id="contains-too-loose",
        ),
        pytest.param(
            ["--expected", "We refund within 30 days.", "--grader", "regex", "--option", "pattern=^thirty"],
            "the grader fails the expected output",
            id="expected-fails",
        ),
    ],
)
def test_promote_refuses_a_case_its_grader_would_not_catch(
    cases: Cases, db: Path, flagged: str, tmp_path: Path, annotate_args: list[str], problem: str
) -> None:
    assert cases("annotate", flagged, *annotate_args).code == 0
    before = store_snapshot(db)
    result = cases("promote", flagged)
    assert_one_line_error(result, 1, "this case would not have caught the incident", problem, "--force")
    assert result.out == ""
    assert store_snapshot(db) == before
    assert not (tmp_path / "evals").exists() or not list((tmp_path / "evals").iterdir())


def test_promote_force_writes_the_case_and_records_that_it_was_forced(
    cases: Cases, db: Path, flagged: str, tmp_path: Path
) -> None:
    assert cases("annotate", flagged, "--expected", "We refund within 14 days.").code == 0
    result = cases("promote", flagged, "--force")
    assert result.code == 0, result.err
    assert "warning: promoted with --force although the grader passes the flagged bad output" in result.err
    case = load_case(tmp_path / result.out.strip())
    assert case.source["sanity_check"] == {"expected_passes": True, "bad_output_fails": False, "forced": True}
    assert incident(db, flagged)["status"] == "promoted"


def test_promote_needs_an_annotation_first(cases: Cases, db: Path, flagged: str) -> None:
    before = store_snapshot(db)
    assert_one_line_error(cases("promote", flagged), 2, "no expected output", f"cases annotate {flagged}")
    assert store_snapshot(db) == before


def test_promote_twice_is_refused(cases: Cases, db: Path, annotated: str) -> None:
    assert cases("promote", annotated).code == 0
    before = store_snapshot(db)
    assert_one_line_error(cases("promote", annotated), 2, "already promoted")
    assert store_snapshot(db) == before


@pytest.mark.parametrize(
    "suite",
    [pytest.param("evals", id="suite-is-a-file"), pytest.param("evals/cases", id="suite-is-under-a-file")],
)
def test_promote_into_an_unwritable_suite_folder_is_an_error_and_changes_nothing(
    cases: Cases, db: Path, annotated: str, tmp_path: Path, suite: str
) -> None:
    # Tests run as root, for whom chmod stops nothing: a regular file in the way does.
    (tmp_path / "evals").write_text("not a folder\n")
    before = store_snapshot(db)
    result = cases("promote", annotated, "--suite", suite)
    assert result.code == 2, (result.out, result.err)
    assert "Traceback" not in result.err
    assert "'evals" in result.err
    assert result.out == ""
    assert store_snapshot(db) == before
    assert (tmp_path / "evals").read_text() == "not a folder\n"


def test_promote_to_a_suite_under_a_file_is_one_line(cases: Cases, annotated: str, tmp_path: Path) -> None:
    (tmp_path / "evals").write_text("not a folder\n")
    assert_one_line_error(cases("promote", annotated, "--suite", "evals/cases"), 2, "'evals/cases'", "--suite")


# -- end to end ------------------------------------------------------------------------------------

BOT = """\
import casebank

LAST = {{}}


@casebank.trace
def answer(question: str) -> str:
    LAST["trace_id"] = casebank.current_trace_id()  # a real app hands this to its support tool
    return "We refund within {days} days."
"""

PRODUCT = """\
import casebank, bot
casebank.init()
bot.answer("How long do I have to return shoes?")
casebank.flush()
print(bot.LAST["trace_id"])
"""


def test_the_loop_end_to_end_from_a_traced_product_to_a_failing_and_passing_run(
    cases: Cases, tmp_path: Path, db: Path
) -> None:
    (tmp_path / "bot.py").write_text(BOT.format(days=14))
    product = subprocess.run(
        [sys.executable, "-c", PRODUCT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CASEBANK_DB": str(db), "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PROJECT_ROOT)])},
    )
    assert product.returncode == 0, product.stderr
    trace_id = product.stdout.strip()
    assert len(trace_id) == 32, product.stdout

    assert trace_id in cases("traces").out
    flag = cases("flag", trace_id, "--reason", "policy is 30 days")
    assert flag.code == 0, flag.err
    incident_id = flag.out.strip()
    assert cases("annotate", incident_id, "--expected", "We refund within 30 days.").code == 0
    promoted = cases("promote", incident_id)
    assert promoted.code == 0, promoted.err
    case = load_case(tmp_path / promoted.out.strip())
    assert case.entrypoint == "bot:answer"
    assert case.input == {"question": "How long do I have to return shoes?"}
    assert case.source["bad_output"] == "We refund within 14 days."

    still_broken = cases("run")
    assert still_broken.code == 1, still_broken.out + still_broken.err
    (tmp_path / "bot.py").write_text(BOT.format(days=30))
    fixed = cases("run")
    assert fixed.code == 0, fixed.out + fixed.err


def test_the_incident_commands_in_process(cases_in_process: InProcess, flagged: str, tmp_path: Path) -> None:
    """A quick walk through every incident command, printing what a person reads."""
    assert flagged in cases_in_process("list").out
    assert cases_in_process("list", "--status", "promoted").out.startswith("no incidents with status promoted")
    assert "next: cases annotate" in cases_in_process("show", flagged).out
    (tmp_path / "expected.txt").write_text("We refund within 30 days.\n")
    annotated = cases_in_process("annotate", flagged, "--expected-file", "expected.txt", "-o", "normalize=both")
    assert annotated.code == 0 and "next: cases promote" in annotated.out
    assert "grader     exact (normalize=both)" in cases_in_process("show", flagged).out
    assert cases_in_process("dismiss", flagged, "--reason", "dup").code == 0
    assert f"next: cases annotate {flagged} --reopen" in cases_in_process("show", flagged).out
    assert cases_in_process("annotate", flagged, "--expected-json", '"We refund within 30 days."').code == 2
    assert cases_in_process("annotate", flagged, "--reopen", "--expected-json", '"We refund within 30 days."').code == 0
    promoted = cases_in_process("promote", flagged)
    assert promoted.code == 0 and promoted.out == f"evals/answer-{flagged}.json\n"
    shown = cases_in_process("show", flagged)
    assert f"case       evals/answer-{flagged}.json" in shown.out and "next: cases run" in shown.out
    refused = cases_in_process("promote", flagged)
    assert refused.code == 2 and refused.err.startswith("error: ") and refused.err.count("\n") == 1
