"""`cases run` keeps no secret the code under test returns or raises (issue 18): real `cases`
subprocesses, a real store file.

Graders see the raw output - the regex cases below pass only on it - while the store, stdout and
every report file hold markers. The suite's expected values hold no secret: they are patterns.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson

from casebank.replay import Case, CaseResult, RunReport, write_case
from casebank.replay._records import record
from casebank.replay._report_json import report_dict
from casebank.store import open_store
from tests.cli.conftest import Cases

KEY = "sk-proj-" + "A1b2C3d4" * 4  # an OpenAI-shaped key, 40 characters
PASSWORD = "hunter2pw"
URL = f"postgres://app:{PASSWORD}@db/prod"
EMAIL = "alice.lindqvist@example.com"
# 35 characters, so that a reason's quote, cut at 57, ends inside the password: "...app:hunter2"
PADDING = "the database for every order is at "

BOT = f'''
def reply(question):
    return "key {KEY} and {URL}"


def long_reply(question):
    return "{PADDING}{URL}, ask {EMAIL}"


def structured(question):
    return {{"api_key": "plain-looking-value", "dsn": "{URL}", "order": 42}}


def crash(question):
    raise ConnectionError("cannot reach {URL} with key {KEY}")
'''

SECRETS = (KEY, PASSWORD, "hunter2", "plain-looking-value", EMAIL)


def write_suite(root: Path) -> None:
    (root / "leaky_bot.py").write_text(textwrap.dedent(BOT))
    (root / "casebank.toml").write_text('redact = ["email"]\n')
    for case_id, function, grader, expected in (
        # pass only on the raw output: redacted, the key and the password are markers
        ("raw-key", "reply", "regex", r"key sk-proj-(A1b2C3d4){4} and"),
        ("raw-url", "reply", "regex", r"postgres://app:[a-z0-9]{9}@db/prod"),
        # fails, and its reason quotes the output cut short through the password
        ("quoted", "long_reply", "exact", "a different answer"),
        ("fields", "structured", "json_fields", {"order": 42}),
        ("raises", "crash", "exact", "never returned"),
    ):
        write_case(
            Case(
                id=case_id,
                created_at="2024-05-01T12:00:00.000+00:00",
                entrypoint=f"leaky_bot:{function}",
                input={"question": "where is my order?"},
                expected=expected,
                grader={"name": grader, "options": {}},
            ),
            root / "evals",
        )


def store_bytes(db: Path) -> bytes:
    """Every byte of the store: the database file and any journal beside it."""
    return b"".join(path.read_bytes() for path in sorted(db.parent.glob(db.name + "*")))


def assert_no_secret(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} is in {where}"


def test_results_and_every_report_hold_markers_while_graders_saw_the_raw_output(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    write_suite(tmp_path)

    result = cases(
        "run",
        "--json",
        "out/run.json",
        "--html",
        "out/run.html",
        "--markdown",
        "out/run.md",
        "--junit",
        "out/junit.xml",
    )

    assert result.code == 1, result.err  # `quoted` and `raises` do not pass
    report = orjson.loads((tmp_path / "out" / "run.json").read_bytes())
    by_id = {r["case_id"]: r for r in report["results"]}
    assert {case_id: r["status"] for case_id, r in by_id.items()} == {
        "fields": "passed",
        "quoted": "failed",
        "raises": "errored",
        "raw-key": "passed",
        "raw-url": "passed",
    }
    assert by_id["raw-key"]["output"] == "key [REDACTED:openai_key] and postgres://app:[REDACTED:password]@db/prod"
    assert by_id["fields"]["output"] == {
        "api_key": "[REDACTED:api_key]",
        "dsn": "postgres://app:[REDACTED:password]@db/prod",
        "order": 42,
    }
    # the project config's redactors too; the quote in the reason was redacted before it was cut
    assert by_id["quoted"]["output"] == f"{PADDING}postgres://app:[REDACTED:password]@db/prod, ask [REDACTED:email]"
    assert by_id["quoted"]["reason"] == (
        "expected 'a different answer', got 'the database for every order is at postgres://app:[REDACT...'"
    )
    raised = by_id["raises"]
    assert raised["error"] == (
        "ConnectionError: cannot reach postgres://app:[REDACTED:password]@db/prod with key [REDACTED:openai_key]"
    )
    assert raised["reason"] == f"raised {raised['error']}"
    assert "[REDACTED:openai_key]" in raised["traceback"] and "leaky_bot.py" in raised["traceback"]
    # the expected output is the case file's own, kept as written
    assert by_id["raw-url"]["expected"] == r"postgres://app:[a-z0-9]{9}@db/prod"

    for name in ("run.json", "run.html", "run.md", "junit.xml"):
        text = (tmp_path / "out" / name).read_text()
        assert_no_secret(name, text)
        assert "[REDA" in text, name  # markers (the markdown comment cuts its cells short)
    assert_no_secret("stdout", result.out)
    assert_no_secret("stderr", result.err)
    assert_no_secret("the store", store_bytes(db))

    again = cases("report", "latest", "--format", "html")
    assert again.code == 0, again.err
    assert_no_secret("cases report", again.out)
    assert "[REDACTED:openai_key]" in again.out


def _older_run(run_id: str) -> RunReport:
    """A run as a casebank from before results were redacted kept it: the secrets as the code gave them."""
    result = CaseResult(
        case_id="leaky",
        case_file="evals/leaky.json",
        entrypoint="leaky_bot:reply",
        grader="exact",
        expected="a different answer",
        output={"answer": f"key {KEY}", "dsn": URL},
        passed=False,
        reason=f"expected 'a different answer', got 'key {KEY}'",
        error=f"ConnectionError: cannot reach {URL}",
        traceback=f"Traceback (most recent call last):\nConnectionError: cannot reach {URL} with key {KEY}\n",
        latency_ms=1.0,
    )
    return RunReport(
        id=run_id,
        started_at="2024-05-01T12:00:00.000+00:00",
        finished_at="2024-05-01T12:00:01.000+00:00",
        suite="evals",
        suite_hash="0" * 64,
        target=None,
        concurrency=1,
        results=[result],
    )


def test_runs_stored_or_written_by_an_older_casebank_are_redacted_when_read_back(
    tmp_path: Path, db: Path, cases: Cases
) -> None:
    with open_store(db, create=True) as store:
        record(store, _older_run("0dd5ab1e0001"))
    (tmp_path / "old.json").write_bytes(orjson.dumps(report_dict(_older_run("f11e00000002"))))

    shown = {
        "stored, html": cases("report", "0dd5ab1e0001", "--format", "html"),
        "stored, json": cases("report", "0dd5ab1e0001", "--format", "json"),
        "file, markdown": cases("report", "old.json", "--format", "markdown"),
        "file, json": cases("report", "old.json", "--format", "json"),
    }

    for where, result in shown.items():
        assert result.code == 0, (where, result.err)
        assert_no_secret(where, result.out)
    read = orjson.loads(shown["file, json"].out)["results"][0]
    assert read["output"] == {
        "answer": "key [REDACTED:openai_key]",
        "dsn": "postgres://app:[REDACTED:password]@db/prod",
    }
    assert read["error"] == "ConnectionError: cannot reach postgres://app:[REDACTED:password]@db/prod"
    assert read["reason"] == "expected 'a different answer', got 'key [REDACTED:openai_key]'"
    assert "[REDACTED:openai_key]" in read["traceback"]
