"""Promotion: an annotated incident becomes a frozen case only if its grader would have caught it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from casebank.errors import InvalidInput, PromotionRefused, SuiteError, UsageError
from casebank.replay._case import load_case
from casebank.replay._promote import promote, sanity_check
from casebank.store import Incident, Store, open_store

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def flag_trace(
    store: Store, *, output: Any = "We refund within 14 days.", entrypoint: str | None = "support_bot:answer"
) -> Incident:
    """Write one finished trace as the capture writer would, and flag it."""
    span = (
        TRACE_ID,
        "00f067aa0ba902b7",
        None,
        "answer",
        "internal",
        "2024-05-01T12:00:00.000000+00:00",
        1,
        10.0,
        "ok",
        None,
        "{}",
        None,
        "bot",
    )
    trace = (
        TRACE_ID,
        "answer",
        entrypoint,
        orjson.dumps({"question": "How long to return shoes?"}).decode(),
        orjson.dumps(output).decode(),
        "ok",
        None,
        "2024-05-01T12:00:00.000000+00:00",
        1,
        10.0,
        "bot",
        1,
    )
    store.write_spans([span], [trace])
    return store.flag(TRACE_ID, "wrong refund window", flagged_by="ana")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "casebank.db") as s:
        yield s


def annotate(store: Store, incident: Incident, expected: Any, name: str = "exact", **options: Any) -> Incident:
    return store.annotate(incident.id, expected=expected, grader={"name": name, "options": options}, tags=["refunds"])


def test_promote_writes_the_case_and_marks_the_incident(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 30 days.")
    path = promote(store, incident, tmp_path / "evals")
    case = load_case(path)
    assert case.id == incident.id and case.entrypoint == "support_bot:answer"
    assert case.input == {"question": "How long to return shoes?"}
    assert case.expected == "We refund within 30 days." and case.tags == ["refunds"]
    assert case.grader == {"name": "exact", "options": {}}
    assert case.source == {
        "trace_id": TRACE_ID,
        "incident_id": incident.id,
        "reasons": ["wrong refund window"],
        "bad_output": "We refund within 14 days.",
        "error": None,
        "sanity_check": {"expected_passes": True, "bad_output_fails": True, "forced": False},
    }
    promoted = store.get_incident(incident.id)
    assert (promoted.status, promoted.case_id, promoted.case_path) == ("promoted", incident.id, str(path))


@pytest.mark.parametrize(
    ("expected", "grader", "options", "problem"),
    [
        pytest.param("We refund within 14 days.", "exact", {}, "the grader passes the flagged bad output", id="same"),
        pytest.param(
            "we refund within 14 DAYS.",
            "exact",
            {"normalize": "case"},
            "the grader passes the flagged bad output",
            id="normalized-away",
        ),
        pytest.param("refund", "contains", {}, "the grader passes the flagged bad output", id="too-loose"),
        pytest.param(
            "We refund within 30 days.",
            "regex",
            {"pattern": "^30"},
            "the grader fails the expected output",
            id="strict",
        ),
    ],
)
def test_promote_refuses_a_case_its_grader_would_not_catch(
    store: Store, tmp_path: Path, expected: str, grader: str, options: dict[str, Any], problem: str
) -> None:
    incident = annotate(store, flag_trace(store), expected, grader, **options)
    with pytest.raises(PromotionRefused, match="this case would not have caught the incident") as info:
        promote(store, incident, tmp_path / "evals")
    assert problem in str(info.value) and "--force" in str(info.value)
    assert PromotionRefused.exit_code == 1
    assert not (tmp_path / "evals").exists()
    assert store.get_incident(incident.id).status == "annotated"


def test_promote_names_both_problems_when_neither_check_holds(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 30 days.", "regex", pattern="14 days")
    check = sanity_check(incident)
    assert check.holds is False
    with pytest.raises(PromotionRefused) as info:
        promote(store, incident, tmp_path)
    message = str(info.value)
    assert "the grader fails the expected output" in message and "passes the flagged bad output" in message


def test_force_promotes_anyway_and_records_it(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 14 days.")
    case = load_case(promote(store, incident, tmp_path / "evals", force=True))
    assert case.source["sanity_check"] == {"expected_passes": True, "bad_output_fails": False, "forced": True}


def test_force_on_a_sound_case_is_not_recorded_as_forced(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 30 days.")
    case = load_case(promote(store, incident, tmp_path / "evals", force=True))
    assert case.source["sanity_check"]["forced"] is False


def test_structured_output_is_checked_and_frozen_as_json(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store, output={"days": 14, "refund": True}), {"days": 30, "refund": True})
    case = load_case(promote(store, incident, tmp_path / "evals"))
    assert case.expected == {"days": 30, "refund": True}
    assert case.source["bad_output"] == {"days": 14, "refund": True}


def test_a_crashing_grader_fails_the_check_instead_of_raising(store: Store) -> None:
    incident = annotate(store, flag_trace(store), "x")
    incident.grader = {"name": "regex", "options": {"pattern": "x"}}
    incident.expected = object()  # orjson cannot serialise it: the grader crashes
    check = sanity_check(incident)
    assert check.on_expected.passed is False and "crashed" in check.on_expected.reason


@pytest.mark.parametrize(
    ("prepare", "error", "message"),
    [
        pytest.param(lambda s, i: i, UsageError, "has no expected output - run 'cases annotate", id="not-annotated"),
        pytest.param(
            lambda s, i: s.dismiss(annotate(s, i, "ok").id, "dup"), UsageError, "was dismissed", id="dismissed"
        ),
    ],
)
def test_promote_refuses_an_incident_that_is_not_ready(
    store: Store, tmp_path: Path, prepare: Any, error: type[Exception], message: str
) -> None:
    incident = prepare(store, flag_trace(store))
    with pytest.raises(error, match=message):
        promote(store, incident, tmp_path / "evals")
    assert not (tmp_path / "evals").exists()


def test_promote_refuses_an_incident_without_an_entry_point(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store, entrypoint=None), "We refund within 30 days.")
    with pytest.raises(InvalidInput, match="@casebank.trace"):
        promote(store, incident, tmp_path / "evals")


def test_a_promoted_incident_is_frozen_until_its_case_file_is_gone(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 30 days.")
    path = promote(store, incident, tmp_path / "evals")
    with pytest.raises(UsageError, match="already promoted"):
        promote(store, store.get_incident(incident.id), tmp_path / "evals")
    path.unlink()
    assert promote(store, store.get_incident(incident.id), tmp_path / "evals") == path


def test_an_unwritable_suite_leaves_the_incident_annotated(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "We refund within 30 days.")
    (tmp_path / "evals").write_text("a file, not a folder")
    with pytest.raises(SuiteError, match="cannot write case into suite folder"):
        promote(store, incident, tmp_path / "evals" / "sub")
    assert store.get_incident(incident.id).status == "annotated"


# -- graders whose expected value is no example of a good output -----------------------------------


def test_a_pattern_in_expected_is_checked_on_the_bad_output_only_and_recorded_as_such(
    store: Store, tmp_path: Path
) -> None:
    incident = annotate(store, flag_trace(store), r"\b30 days\b", "regex")
    check = sanity_check(incident)
    assert (check.on_expected, check.holds, check.only_bad_output) == (None, True, True)
    assert check.passed_text() == (
        "the grader fails the flagged output; only that half was checked, as there is no good output to grade: "
        "the expected value is the pattern an output must match, not an example of one"
    )
    case = load_case(promote(store, incident, tmp_path / "evals"))
    assert case.source["sanity_check"] == {"expected_passes": None, "bad_output_fails": True, "forced": False}


def test_the_bad_output_must_still_fail_when_only_it_can_be_checked(store: Store, tmp_path: Path) -> None:
    incident = annotate(store, flag_trace(store), "30 days", "not_contains")
    with pytest.raises(PromotionRefused) as info:
        promote(store, incident, tmp_path / "evals")
    assert str(info.value) == (
        f"refused to promote incident {incident.id}: this case would not have caught the incident - the grader "
        "passes the flagged bad output (output does not contain '30 days'); only that half could be checked: the "
        "expected value is the text an output must not contain, not an example of one; change the expected output "
        "or grader with 'cases annotate', or pass --force"
    )


def test_tests_without_a_reference_solution_are_refused_with_the_command_that_adds_one(
    store: Store, tmp_path: Path
) -> None:
    incident = annotate(store, flag_trace(store), "def test_x():\n    assert days() == 30\n", "python_tests")
    check = sanity_check(incident)
    assert check.on_expected is None and not check.only_bad_output and not check.holds
    with pytest.raises(PromotionRefused) as info:
        promote(store, incident, tmp_path / "evals")
    assert str(info.value) == (
        f"refused to promote incident {incident.id}: there is no reference solution to check that the tests pass a "
        f"good answer - add one: cases annotate {incident.id} --grader python_tests --expected-file tests.py "
        "--option solution_file=solution.py (or pass --force to promote it unchecked)"
    )
    case = load_case(promote(store, incident, tmp_path / "evals", force=True))
    assert case.source["sanity_check"] == {"expected_passes": None, "bad_output_fails": True, "forced": True}


def test_an_expected_value_the_grader_cannot_use_fails_the_good_half_with_the_fix(store: Store) -> None:
    incident = annotate(store, flag_trace(store), "(", "regex")  # stored through the API, past annotate's check
    check = sanity_check(incident)
    assert check.on_expected is not None and not check.on_expected.passed
    assert check.problem().startswith(
        r"the grader fails the expected output (grader 'regex' pattern '(' does not compile: missing ), unterminated "
        r"subpattern at position 0 - fix it, e.g. --expected '\d+ days')"
    )


def test_a_grader_whose_reference_crashes_fails_the_check_instead_of_raising(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casebank.replay.graders._text import OneOf

    def broken(self: OneOf, expected: Any) -> Any:
        raise KeyError("first")

    monkeypatch.setattr(OneOf, "reference", broken)
    check = sanity_check(annotate(store, flag_trace(store), ["yes"], "one_of"))
    assert check.on_expected is not None
    assert check.on_expected.reason == "grader 'one_of' crashed: KeyError: 'first'" and not check.holds


def flag_typed_trace(
    store: Store, arguments: dict[str, Any], types: dict[str, Any] | None, entrypoint: str
) -> Incident:
    """A trace whose entry span carries `casebank.input_types`, as capture writes it, flagged and annotated."""
    attributes: dict[str, Any] = {"casebank.root": True, "casebank.entrypoint": entrypoint}
    if types is not None:
        attributes["casebank.input_types"] = orjson.dumps(types).decode()
    span = (TRACE_ID, "00f067aa0ba902b7", None, "answer", "internal", "2024-05-01T12:00:00.000000+00:00", 1, 10.0)
    span += ("ok", None, orjson.dumps(attributes).decode(), None, "bot")
    trace = (TRACE_ID, "answer", entrypoint, orjson.dumps(arguments).decode(), orjson.dumps("14 days").decode())
    trace += ("ok", None, "2024-05-01T12:00:00.000000+00:00", 1, 10.0, "bot", 1)
    store.write_spans([span], [trace])
    incident = store.flag(TRACE_ID, "wrong refund window", flagged_by="ana")
    return annotate(store, incident, "30 days")


def test_promote_carries_the_recorded_types_into_the_case_file(store: Store, tmp_path: Path) -> None:
    types = {"when": "datetime:date", "lines": {"list": "decimal:Decimal"}}
    incident = flag_typed_trace(store, {"when": "2024-05-01", "lines": ["1.5"], "q": "hi"}, types, "support_bot:answer")
    case = load_case(promote(store, incident, tmp_path / "evals"))
    assert case.input_types == types
    assert case.input == {"when": "2024-05-01", "lines": ["1.5"], "q": "hi"}


def test_a_case_of_plain_arguments_has_no_input_types_field(store: Store, tmp_path: Path) -> None:
    incident = flag_typed_trace(store, {"q": "hi"}, None, "support_bot:answer")
    path = promote(store, incident, tmp_path / "evals")
    assert "input_types" not in orjson.loads(path.read_bytes())


@pytest.mark.parametrize(
    ("arguments", "types", "message"),
    [
        pytest.param(
            {"q": "hi", "client": {"$repr": "<OpenAI client at 0x7f00>"}},
            None,
            "could not rebuild argument 'client': it was recorded as its repr '<OpenAI client at 0x7f00>', not as "
            "data - make its type a dataclass or a pydantic model (or give the parameter a type pydantic can "
            "validate), then capture, flag and promote a new trace",
            id="repr",
        ),
        pytest.param(
            {"req": {"id": 1}},
            {"req": "invoice_app_gone.models:Invoice"},
            "could not rebuild argument 'req': its recorded type 'invoice_app_gone.models:Invoice' no longer imports "
            "(ModuleNotFoundError: No module named 'invoice_app_gone') - give the parameter 'req' a type hint in the "
            "entry point, or bring 'invoice_app_gone.models:Invoice' back",
            id="type-no-longer-imports",
        ),
        pytest.param(
            {"when": "next week"},
            {"when": "datetime:date"},
            "could not rebuild argument 'when': it does not validate against its recorded type 'datetime:date': "
            "Input should be a valid date or datetime, input is too short - make the entry point accept the recorded "
            "value (see the case file's input), or promote a new case",
            id="validation-error",
        ),
    ],
)
def test_promote_refuses_an_argument_that_cannot_be_rebuilt_even_with_force(
    store: Store, tmp_path: Path, arguments: dict[str, Any], types: dict[str, Any] | None, message: str
) -> None:
    incident = flag_typed_trace(store, arguments, types, "support_bot:answer")
    with pytest.raises(PromotionRefused) as caught:
        promote(store, incident, tmp_path / "evals", force=True)
    assert str(caught.value) == f"refused to promote incident {incident.id}: {message}"
    assert not (tmp_path / "evals").exists()
    assert store.get_incident(incident.id).status == "annotated"


def test_promote_checks_against_the_entry_points_hints_when_it_imports(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typed_promote_app.py").write_text(
        "import dataclasses\n\n"
        "@dataclasses.dataclass\nclass Req:\n    id: int\n\n"
        "def answer(req: Req) -> str:\n    return str(req.id)\n"
    )
    monkeypatch.chdir(tmp_path)
    incident = flag_typed_trace(store, {"req": {"id": "seven"}}, None, "typed_promote_app:answer")
    try:
        with pytest.raises(PromotionRefused) as caught:
            promote(store, incident, tmp_path / "evals")
    finally:
        sys.modules.pop("typed_promote_app", None)
    assert str(caught.value).startswith(
        f"refused to promote incident {incident.id}: could not rebuild argument 'req': it does not validate against "
        "the entry point's type hint 'typed_promote_app:Req': id: Input should be a valid integer"
    )


def test_promote_leaves_out_the_self_an_older_casebank_recorded(store: Store, tmp_path: Path) -> None:
    arguments = {"self": {"$repr": "<Bot object at 0x7f3a2c1b9d90>"}, "question": "hi"}
    incident = flag_typed_trace(store, arguments, None, "support_bot:Bot.answer")
    case = load_case(promote(store, incident, tmp_path / "evals"))
    assert case.input == {"question": "hi"}
