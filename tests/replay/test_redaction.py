"""What a run keeps of what the code produced: graded raw, kept redacted (issue 18).

The CLI's view (store bytes, every report file) is tests/cli/test_run_redaction.py; here, the
runner in this process: batched graders, `on_result`, the project config and `redact=`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casebank.capture._redact import redact
from casebank.replay import CaseResult, run_suite
from casebank.replay._redaction import redact_output, result_redactor
from tests.fakes_openai_compat import FakeCompat

if TYPE_CHECKING:
    from tests.replay.conftest import Project

KEY = "sk-proj-" + "Z9y8X7w6" * 4
BOT = f"""
def answer(question):
    return "Use {KEY} to call support, or mail bob.stone@example.org"

def card(question):
    return 4111111111111111
"""


def test_an_output_is_redacted_as_its_json_text_and_kept_as_it_was_when_clean() -> None:
    clean = {"answer": "We refund within 30 days.", "items": [1, 2.5, None]}

    assert redact_output(clean, redact) is clean
    assert redact_output(None, redact) is None and redact_output(True, redact) is True
    assert redact_output({"password": "p4ssw0rd-plain", "n": 1}, redact) == {"password": "[REDACTED:password]", "n": 1}
    assert redact_output([f"token {KEY}"], redact) == ["token [REDACTED:openai_key]"]
    # a number that is a card number leaves no JSON: the redacted text stands for it
    assert redact_output(4111111111111111, result_redactor(["card"])) == "[REDACTED:card]"


def test_the_project_configs_redactors_apply_to_results_and_on_result_sees_them_redacted(project: Project) -> None:
    project.write_module(BOT)
    (project.root / "casebank.toml").write_text('redact = ["email", "card"]\n')
    # passes on the raw output only: the grader saw the key and the address
    project.add_case(
        "c1", "answer", {"question": "help"}, r"Use sk-proj-\w{32} to call support, or mail \w+\.\w+@", grader="regex"
    )
    project.add_case("c2", "card", {"question": "card"}, 4111111111111111)
    seen: list[CaseResult] = []

    report = run_suite(project.suite, on_result=seen.append)

    assert [r.status for r in report.results] == ["passed", "passed"]
    c1, c2 = report.results
    assert c1.output == "Use [REDACTED:openai_key] to call support, or mail [REDACTED:email]"
    assert c2.output == "[REDACTED:card]" and c2.expected == 4111111111111111  # the case file's, as written
    assert sorted(r.output for r in seen) == sorted(r.output for r in report.results)


def test_redact_takes_names_and_a_teams_callables_over_the_config(project: Project) -> None:
    project.write_module(BOT)
    (project.root / "casebank.toml").write_text('redact = ["email"]\n')
    project.add_case("c1", "answer", {"question": "help"}, "a different answer")

    report = run_suite(project.suite, redact=[lambda text: text.replace("support", "[REDACTED:team]")])

    [result] = report.results
    assert result.output == "Use [REDACTED:openai_key] to call [REDACTED:team], or mail bob.stone@example.org"
    assert result.reason.startswith(
        "expected 'a different answer', got 'Use [REDACTED:openai_key] to call [REDACTED:team]"
    )


def test_a_batched_grader_grades_the_raw_output_and_its_reason_is_redacted(project: Project, fake: FakeCompat) -> None:
    project.write_module(BOT)
    options = {"base_url": fake.openai_url, "model": "embed-1", "threshold": 0.5}
    project.add_case("e1", "answer", {"question": "help"}, "Call support", grader="embedding", options=options)

    report = run_suite(project.suite, redact=[])

    [request] = fake.on("/v1/embeddings")
    raw = f"Use {KEY} to call support, or mail bob.stone@example.org"
    assert raw in request.body["input"]  # graded as the target returned it
    [result] = report.results
    assert result.output == "Use [REDACTED:openai_key] to call support, or mail bob.stone@example.org"
    assert KEY not in result.reason
