"""The leakage audit: cases found in what the product sent its models, and in prompt files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

import casebank
from casebank.audit import run_audit
from casebank.errors import InvalidInput
from casebank.store import Store, open_store
from tests.audit.traffic import Traffic, context, make_case, message
from tests.fakes import API_KEY, FakeLLM, fake_llm
from tests.postgres_server import fresh_postgres_store

__all__ = ["fake_llm"]

QUESTION = "How long do I have to return a pair of shoes bought in the sale?"
ANSWER = "You can return sale items within 30 days with the receipt."
# The same, lightly edited as a prompt writer pastes it: capitals, spaces, punctuation, one word.
EDITED_QUESTION = "HOW LONG do I have to return a pair of   boots , bought in the sale"
EDITED_ANSWER = "you can return sale items within 30 days, with the receipt!"
# Of the question's 13 word triples, the three that hold "shoes" are gone.
EDITED_SHARE = round(10 / 13, 3)
CLEAN = "My parcel never arrived and the tracking page shows nothing at all"
SYSTEM = "You are the support bot of Shoe Shop. Be brief, be kind, and quote the policy."


def _sqlite(tmp_path: Path) -> Store:
    return open_store(tmp_path / "casebank.db")


@pytest.fixture(params=[pytest.param(_sqlite, id="sqlite"), pytest.param(fresh_postgres_store, id="postgres")])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    factory: Callable[[Path], Store] = request.param
    with factory(tmp_path) as opened:
        yield opened


def test_a_case_the_product_sends_as_a_few_shot_example_is_found_through_light_edits(
    tmp_path: Path, fake_llm: FakeLLM
) -> None:
    # The real path: the app calls its model through the openai client; capture stores the spans.
    casebank.init(db=tmp_path / "casebank.db", instrument=["openai"])
    client = openai.OpenAI(api_key=API_KEY, base_url=fake_llm.openai_url, max_retries=0)
    shots = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": EDITED_QUESTION},
        {"role": "assistant", "content": EDITED_ANSWER},
    ]

    @casebank.trace
    def answer(question: str) -> str:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[*shots, {"role": "user", "content": question}]
        )
        return str(reply.choices[0].message.content)

    for question in ("Where is my parcel?", "Can I pay by card?", CLEAN):
        answer(question)
    assert casebank.flush()
    cases = [make_case("leaky", QUESTION, ANSWER), make_case("clean", CLEAN, "We will send a new parcel today.")]
    with open_store(tmp_path / "casebank.db") as store:
        trace_ids = [t.trace_id for t in store.recent_traces()][::-1]
        result = run_audit("leakage", context(cases, store, tmp_path))
    assert not result.ok
    assert result.summary.startswith("1 of 2 cases appear in the prompts (traces)")
    assert [(f["case_id"], f["part"], f["containment"]) for f in result.findings] == [
        ("leaky", "input", EDITED_SHARE),
        ("leaky", "expected", 1.0),
    ]
    assert result.findings[0]["where"] == [{"trace_ids": trace_ids, "traces": 3, "containment": EDITED_SHARE}]


def test_a_store_whose_prompts_hold_no_case_passes(store: Store, tmp_path: Path) -> None:
    traffic = Traffic(store)
    shots = [message("user", "Where is my parcel?"), message("assistant", "On its way.")]
    for question in ("Can I pay by card?", QUESTION, CLEAN):  # the cases' questions as users' own words
        traffic(question, system=SYSTEM, messages=shots)
    cases = [make_case("shoes", QUESTION, ANSWER), make_case("parcel", CLEAN, "A new parcel goes out today.")]
    result = run_audit("leakage", context(cases, store, tmp_path))
    assert (result.ok, result.findings) == (True, [])
    assert result.summary == "no case appears in the prompts (traces; 3 distinct prompt texts searched)"


def test_a_case_in_the_system_instructions_or_an_earlier_turn_is_found_on_every_backend(
    store: Store, tmp_path: Path
) -> None:
    traffic = Traffic(store)
    in_system = traffic("Can I pay by card?", system=f"{SYSTEM}\nExample answer: {EDITED_ANSWER}")
    earlier_turn = traffic("And by cash?", messages=[message("user", EDITED_QUESTION), message("assistant", "Yes.")])
    traffic(QUESTION, system=SYSTEM)  # the question as a user's live input: not a prompt
    traffic("Too old to count", system=f"Example: {CLEAN}", days_ago=8)
    cases = [make_case("shoes", QUESTION, ANSWER), make_case("parcel", CLEAN, "A new parcel goes out today.")]
    result = run_audit("leakage", context(cases, store, tmp_path, days=7))
    assert [(f["case_id"], f["part"], f["where"]) for f in result.findings] == [
        ("shoes", "input", [{"trace_ids": [earlier_turn], "traces": 1, "containment": EDITED_SHARE}]),
        ("shoes", "expected", [{"trace_ids": [in_system], "traces": 1, "containment": 1.0}]),
    ]
    wider = run_audit("leakage", context(cases, store, tmp_path, days=9))
    assert {f["case_id"] for f in wider.findings} == {"shoes", "parcel"}


def test_the_trace_a_case_was_promoted_from_is_not_a_leak(store: Store, tmp_path: Path) -> None:
    traffic = Traffic(store)
    own = traffic("And by cash?", messages=[message("user", QUESTION), message("assistant", "Yes.")])
    cases = [make_case("shoes", QUESTION, ANSWER, trace_id=own)]
    assert run_audit("leakage", context(cases, store, tmp_path)).findings == []
    other = traffic("And by card?", messages=[message("user", QUESTION), message("assistant", "Yes.")])
    found = run_audit("leakage", context(cases, store, tmp_path)).findings
    assert [f["where"] for f in found] == [[{"trace_ids": [other], "traces": 1, "containment": 1.0}]]


def test_prompt_files_are_searched_and_a_match_is_told_as_file_and_line(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    (prompts / "old").mkdir(parents=True)
    lines = [SYSTEM, "", "Examples:", "", "Q: Where is my parcel?", "A: On its way.", "", "Q: " + EDITED_QUESTION]
    lines += ["A: " + EDITED_ANSWER[:26], EDITED_ANSWER[26:], "", "Never promise refunds outside the policy."]
    (prompts / "support.txt").write_text("\n".join(lines) + "\n")
    (prompts / "old" / "triage.md").write_text(f"# Triage\n\nSort tickets.\nA ticket like: {CLEAN}\n")
    (prompts / "unrelated.txt").write_text("Nothing from the suite here at all, only a greeting for everyone.\n")
    cases = [make_case("shoes", QUESTION, ANSWER), make_case("parcel", CLEAN), make_case("card", "Can I pay by card?")]
    result = run_audit("leakage", context(cases, None, tmp_path, prompts="prompts/**/*.*"))
    assert not result.ok
    assert [(f["case_id"], f["part"], f["where"]) for f in result.findings] == [
        ("parcel", "input", [{"file": "prompts/old/triage.md", "line": 4, "containment": 1.0}]),
        ("shoes", "input", [{"file": "prompts/support.txt", "line": 8, "containment": EDITED_SHARE}]),
        ("shoes", "expected", [{"file": "prompts/support.txt", "line": 9, "containment": 1.0}]),
    ]
    assert result.summary.startswith("2 of 3 cases appear in the prompts (files matching prompts/**/*.*)")


def test_a_prompts_pattern_that_matches_no_file_is_refused_saying_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    with pytest.raises(InvalidInput) as refused:
        run_audit("leakage", context([make_case("shoes", QUESTION)], None, tmp_path, prompts="prompt/*.txt"))
    assert str(refused.value) == (
        f"--prompts 'prompt/*.txt' matches no file in '{tmp_path.resolve()}' - check the pattern ('**' spans folders)"
    )


def test_short_texts_are_not_compared(tmp_path: Path) -> None:
    (tmp_path / "prompt.txt").write_text("Answer yes or no. Is it in stock? yes\n")
    cases = [make_case("short", "Is it in stock?", "yes")]
    result = run_audit("leakage", context(cases, None, tmp_path, prompts="prompt.txt"))
    assert (result.ok, result.findings) == (True, [])


def test_without_a_store_or_prompt_files_the_audit_is_skipped_saying_why(tmp_path: Path) -> None:
    result = run_audit("leakage", context([make_case("shoes", QUESTION)], None, tmp_path))
    assert (result.ok, result.skipped) == (True, "no store and no --prompts")
    assert result.summary == "skipped: no store to read traces from and no --prompts GLOB"
